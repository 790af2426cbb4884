"""Benchmark: training windows/s of the same 3-D U-Net in voxflow and in MONAI (Dice + CE, Adam, batch 2).

voxflow: ``voxflow.networks.UNet(num_classes, spatial_dims=3, base_features=f, depth=4)`` (two
conv→BatchNorm→ReLU blocks per level, max-pooling, 2× transposed convolutions, concatenated skips),
``dice_plus_xent_loss``, Adam, the train step compiled with ``tf.function`` (no XLA: it slows conv
nets on CPU). MONAI: ``BasicUNet(features=(f, 2f, 4f, 8f, 16f, f), norm="batch", act="relu",
bias=False)``, the same layout with depth 4; ``DiceCELoss(to_onehot_y=True, softmax=True)`` (CE +
1 − mean non-squared soft Dice, as voxflow), Adam. Both parameter counts are printed.

Cases (one JSON line each):
- ``train_compute_<w>^3``: synthetic in-memory batches (compute only).
- ``train_pipeline_<w>^3``: the data pipeline included (``*_input_wait_fraction``: the share of
  the timed steps spent waiting for the next batch; the target on a GPU is under 5 %). voxflow: ``UniformSampler`` over a few
  in-memory volumes (image + label) → batch → train step; MONAI: ``RandSpatialCropd`` over the same
  volumes in a torch ``DataLoader`` (one worker) → plain tensors (not MetaTensors) → train step.

Each framework runs in its own fresh process, voxflow first (in one process, TensorFlow's and
torch's spinning thread pools slow each other down badly on 2 cores); the rate is batch / median
step time after a warm-up step. Run:
``.venv/bin/python scripts/benchmarks/train_throughput.py [--quick] [--window 96] [--steps 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

NUM_CLASSES = 4
BATCH = 2
DEPTH = 4


def make_volumes(count: int, shape: tuple[int, int, int], seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``count`` random image/label volumes ``(X, Y, Z, 1)`` float32 (labels 0..NUM_CLASSES-1)."""
    rng = np.random.default_rng(seed)
    return [{"image": rng.random((*shape, 1), dtype=np.float32),
             "label": rng.integers(0, NUM_CLASSES, (*shape, 1)).astype(np.float32)} for _ in range(count)]


def build_voxflow(args: argparse.Namespace, case: str) -> tuple:
    import tensorflow as tf  # noqa: PLC0415

    from voxflow.losses import dice_plus_xent_loss  # noqa: PLC0415
    from voxflow.networks import UNet  # noqa: PLC0415

    tf.keras.utils.set_random_seed(0)
    w = args.window
    model = UNet(NUM_CLASSES, spatial_dims=3, base_features=args.base_features, depth=DEPTH)
    model(np.zeros((1, w, w, w, 1), np.float32))
    params = int(sum(np.prod(v.shape) for v in model.trainable_variables))
    optimizer = tf.keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)

    @tf.function
    def train_step(image: tf.Tensor, label: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = dice_plus_xent_loss(label, model(image, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    if case == "compute":
        rng = np.random.default_rng(1)
        image = tf.constant(rng.random((BATCH, w, w, w, 1), dtype=np.float32))
        label = tf.constant(rng.integers(0, NUM_CLASSES, (BATCH, w, w, w, 1)).astype(np.float32))

        def step() -> tuple[int, float]:
            train_step(image, label).numpy()
            return BATCH, 0.0
    else:
        from voxflow.data.samplers import UniformSampler  # noqa: PLC0415

        volumes = make_volumes(args.volumes, tuple(args.volume_shape))
        sampler = UniformSampler(volumes, (w, w, w), windows_per_volume=2, shuffle_buffer=4,
                                 num_parallel_calls=2, seed=0)
        iterator = iter(sampler.dataset().batch(BATCH).prefetch(2))

        def step() -> tuple[int, float]:
            start = time.perf_counter()
            batch = next(iterator)
            waited = time.perf_counter() - start
            train_step(batch["image"], batch["label"]).numpy()
            return BATCH, waited

    return step, params


def build_monai(args: argparse.Namespace, case: str) -> tuple:
    import torch  # noqa: PLC0415
    from monai.losses import DiceCELoss  # noqa: PLC0415
    from monai.networks.nets import BasicUNet  # noqa: PLC0415

    torch.manual_seed(0)
    device = _common.torch_device()
    f, w = args.base_features, args.window
    net = BasicUNet(spatial_dims=3, in_channels=1, out_channels=NUM_CLASSES,
                    features=(f, 2 * f, 4 * f, 8 * f, 16 * f, f), act="relu", norm="batch", bias=False,
                    dropout=0.0, upsample="deconv").to(device)
    params = int(sum(p.numel() for p in net.parameters() if p.requires_grad))
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    net.train()

    def train_step(image: torch.Tensor, label: torch.Tensor) -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(image), label)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    if case == "compute":
        rng = np.random.default_rng(1)
        image = torch.from_numpy(rng.random((BATCH, 1, w, w, w), dtype=np.float32)).to(device)
        label = torch.from_numpy(rng.integers(0, NUM_CLASSES, (BATCH, 1, w, w, w)).astype(np.float32)).to(device)

        def step() -> tuple[int, float]:
            train_step(image, label)
            return BATCH, 0.0
    else:
        from monai.data import DataLoader, Dataset  # noqa: PLC0415
        from monai.transforms import RandSpatialCropd  # noqa: PLC0415

        volumes = make_volumes(args.volumes, tuple(args.volume_shape))
        items = [{"image": np.moveaxis(v["image"], -1, 0), "label": np.moveaxis(v["label"], -1, 0)}
                 for v in volumes] * 1000
        transform = RandSpatialCropd(keys=("image", "label"), roi_size=(w, w, w), random_size=False)
        transform.set_random_state(0)
        loader = DataLoader(Dataset(items, transform), batch_size=BATCH, shuffle=True, num_workers=1,
                            persistent_workers=True, prefetch_factor=2)
        iterator = iter(loader)

        def step() -> tuple[int, float]:
            start = time.perf_counter()
            batch = next(iterator)  # MetaTensors: plain tensors avoid their per-op overhead in the net
            image, label = batch["image"].as_tensor().to(device), batch["label"].as_tensor().to(device)
            waited = time.perf_counter() - start
            train_step(image, label)
            return BATCH, waited

    return step, params


def measure(step, warmup: int, repeats: int) -> tuple[float, float]:  # noqa: ANN001
    """Windows/s of ``step`` (windows / median step time, after ``warmup`` untimed steps) and the
    fraction of the timed steps' time spent waiting for the next batch."""
    for _ in range(warmup):
        step()
    times, total, waited = [], 0.0, 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        count, wait = step()
        elapsed = time.perf_counter() - start
        times.append(elapsed / count)
        total, waited = total + elapsed, waited + wait
    return 1.0 / statistics.median(times), waited / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="48³ windows, 96³ volumes")
    parser.add_argument("--window", type=int, default=None, help="window side (default 96; --quick 48)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per framework (default 3; --quick 4)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (tracing, allocation)")
    parser.add_argument("--base-features", type=int, default=8, help="U-Net features at full resolution")
    parser.add_argument("--volumes", type=int, default=4, help="in-memory volumes of the pipeline case")
    parser.add_argument("--volume-shape", type=int, nargs=3, default=None, help="default: 2 × window per axis")
    parser.add_argument("--cases", default="compute,pipeline", help="comma-separated: compute,pipeline")
    parser.add_argument("--worker", choices=("voxflow", "monai"), help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=("compute", "pipeline"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.window is None:
        args.window = 48 if args.quick else 96
    if args.steps is None:
        args.steps = 4 if args.quick else 3
    if args.volume_shape is None:
        args.volume_shape = [2 * args.window] * 3

    if args.worker:
        build = build_voxflow if args.worker == "voxflow" else build_monai
        step, params = build(args, args.case)
        value, wait = measure(step, args.warmup, args.steps)
        print(json.dumps({"value": value, "input_wait": round(wait, 4), "params": params}), flush=True)
        return

    device = _common.tf_device_name()
    peer = _common.peer_name("monai")
    w = args.window
    for case in args.cases.split(","):
        start = time.perf_counter()
        common = ["--case", case, "--window", str(w), "--steps", str(args.steps), "--warmup", str(args.warmup),
                  "--base-features", str(args.base_features), "--volumes", str(args.volumes),
                  "--volume-shape", *map(str, args.volume_shape)]
        ours = _common.run_worker(__file__, ["--worker", "voxflow", *common]) or {}
        theirs = (_common.run_worker(__file__, ["--worker", "monai", *common]) if peer else None) or {}
        _common.emit(
            f"train_{case}_{w}^3", "windows/s", ours.get("value"), peer, theirs.get("value"), device,
            window=[w, w, w], batch=BATCH, timed_steps=args.steps, base_features=args.base_features, depth=DEPTH,
            voxflow_params=ours.get("params"), peer_params=theirs.get("params"),
            voxflow_input_wait_fraction=ours.get("input_wait"), peer_input_wait_fraction=theirs.get("input_wait"),
            volumes=None if case == "compute" else [args.volumes, *args.volume_shape],
            wall_s=round(time.perf_counter() - start, 1))


if __name__ == "__main__":
    main()
