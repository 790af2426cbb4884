"""Benchmark: regression inference against segmentation inference of the same network, 256³ volume.

Both run voxflow's inference path for a whole volume (``predict_volume``: grid windows of 96³,
border 24, Gaussian blending, batches of 2) through a 3-D U-Net of the same size (base 8
features, 4 levels) under ``tf.function``, as the two applications compile it: segmentation
returns the softmax of 4 class logits (the probabilities it stitches), regression one linear
channel scaled back to the target's units plus the image (``residual``). Each runs in its own fresh
process after one traced batch; the best of ``--repeats`` passes is reported.

Case ``regression_vs_segmentation_inference_<n>^3``: ``voxflow`` = regression seconds, ``peer`` =
voxflow's segmentation, ``speedup`` = segmentation / regression (the target: regression within
1.1× of segmentation, i.e. speedup ≥ 0.91).

Run: ``.venv/bin/python scripts/benchmarks/regression_inference.py [--quick] [--size 256]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

WINDOW = 96
BATCH = 2
DEPTH = 4
CLASSES = 4


def run_worker(args: argparse.Namespace) -> dict:
    import tensorflow as tf  # noqa: PLC0415

    from voxflow.data.volume_prediction import GridSettings, predict_volume  # noqa: PLC0415
    from voxflow.data.windows import WindowLayout  # noqa: PLC0415
    from voxflow.networks import UNet  # noqa: PLC0415

    tf.keras.utils.set_random_seed(0)
    volume = np.random.default_rng(0).random((args.size,) * 3 + (1,), dtype=np.float32)
    outputs = CLASSES if args.worker == "segmentation" else 1
    model = UNet(outputs, spatial_dims=3, base_features=args.base_features, depth=DEPTH)
    offset, scale = 0.25, 2.0

    @tf.function(reduce_retracing=True)
    def predict(windows: tf.Tensor) -> tf.Tensor:
        logits = tf.cast(model(windows, training=False), tf.float32)
        if args.worker == "segmentation":
            return tf.nn.softmax(logits, axis=-1)
        return (logits + (windows[..., :1] - offset) / scale) * scale + offset

    predict(tf.zeros((BATCH, WINDOW, WINDOW, WINDOW, 1)))  # build and trace
    layout = WindowLayout((WINDOW,) * 3)
    settings = GridSettings(BATCH, (WINDOW // 4,) * 3, "gaussian")
    strategy = tf.distribute.get_strategy()

    def run() -> None:
        predict_volume(volume, predict, layout, outputs, settings, strategy)

    return {"seconds": _common.best_time(run, args.repeats), "device": _common.tf_device_name()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 128³ volume")
    parser.add_argument("--size", type=int, default=None, help="volume side (default 256; --quick 128)")
    parser.add_argument("--repeats", type=int, default=1, help="timed passes (best is reported)")
    parser.add_argument("--base-features", type=int, default=8, help="U-Net features at full resolution")
    parser.add_argument("--worker", choices=("regression", "segmentation"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.size is None:
        args.size = 128 if args.quick else 256
    if args.worker:
        print(json.dumps(run_worker(args)))
        return
    common = ["--size", str(args.size), "--repeats", str(args.repeats), "--base-features", str(args.base_features)]
    regression = _common.run_worker(__file__, ["--worker", "regression", *common])
    segmentation = _common.run_worker(__file__, ["--worker", "segmentation", *common])
    if regression is None or segmentation is None:
        print("regression_inference: a worker failed", file=sys.stderr)
        sys.exit(1)
    _common.emit(f"regression_vs_segmentation_inference_{args.size}^3", "s", regression["seconds"],
                 "voxflow segmentation (4-class softmax)", segmentation["seconds"], regression["device"])


if __name__ == "__main__":
    main()
