"""``net_transform``: apply one augmentation transform to an image file (like ``torchio-transform``).

Example:
    net_transform t1.nii.gz RandomMotion out.nii.gz --seed 42 --kwargs "degrees=10 translation=10"
    net_transform t1.nii.gz random_affine out.nii.gz --label seg.nii.gz --label-output seg_out.nii.gz
    net_transform --list
    net_transform t1.nii.gz --gallery gallery.png

``--help`` and ``--list`` answer without importing TensorFlow. Errors print one line, exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import numpy as np

from voxflow.augment import catalogue
from voxflow.cli.guard import run_guarded
from voxflow.errors import VoxflowError

PROG = "net_transform"


class UsageError(VoxflowError):
    """A bad command line."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Apply one voxflow augmentation transform to an image.",
                                     allow_abbrev=False)
    parser.add_argument("input", nargs="?", help="input image (.nii, .nii.gz, .nrrd, .mha)")
    parser.add_argument("transform", nargs="?", help="transform name, CamelCase or snake_case (see --list)")
    parser.add_argument("output", nargs="?", help="output image")
    parser.add_argument("--kwargs", default="", help='arguments, e.g. "degrees=10 translation=10" or "a=1, b=(1, 2)"')
    parser.add_argument("--seed", type=int, default=None, help="random seed (same seed, same output)")
    parser.add_argument("--label", help="label map transformed with the same parameters")
    parser.add_argument("--label-output", dest="label_output", help="where to write the transformed label map")
    parser.add_argument("--list", action="store_true", help="list every transform and its arguments")
    parser.add_argument("--gallery", metavar="PNG", help="write a grid of slices of INPUT under every transform")
    return parser


def parse_kwargs(text: str) -> dict[str, Any]:
    """``"a=1 b=(1, 2)"`` or ``"a=1, b=2"`` → a dict (spaces between pairs act as commas)."""
    from voxflow.config.kwargs import KwargsType  # noqa: PLC0415
    from voxflow.config.values import InvalidValue, clip_repr  # noqa: PLC0415

    pairs, depth, current = [], 0, ""
    for char in text:
        depth += char in "([" and 1 or 0
        depth -= char in ")]" and 1 or 0
        if char in " ,\t" and depth == 0:
            if current:
                pairs.append(current)
            current = ""
            continue
        current += char
    if current:
        pairs.append(current)
    merged: list[str] = []
    for part in pairs:  # "a= 1" → "a=1"
        if merged and (merged[-1].endswith("=") or part.startswith("=")):
            merged[-1] += part
        else:
            merged.append(part)
    try:
        return KwargsType().parse(", ".join(merged), base_dir=".") if merged else {}
    except InvalidValue as err:
        raise UsageError(f"Invalid --kwargs {clip_repr(text)}: {err.detail or 'expected name=value pairs'}.") from None


def _spacing(affine: np.ndarray) -> tuple[float, float, float]:
    return tuple(float(v) for v in np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0)))


def _as_batch(data: np.ndarray) -> np.ndarray:
    data = np.asarray(data, np.float32)
    while data.ndim < 3:
        data = data[..., None]
    if data.ndim == 3:
        data = data[..., None]
    return data[None]


def _layer(name: str, kwargs: dict[str, Any], spacing: tuple[float, ...], seed: int | None) -> Any:
    from voxflow.augment.pipeline import build_layer  # noqa: PLC0415

    return build_layer(catalogue.canonical_name(name) or name, kwargs, spacing, seed)


def _check_outputs(args: argparse.Namespace) -> None:
    """No output may replace an input; a killed run's temporary files next to the outputs go."""
    from voxflow.atomic import clean_leftovers, refuse_replacing_inputs  # noqa: PLC0415

    outputs = [p for p in (args.output, args.label_output, getattr(args, "gallery", None)) if p]
    refuse_replacing_inputs(outputs, [p for p in (args.input, args.label) if p], what="output")
    for folder in {os.path.dirname(os.path.abspath(p)) for p in outputs}:
        clean_leftovers(folder, kinds=("tmp",))


def _run_transform(args: argparse.Namespace) -> None:
    from voxflow.io import read_image, write_image  # noqa: PLC0415

    name = args.transform
    if catalogue.canonical_name(name) is None:
        from voxflow.config.values import clip  # noqa: PLC0415

        near = catalogue.nearest_name(name)
        hint = f" Did you mean '{near}'?" if near else " See --list."
        raise UsageError(f"Unknown transform '{clip(name)}'.{hint}")
    kwargs = parse_kwargs(args.kwargs)
    problem = catalogue.check_arguments(name, kwargs)
    if problem:
        raise UsageError(f"Invalid --kwargs: {problem}.")
    if bool(args.label) != bool(args.label_output):
        raise UsageError("--label and --label-output go together.")
    _check_outputs(args)
    image = read_image(args.input)
    batch = {"image": _as_batch(image.data)}
    if args.label:
        label = read_image(args.label)
        if label.data.shape[:3] != image.data.shape[:3]:
            raise UsageError(f"Label shape {label.data.shape} differs from image shape {image.data.shape}.")
        batch["label"] = _as_batch(label.data)[..., :1]
    from voxflow.engine.quiet import import_tensorflow_quietly  # noqa: PLC0415

    import_tensorflow_quietly()
    layer = _layer(name, kwargs, _spacing(image.affine), args.seed)
    if args.seed is not None:
        batch["seed"] = np.array([[args.seed, 0]], np.int64)
    out = layer(batch)
    squeeze = image.data.ndim == 3
    result = np.asarray(out["image"])[0]
    write_image(args.output, result[..., 0] if squeeze else result, image.affine)
    if args.label:
        write_image(args.label_output, np.rint(np.asarray(out["label"])[0, ..., 0]).astype(np.int16), image.affine)


def _gallery(args: argparse.Namespace) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    from voxflow.atomic import atomic_path  # noqa: PLC0415
    from voxflow.io import read_image  # noqa: PLC0415

    image = read_image(args.input)
    batch = {"image": _as_batch(image.data)[..., :1], "seed": np.array([[args.seed or 0, 0]], np.int64)}
    from voxflow.engine.quiet import import_tensorflow_quietly  # noqa: PLC0415

    import_tensorflow_quietly()
    names = catalogue.names()
    columns = 5
    rows = (len(names) + 1 + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3 * rows))
    middle = batch["image"].shape[3] // 2
    panels = [("input", batch["image"])]
    for name in names:
        layer = _layer(name, {}, _spacing(image.affine), args.seed)
        panels.append((name, np.asarray(layer(batch)["image"])))
    for axis, (title, volume) in zip(axes.ravel(), panels):
        axis.imshow(np.rot90(volume[0, :, :, middle, 0]), cmap="gray")
        axis.set_title(title, fontsize=8)
    for axis in axes.ravel():
        axis.axis("off")
    figure.tight_layout()
    with atomic_path(args.gallery, suffix=".png") as temporary:
        figure.savefig(temporary, format="png", dpi=80)
    plt.close(figure)


def run(argv: list[str] | None = None) -> int:
    """Run the command; return the exit status."""
    args = _parser().parse_args(argv)
    # ValueError: invalid transform arguments reported by a layer.
    return run_guarded(PROG, lambda: _dispatch(args), debug=getattr(args, "debug", False), user_errors=(ValueError,))


def _dispatch(args: argparse.Namespace) -> int:
    if args.list:
        print("\n".join(catalogue.describe(name) for name in catalogue.names()))
        return 0
    if args.gallery:
        if not args.input:
            raise UsageError("--gallery needs an INPUT image.")
        _gallery(args)
        return 0
    if not (args.input and args.transform and args.output):
        raise UsageError("expected INPUT TRANSFORM OUTPUT (or --list, or INPUT --gallery PNG).")
    _run_transform(args)
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``net_transform``: exits with the status."""
    sys.exit(run(argv))
