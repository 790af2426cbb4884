#!/usr/bin/env python
"""Time every voxflow augmentation on a 1×192³ float32 volume, next to TorchIO's equivalent.

Prints one JSON object per line: ``case``, ``unit`` ("s"), ``voxflow`` (median seconds of a call
after warm-up, compiled with ``tf.function``; XLA where the layer uses it; the output stays a
tensor, as TorchIO's stays a torch tensor), ``peer`` (``torchio
<version>`` or null), ``peer_value``, ``speedup`` (peer / voxflow, > 1 means voxflow is faster)
and ``device``; ``voxflow_min``, ``peer_min`` and ``speedup_min`` are the same for the fastest
call of each side (on a shared machine, the slower calls are mostly other users' load). TorchIO is timed on the CPU when installed (``pip install torch torchio``).

Usage:
    python scripts/benchmarks/augmentation.py [--size 192] [--repeats 5] [--cases RandomAffine,RandomMotion]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "platform"))

import numpy as np  # noqa: E402

#: voxflow arguments and the TorchIO transform with matching parameters, per case.
CASES = {
    "RandomFlip": ({"axes": (0, 1, 2), "flip_probability": 1.0}, "RandomFlip", {"axes": (0, 1, 2), "flip_probability": 1.0}),
    "RandomAffine": ({"scales": 0.1, "degrees": 10}, "RandomAffine", {"scales": 0.1, "degrees": 10}),
    "RandomElasticDeformation": ({"num_control_points": 7, "max_displacement": 7.5}, "RandomElasticDeformation",
                                 {"num_control_points": 7, "max_displacement": 7.5}),
    "RandomAnisotropy": ({"downsampling": (1.5, 5.0)}, "RandomAnisotropy", {"downsampling": (1.5, 5.0)}),
    "RandomSwap": ({"patch_size": 15, "num_iterations": 100}, "RandomSwap", {"patch_size": 15, "num_iterations": 100}),
    "RandomBiasField": ({"coefficients": 0.5, "order": 3}, "RandomBiasField", {"coefficients": 0.5, "order": 3}),
    "RandomGamma": ({"log_gamma": 0.3}, "RandomGamma", {"log_gamma": 0.3}),
    "RandomNoise": ({"std": (0, 0.25)}, "RandomNoise", {"std": (0, 0.25)}),
    "RandomIntensityScale": ({"scale": (0.9, 1.1)}, None, {}),
    "RandomIntensityShift": ({"shift": (-0.1, 0.1)}, None, {}),
    "RandomBlur": ({"std": (0, 2)}, "RandomBlur", {"std": (0, 2)}),
    "RandomMotion": ({"degrees": 10, "translation": 10, "num_transforms": 2}, "RandomMotion",
                     {"degrees": 10, "translation": 10, "num_transforms": 2}),
    "RandomGhosting": ({"num_ghosts": (4, 10), "intensity": (0.5, 1)}, "RandomGhosting",
                       {"num_ghosts": (4, 10), "intensity": (0.5, 1)}),
    # one spike on every call on both sides (num_spikes=1 means n ~ U{0, 1} to both: half the calls would do nothing)
    "RandomSpike": ({"num_spikes": (1, 1), "intensity": (1, 3)}, "RandomSpike", {"num_spikes": (1, 1), "intensity": (1, 3)}),
}


def _median_time(fn, repeats: int) -> tuple[float, float]:
    """Median and minimum seconds of ``repeats`` calls of ``fn`` after a warm-up call."""
    fn()  # warm-up: tracing and XLA compilation
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tick)
    return statistics.median(times), min(times)


def _voxflow(case: str, kwargs: dict, volume: np.ndarray, device: str, repeats: int) -> tuple[float, float]:
    import tensorflow as tf  # noqa: PLC0415

    from voxflow.augment.pipeline import build_layer  # noqa: PLC0415

    with tf.device(device):
        layer = build_layer(case, kwargs, seed=0)
        image = tf.constant(volume[None, ..., None])
        def augment(batch: dict) -> tuple:
            out = layer(batch)["image"]
            return out, out[0, 0, 0, 0, 0]

        step = tf.function(augment)
        counter = iter(range(10**6))

        def run() -> None:
            # The output stays a tensor, as in a train step (TorchIO's stays a torch tensor); reading
            # one voxel waits for the computation on any device. `.numpy()` of the whole output
            # would add a 28 MB copy that TorchIO's side does not pay.
            seed = tf.constant([[0, next(counter)]], tf.int64)
            step({"image": image, "seed": seed})[1].numpy()

        return _median_time(run, repeats)


def _torchio(name: str, kwargs: dict, volume: np.ndarray, repeats: int) -> tuple[str, float, float] | None:
    try:
        import torch  # noqa: PLC0415
        import torchio  # noqa: PLC0415
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    transform = getattr(torchio, name)(**kwargs)
    image = torchio.ScalarImage(tensor=torch.from_numpy(volume[None].copy()))
    subject = torchio.Subject(image=image)
    return (f"torchio {torchio.__version__}", *_median_time(lambda: transform(subject), repeats))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print one JSON line per case and device."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args(argv)
    from voxflow.engine.quiet import import_tensorflow_quietly  # noqa: PLC0415

    tf = import_tensorflow_quietly()
    rng = np.random.default_rng(0)
    grid = np.linspace(-1, 1, args.size, dtype=np.float32)
    x, y, z = np.meshgrid(grid, grid, grid, indexing="ij")
    volume = (np.exp(-(x**2 + y**2 + z**2) * 3) + 0.05 * rng.random((args.size,) * 3)).astype(np.float32)
    devices = [("/CPU:0", "cpu")] + [(f"/GPU:{i}", "gpu") for i, _ in enumerate(tf.config.list_physical_devices("GPU"))]
    for case in args.cases.split(","):
        kwargs, peer_name, peer_kwargs = CASES[case]
        peer = _torchio(peer_name, peer_kwargs, volume, args.repeats) if peer_name else None
        for device, label in devices:
            seconds, fastest = _voxflow(case, kwargs, volume, device, args.repeats)
            row = {"case": case, "unit": "s", "voxflow": round(seconds, 4),
                   "peer": peer[0] if peer else None, "peer_value": round(peer[1], 4) if peer else None,
                   "speedup": round(peer[1] / seconds, 2) if peer else None,
                   # the fastest calls: what each side does when other users' load leaves it alone
                   "voxflow_min": round(fastest, 4), "peer_min": round(peer[2], 4) if peer else None,
                   "speedup_min": round(peer[2] / fastest, 2) if peer else None,
                   "device": f"{label} ({os.cpu_count()} cores)" if label == "cpu" else label,
                   "shape": [1, args.size, args.size, args.size, 1]}
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
