"""Benchmark: 64³ windows per second from the uniform sampler on four 160×192×160 volumes (CPU).

One single-channel image role (``--label`` adds a label role: two windows cut per element),
4 windows per volume visit, shuffle buffer 16, 2 parallel calls, pulled in batches of 4.
Prints one JSON line. Run: ``.venv/bin/python scripts/benchmarks/sampler.py [--seconds 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from voxflow.data.samplers.uniform import UniformSampler  # noqa: E402

SHAPE = (160, 192, 160)
WINDOW = (64, 64, 64)


def measure(seconds: float, with_label: bool = False, batch_size: int = 4) -> float:
    """Windows per second pulled through the sampler's dataset, batched, after a warm-up."""
    rng = np.random.default_rng(0)
    volumes = []
    for _ in range(4):
        volume = {"image": rng.random((*SHAPE, 1), dtype=np.float32)}
        if with_label:
            volume["label"] = rng.integers(0, 4, (*SHAPE, 1)).astype(np.float32)
        volumes.append(volume)
    sampler = UniformSampler(volumes, WINDOW, windows_per_volume=4, shuffle_buffer=16,
                             num_parallel_calls=2, seed=0)
    iterator = iter(sampler.dataset().batch(batch_size))
    for _ in range(5):
        next(iterator)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        next(iterator)
        count += batch_size
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time")
    parser.add_argument("--label", action="store_true", help="also cut a label window")
    args = parser.parse_args()
    rate = measure(args.seconds, args.label)
    print(json.dumps({"case": "uniform_sampler_64^3", "unit": "windows/s", "voxflow": round(rate, 1),
                      "peer": None, "peer_value": None, "speedup": None, "device": "cpu"}))


if __name__ == "__main__":
    main()
