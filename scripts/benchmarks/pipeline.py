"""Benchmark: training windows/s of the sampler alone with augmentation on, voxflow vs a TorchIO Queue.

Four in-memory volumes of 160×192×160 (image + label map), 64³ windows, 4 windows per volume
visit, batches of 4, two CPU workers each. Transforms, with the same parameters on both sides:
flip (all axes, p 0.5 each), affine (scales 0.1, degrees 10), elastic (7 control points, 7.5 mm),
bias field (0.5, order 3), noise (std 0–0.25); labels are resampled by nearest neighbour.

- voxflow: ``UniformSampler`` (windows larger by the augmentation margin, 2 parallel calls,
  shuffle buffer 16) → batch → ``Augmentation`` under ``tf.function`` on the batch (what the train
  step does; warps XLA-compiled), cropped back to 64³, pulled to NumPy.
- TorchIO: ``SubjectsDataset`` with ``Compose`` of ``RandomFlip``, ``RandomAffine``,
  ``RandomElasticDeformation``, ``RandomBiasField``, ``RandomNoise`` → ``Queue`` (max length 16,
  4 samples per volume, ``UniformSampler(64)``, 2 workers) → ``DataLoader`` (batch 4). TorchIO
  transforms whole volumes and then cuts patches: that is how its Queue works.

Rates are measured over ``--seconds`` after a warm-up (tracing, XLA, first queue fill), each
framework in its own process. Run:
``.venv/bin/python scripts/benchmarks/pipeline.py [--quick] [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

BATCH = 4
PER_VOLUME = 4
NUM_VOLUMES = 4
#: (voxflow name, kwargs, TorchIO name, kwargs)
TRANSFORMS = [
    ("RandomFlip", {"axes": (0, 1, 2), "flip_probability": 0.5}, "RandomFlip",
     {"axes": (0, 1, 2), "flip_probability": 0.5}),
    ("RandomAffine", {"scales": 0.1, "degrees": 10}, "RandomAffine", {"scales": 0.1, "degrees": 10}),
    ("RandomElasticDeformation", {"num_control_points": 7, "max_displacement": 7.5}, "RandomElasticDeformation",
     {"num_control_points": 7, "max_displacement": 7.5}),
    ("RandomBiasField", {"coefficients": 0.5, "order": 3}, "RandomBiasField", {"coefficients": 0.5, "order": 3}),
    ("RandomNoise", {"std": (0, 0.25)}, "RandomNoise", {"std": (0, 0.25)}),
]


def make_volumes(shape: tuple[int, int, int]) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [{"image": rng.random((*shape, 1), dtype=np.float32),
             "label": rng.integers(0, 4, (*shape, 1)).astype(np.float32)} for _ in range(NUM_VOLUMES)]


def run_voxflow(args: argparse.Namespace) -> dict:
    import tensorflow as tf  # noqa: PLC0415

    from voxflow.augment.pipeline import Augmentation  # noqa: PLC0415
    from voxflow.data.samplers import UniformSampler  # noqa: PLC0415

    window = (args.window,) * 3
    augmentation = Augmentation([(name, kwargs) for name, kwargs, _, _ in TRANSFORMS], seed=0)
    margin = augmentation.margin(window)
    fetch = tuple(w + 2 * m for w, m in zip(window, margin))
    sampler = UniformSampler(make_volumes(tuple(args.shape)), fetch, windows_per_volume=PER_VOLUME,
                             shuffle_buffer=16, num_parallel_calls=2, seed=0)
    ds = sampler.dataset().enumerate().map(
        lambda index, w: {**w, "seed": tf.stack([tf.constant(0, tf.int64), index])})
    iterator = iter(ds.batch(BATCH).prefetch(2))

    @tf.function
    def augment(batch: dict) -> dict:
        out = augmentation(batch, margin=margin)
        return {"image": out["image"], "label": out["label"]}

    def step() -> int:
        out = augment(next(iterator))
        assert out["image"].shape[1:4] == window
        out["image"].numpy(), out["label"].numpy()
        return BATCH

    for _ in range(args.warmup):
        step()
    return {"value": _common.rate(step, args.seconds, 2), "margin": list(margin), "fetch": list(fetch)}


def run_torchio(args: argparse.Namespace) -> dict:
    import torch  # noqa: PLC0415
    import torchio as tio  # noqa: PLC0415

    torch.manual_seed(0)
    subjects = [tio.Subject(image=tio.ScalarImage(tensor=np.moveaxis(v["image"], -1, 0)),
                            label=tio.LabelMap(tensor=np.moveaxis(v["label"], -1, 0)))
                for v in make_volumes(tuple(args.shape))]
    transform = tio.Compose([getattr(tio, name)(**kwargs) for _, _, name, kwargs in TRANSFORMS])
    queue = tio.Queue(tio.SubjectsDataset(subjects, transform=transform), max_length=16,
                      samples_per_volume=PER_VOLUME, sampler=tio.UniformSampler(args.window), num_workers=2,
                      shuffle_subjects=True, shuffle_patches=True, verbose=False)
    loader = torch.utils.data.DataLoader(queue, batch_size=BATCH, num_workers=0)

    def batches():  # noqa: ANN202
        while True:
            yield from loader

    iterator = batches()

    def step() -> int:
        batch = next(iterator)
        assert tuple(batch["image"][tio.DATA].shape[2:]) == (args.window,) * 3
        return len(batch["image"][tio.DATA])

    for _ in range(args.warmup):
        step()
    return {"value": _common.rate(step, args.seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="96×112×96 volumes, 48³ windows, 8 s")
    parser.add_argument("--shape", type=int, nargs=3, default=None, help="volume shape (default 160 192 160)")
    parser.add_argument("--window", type=int, default=None, help="window side (default 64; --quick 48)")
    parser.add_argument("--seconds", type=float, default=None, help="measuring time per framework (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches first")
    parser.add_argument("--worker", choices=("voxflow", "torchio"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.shape is None:
        args.shape = [96, 112, 96] if args.quick else [160, 192, 160]
    if args.window is None:
        args.window = 48 if args.quick else 64
    if args.seconds is None:
        args.seconds = 8.0 if args.quick else 20.0

    if args.worker:
        result = run_voxflow(args) if args.worker == "voxflow" else run_torchio(args)
        print(json.dumps(result), flush=True)
        return

    device = _common.tf_device_name()
    peer = _common.peer_name("torchio")
    common = ["--shape", *map(str, args.shape), "--window", str(args.window), "--seconds", str(args.seconds),
              "--warmup", str(args.warmup)]
    start = time.perf_counter()
    ours = _common.run_worker(__file__, ["--worker", "voxflow", *common])
    theirs = _common.run_worker(__file__, ["--worker", "torchio", *common]) if peer else None
    w = args.window
    _common.emit(f"augmented_sampler_{w}^3", "windows/s", ours and ours["value"], peer, theirs and theirs["value"],
                 device, digits=2, window=[w, w, w], volumes=[NUM_VOLUMES, *args.shape], batch=BATCH,
                 windows_per_volume=PER_VOLUME, transforms=[t[0] for t in TRANSFORMS],
                 voxflow_margin=ours and ours["margin"], wall_s=round(time.perf_counter() - start, 1))


if __name__ == "__main__":
    main()
