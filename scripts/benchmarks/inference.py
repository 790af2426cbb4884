"""Benchmark: grid (sliding-window) inference of a 3-D U-Net on a 256³ volume, voxflow vs MONAI.

96³ windows, 50 % overlap, Gaussian blending, batches of 2 windows, softmax probabilities of 4
classes stitched into a float32 volume. voxflow: ``GridSampler`` + ``GridAggregator`` with
border = window/4 (step = window/2) and the network under ``tf.function``; MONAI:
``sliding_window_inference(roi_size=96, overlap=0.5, mode="gaussian", sw_batch_size=2)`` with the
matched ``BasicUNet`` (see train_throughput.py) in ``torch.inference_mode``. Each framework runs in
its own fresh process: the network is built and run once on one batch (tracing, allocation), the
RSS high-water mark is reset (Linux ``/proc/self/clear_refs``), then the pass is timed (best of
``--repeats``) and its peak RSS read (``VmHWM``). The input volume exists before the reset in both.

Cases:
- ``grid_inference_<n>^3``: time (``s``), ``voxflow_peak_mib``/``peer_peak_mib`` (RSS high-water
  during the pass) and ``*_extra_mib`` (that peak minus the RSS just before the pass).
- ``stitch_<n>^3``: voxflow's sampler + aggregator only, identity "network", one channel, on a
  512³ volume: time, peak extra memory and that memory as a multiple of the float32 volume.

Run: ``.venv/bin/python scripts/benchmarks/inference.py [--quick] [--size 256] [--stitch-size 512]``.
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

NUM_CLASSES = 4
SW_BATCH = 2
DEPTH = 4


def make_volume(size: int) -> np.ndarray:
    """A smooth random ``(size, size, size, 1)`` float32 volume."""
    rng = np.random.default_rng(0)
    return rng.random((size, size, size, 1), dtype=np.float32)


def measure(run, repeats: int) -> dict:  # noqa: ANN001
    """Time ``run`` (best of ``repeats``) and report the RSS peak during it."""
    before = _common.rss_mib()
    reset = _common.reset_peak_rss()
    seconds = _common.best_time(run, repeats)
    peak = _common.peak_rss_mib()
    return {"seconds": seconds, "peak_mib": round(peak, 1), "extra_mib": round(peak - before, 1),
            "peak_reset": reset}


def run_voxflow(args: argparse.Namespace) -> dict:
    import tensorflow as tf  # noqa: PLC0415

    from voxflow.data.aggregators import GridAggregator  # noqa: PLC0415
    from voxflow.data.samplers import GridSampler  # noqa: PLC0415

    w, border = args.window, args.window // 4
    if args.case == "stitch":
        volume = make_volume(args.stitch_size)
        channels = 1

        def predict(windows: tf.Tensor) -> tf.Tensor:
            return windows
    else:
        from voxflow.networks import UNet  # noqa: PLC0415

        volume = make_volume(args.size)
        channels = NUM_CLASSES
        tf.keras.utils.set_random_seed(0)
        model = UNet(NUM_CLASSES, spatial_dims=3, base_features=args.base_features, depth=DEPTH)

        @tf.function(input_signature=[tf.TensorSpec((None, w, w, w, 1), tf.float32)])
        def predict(windows: tf.Tensor) -> tf.Tensor:
            return tf.nn.softmax(model(windows, training=False), axis=-1)

        predict(tf.zeros((SW_BATCH, w, w, w, 1)))  # build and trace
    result = {}

    def run() -> None:
        sampler = GridSampler(volume.shape, (w, w, w), border=border)
        aggregator = GridAggregator(volume.shape, channels, (w, w, w), border=border, blending="gaussian")
        for batch in sampler.dataset(volume).batch(SW_BATCH):
            aggregator.add(np.asarray(predict(batch["image"])), batch["location"].numpy())
        result["out"] = aggregator.result()
        result["windows"] = len(sampler)

    stats = measure(run, args.repeats)
    out = result.pop("out")
    if args.case == "stitch":  # checked after the peak was read
        result["max_abs_error"] = float(np.max(np.abs(out - volume)))
    return {**stats, **result, "volume_mib": volume.nbytes / 2**20}


def run_monai(args: argparse.Namespace) -> dict:
    import torch  # noqa: PLC0415
    from monai.inferers import sliding_window_inference  # noqa: PLC0415
    from monai.networks.nets import BasicUNet  # noqa: PLC0415

    torch.manual_seed(0)
    device = _common.torch_device()
    f, w = args.base_features, args.window
    net = BasicUNet(spatial_dims=3, in_channels=1, out_channels=NUM_CLASSES,
                    features=(f, 2 * f, 4 * f, 8 * f, 16 * f, f), act="relu", norm="batch", bias=False,
                    dropout=0.0, upsample="deconv").to(device).eval()
    volume = torch.from_numpy(np.moveaxis(make_volume(args.size), -1, 0)[None].copy())

    def predictor(windows: torch.Tensor) -> torch.Tensor:
        return torch.softmax(net(windows), dim=1)

    with torch.inference_mode():
        predictor(torch.zeros((SW_BATCH, 1, w, w, w), device=device))

    def run() -> None:
        with torch.inference_mode():
            out = sliding_window_inference(volume, roi_size=(w, w, w), sw_batch_size=SW_BATCH,
                                           predictor=predictor, overlap=0.5, mode="gaussian",
                                           sw_device=device, device="cpu")
        out.shape  # noqa: B018

    return {**measure(run, args.repeats), "volume_mib": volume.numel() * 4 / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128³ volume, 256³ stitching volume")
    parser.add_argument("--size", type=int, default=None, help="volume side (default 256; --quick 128)")
    parser.add_argument("--stitch-size", type=int, default=None, help="stitching volume (default 512; --quick 256)")
    parser.add_argument("--window", type=int, default=96, help="window side")
    parser.add_argument("--repeats", type=int, default=1, help="timed passes (best is reported)")
    parser.add_argument("--base-features", type=int, default=8, help="U-Net features at full resolution")
    parser.add_argument("--cases", default="grid,stitch", help="comma-separated: grid,stitch")
    parser.add_argument("--worker", choices=("voxflow", "monai"), help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=("grid", "stitch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.size is None:
        args.size = 128 if args.quick else 256
    if args.stitch_size is None:
        args.stitch_size = 256 if args.quick else 512

    if args.worker:
        result = run_voxflow(args) if args.worker == "voxflow" else run_monai(args)
        print(json.dumps(result), flush=True)
        return

    device = _common.tf_device_name()
    peer = _common.peer_name("monai")
    common = ["--size", str(args.size), "--stitch-size", str(args.stitch_size), "--window", str(args.window),
              "--repeats", str(args.repeats), "--base-features", str(args.base_features)]
    w = args.window
    for case in args.cases.split(","):
        start = time.perf_counter()
        ours = _common.run_worker(__file__, ["--worker", "voxflow", "--case", case, *common])
        if case == "grid":
            theirs = _common.run_worker(__file__, ["--worker", "monai", "--case", case, *common]) if peer else None
            _common.emit(
                f"grid_inference_{args.size}^3", "s", ours and ours["seconds"], peer,
                theirs and theirs["seconds"], device, window=[w, w, w], overlap=0.5, blending="gaussian",
                sw_batch_size=SW_BATCH, num_classes=NUM_CLASSES, base_features=args.base_features,
                windows=ours and ours["windows"],
                voxflow_peak_mib=ours and ours["peak_mib"], peer_peak_mib=theirs and theirs["peak_mib"],
                voxflow_extra_mib=ours and ours["extra_mib"], peer_extra_mib=theirs and theirs["extra_mib"],
                memory_ratio=(round(ours["extra_mib"] / theirs["extra_mib"], 2)
                              if ours and theirs and theirs["extra_mib"] > 0 else None),
                volume_mib=ours and ours["volume_mib"], wall_s=round(time.perf_counter() - start, 1))
        else:
            _common.emit(
                f"stitch_{args.stitch_size}^3", "s", ours and ours["seconds"], None, None, device,
                window=[w, w, w], border=w // 4, blending="gaussian", channels=1,
                windows=ours and ours["windows"], max_abs_error=ours and ours["max_abs_error"],
                voxflow_peak_mib=ours and ours["peak_mib"], voxflow_extra_mib=ours and ours["extra_mib"],
                volume_mib=ours and ours["volume_mib"],
                extra_over_volume=ours and round(ours["extra_mib"] / ours["volume_mib"], 2),
                wall_s=round(time.perf_counter() - start, 1))


if __name__ == "__main__":
    main()
