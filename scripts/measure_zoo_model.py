"""Measure the zoo entry ``brain_tissue_unet`` on real brains it never saw, as a user would meet it.

1. takes the held-out brains of ``scripts/build_tissue_data.py`` (``--data``, built there when missing;
   building needs ``pip install antspyx``): Colin27, the FSL MNI152 brain, the ICBM 2009c brain (1 mm)
   and Colin27 at 2×2×3 mm, each with its classical reference (N4 + Atropos k-means with MRF) and a
   second classical segmentation (Atropos with registered ICBM 2009a priors);
2. installs the entry with ``net_download`` into a temporary ``VOXFLOW_HOME`` (from the zoo shipped in
   this checkout, or ``--zoo-url``);
3. runs ``net_segment inference`` with the installed config on every brain, and on every brain cropped
   by one voxel at the start of each axis;
4. prints JSON: per brain the Dice per tissue against the reference, the two classical methods' Dice
   with each other (the noise floor), the fraction of voxels outside the brain labelled as tissue,
   background holes enclosed by the brain, the white-matter share of the cerebellum (model and
   reference) and the fraction of brain voxels whose label changes with the one-voxel crop.

Usage::

    python scripts/measure_zoo_model.py [--data runs/zoo/data] [--entry brain_tissue_unet]
        [--zoo-url URL] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

REPO_ROOT = Path(__file__).resolve().parent.parent
TISSUES = {"csf": 1, "gm": 2, "wm": 3}
HELD_OUT = ("colin27", "fsl_mni152", "icbm2009c", "colin27_2x2x3")
# Targets of the issue that retrained the entry (Dice against the classical reference, per tissue).
TARGETS = {"csf": 0.60, "gm": 0.85, "wm": 0.88, "outside_tissue_fraction": 0.01, "crop_changed_fraction": 0.03}


def _run(args: list[str], env: dict[str, str]) -> None:
    """Runs a command in a fresh interpreter; raises with its stderr on failure."""
    result = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} ... failed ({result.returncode}):\n{result.stderr[-3000:]}")


def dice(a: np.ndarray, b: np.ndarray, value: int) -> float:
    x, y = a == value, b == value
    total = int(x.sum()) + int(y.sum())
    return round(2.0 * int((x & y).sum()) / total, 4) if total else float("nan")


def cerebellum_box(shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    """Voxels below z = -25 mm and behind y = -45 mm in MNI space (every held-out brain is in MNI
    space): the cerebellum, with little else of the brain."""
    grid = np.indices(shape, dtype=np.float32).reshape(3, -1)
    world = (affine[:3, :3] @ grid + affine[:3, 3:]).reshape(3, *shape)
    return (world[2] < -25.0) & (world[1] < -45.0)


def crop_one_voxel(src: Path, dst: Path) -> None:
    """``src`` without its first voxel along each axis, with the affine that keeps every voxel in place."""
    image = nib.load(src)
    affine = image.affine.copy()
    affine[:3, 3] = affine[:3, :3] @ np.ones(3) + affine[:3, 3]
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj)[1:, 1:, 1:], affine, image.header), dst)


def brain_report(name: str, data: Path, segs: Path) -> dict:
    """Every number of one held-out brain (see the module docstring)."""
    load = lambda path: np.asarray(nib.load(path).dataobj)  # noqa: E731
    image = nib.load(data / f"{name}_T1.nii.gz")
    mask = load(data / f"{name}_mask.nii.gz") > 0
    reference, priors = load(data / f"{name}_kmeans.nii.gz"), load(data / f"{name}_priors.nii.gz")
    model = load(segs / f"{name}_seg.nii.gz").astype(np.uint8)
    cropped = load(segs / f"{name}crop_seg.nii.gz").astype(np.uint8)
    tissue = model > 0
    holes = ndimage.binary_fill_holes(tissue) & ~tissue
    box = cerebellum_box(model.shape, image.affine) & mask
    overlap = model[1:, 1:, 1:]
    changed = (overlap != cropped) & mask[1:, 1:, 1:]
    return {
        "shape": list(model.shape),
        "spacing": [round(float(s), 2) for s in image.header.get_zooms()[:3]],
        "dice": {tissue_name: dice(reference, model, value) for tissue_name, value in TISSUES.items()},
        "noise_floor": {tissue_name: dice(reference, priors, value) for tissue_name, value in TISSUES.items()},
        "volume_ratio": {tissue_name: round(int((model == value).sum()) / max(int((reference == value).sum()), 1), 3)
                         for tissue_name, value in TISSUES.items()},
        "outside_tissue_fraction": round(float((tissue & ~mask).sum() / max(int((~mask).sum()), 1)), 5),
        "background_holes_voxels": int(holes.sum()),
        "background_in_brain_voxels": int((~tissue & mask).sum()),
        "cerebellum_wm_fraction": {"model": round(float((model[box] == 3).sum() / max(int(box.sum()), 1)), 3),
                                   "reference": round(float((reference[box] == 3).sum() / max(int(box.sum()), 1)), 3)},
        "crop_changed_fraction": round(float(changed.sum() / max(int(mask[1:, 1:, 1:].sum()), 1)), 4),
    }


def measure(entry: str, data: Path, work: Path, zoo_url: str | None) -> dict:
    """Installs, infers and scores in ``work``; returns the JSON report."""
    env = {**os.environ, "VOXFLOW_HOME": str(work / "home"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    if zoo_url:
        env["VOXFLOW_ZOO_URL"] = zoo_url
    heldout = data / "heldout"
    inputs, segs = work / "inputs", work / "segmentations"
    inputs.mkdir(parents=True, exist_ok=True)
    for name in HELD_OUT:
        target = inputs / f"{name}_T1.nii.gz"
        if not target.exists():
            os.symlink((heldout / f"{name}_T1.nii.gz").resolve(), target)
        crop_one_voxel(heldout / f"{name}_T1.nii.gz", inputs / f"{name}crop_T1.nii.gz")
    _run(["-m", "voxflow.cli.zoo", "download", "--quiet", entry], env)
    config = work / "home" / "models" / entry / "config.ini"
    start = time.perf_counter()
    _run(["-c", "from voxflow.cli.main import net_segment; net_segment()", "inference", "-c", str(config),
          "--path_to_search", str(inputs), "--save_seg_dir", str(segs)], env)
    seconds = time.perf_counter() - start
    brains = {name: brain_report(name, heldout, segs) for name in HELD_OUT}
    install = json.loads((config.parent / "install.json").read_text(encoding="utf-8"))
    mean = {tissue: round(float(np.mean([b["dice"][tissue] for b in brains.values()])), 4) for tissue in TISSUES}
    floor = {tissue: round(float(np.mean([b["noise_floor"][tissue] for b in brains.values()])), 4)
             for tissue in TISSUES}
    checks = {
        **{f"dice_{tissue}": all(b["dice"][tissue] >= TARGETS[tissue] for b in brains.values()) for tissue in TISSUES},
        "outside_tissue": all(b["outside_tissue_fraction"] < TARGETS["outside_tissue_fraction"] for b in brains.values()),
        "no_background_holes": all(b["background_holes_voxels"] == 0 for b in brains.values()),
        "cerebellar_wm_present": all(b["cerebellum_wm_fraction"]["model"] >= 0.5 * b["cerebellum_wm_fraction"]["reference"]
                                     for b in brains.values()),
        "crop_stable": all(b["crop_changed_fraction"] < TARGETS["crop_changed_fraction"] for b in brains.values()),
    }
    return {"entry": entry, "version": install["version"], "held_out": list(HELD_OUT), "mean_dice": mean,
            "mean_noise_floor": floor, "targets": TARGETS, "checks": checks, "brains": brains,
            "inference_seconds_all_8_volumes": round(seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entry", default="brain_tissue_unet", help="zoo entry ID (default: brain_tissue_unet)")
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "runs" / "zoo" / "data",
                        help="output folder of scripts/build_tissue_data.py (built when missing)")
    parser.add_argument("--zoo-url", default=None, help="zoo to install from (default: this checkout's model_zoo/)")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    if not (args.data / "heldout" / f"{HELD_OUT[-1]}_priors.nii.gz").exists():
        _run([str(REPO_ROOT / "scripts" / "build_tissue_data.py"), "--out", str(args.data)], dict(os.environ))
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        report = measure(args.entry, args.data.resolve(), args.keep.resolve(), args.zoo_url)
    else:
        with tempfile.TemporaryDirectory(prefix="voxflow-measure-") as tmp:
            report = measure(args.entry, args.data.resolve(), Path(tmp), args.zoo_url)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
