"""Benchmark: Dice, HD95, ASSD and surface Dice on two 256³ label maps at 0.8×0.8×2.0 mm (CPU).

The maps are two overlapping, slightly different ellipsoids with a rough (noisy) boundary, so the
surfaces are large (~10⁵ surfels). Each case is timed as the best of ``--repeats`` runs, next to
pymia 0.3.4 and DeepMind's surface-distance when installed (``pip install .[bench]``), and prints
one JSON object per line: ``case``, ``unit`` (s), ``voxflow`` (its time), ``peer`` (name and
version or null), ``peer_value`` (the peer's time), ``speedup`` (peer / voxflow, >1: voxflow is
faster), ``device``, the two metric values and their relative difference. pymia's distance metrics
include building its ``Distances`` (what any one of them costs alone); ASSD is compared with
surface-distance only, since pymia's ``AverageDistance`` is SimpleITK's voxel-based average
Hausdorff distance, another definition.

A second set of cases meets the metrics as a user does: ``net_evaluate --metrics
hausdorff95,average_distance`` as a whole process (start-up, reading two NIfTI files, three labels)
on **real anatomy**: the CSF / GM / WM labels of the MNI ICBM152 2009a template (the demo's source,
read from the nilearn wheel) and the same labels after a random warp like a demo subject's (10°, 8 % scaling, 3 mm shift, 4 mm
elastic), both resampled to 256³
at 0.7×0.7×1.0 mm, whose folded grey-matter surface is far larger than a smooth shape's. The peer
is a process running pymia's ``SegmentationEvaluator`` with ``HausdorffDistance(95)`` and
``AverageDistance`` on the same files; the HD95 values are compared (pymia's AverageDistance is
another definition). ``--no-real`` skips these cases.

Run: ``.venv/bin/python scripts/benchmarks/metrics.py [--repeats 2] [--size 256] [--no-real]``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import json
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voxflow.evaluation.overlap import dice
from voxflow.evaluation.surface_distance import SurfaceDistances

SPACING = (0.8, 0.8, 2.0)


def make_masks(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping ellipsoids with rough boundaries filling most of a ``size``³ volume."""
    rng = np.random.default_rng(0)
    grid = np.ogrid[:size, :size, :size]
    c = size / 2

    def ellipsoid(shift: tuple[float, float, float], radii: tuple[float, float, float]) -> np.ndarray:
        r = sum(((g - c - s) / (size * q)) ** 2 for g, s, q in zip(grid, shift, radii, strict=True))
        noise = rng.normal(0.0, 0.02, (size, size, size)).astype(np.float32)
        return (r + noise) <= 1.0

    return ellipsoid((0, 0, 0), (0.35, 0.28, 0.40)), ellipsoid((3, -2, 1), (0.34, 0.29, 0.38))


def best_time(function: Callable[[], float], repeats: int) -> tuple[float, float]:
    """``(best seconds, value)`` over ``repeats`` calls."""
    best, value = float("inf"), float("nan")
    for _ in range(repeats):
        start = time.perf_counter()
        value = float(function())
        best = min(best, time.perf_counter() - start)
    return best, value


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def peers(ref: np.ndarray, seg: np.ndarray) -> dict[str, tuple[str, dict[str, Callable[[], float]]]]:
    """Peer callables per case, by peer name (empty if not installed)."""
    found: dict[str, tuple[str, dict[str, Callable[[], float]]]] = {}
    if _version("pymia"):
        if not hasattr(np, "in1d"):  # pymia 0.3.4 calls np.in1d, removed in NumPy 2.4
            np.in1d = np.isin
        from pymia.evaluation.metric import (  # noqa: PLC0415
            DiceCoefficient,
            HausdorffDistance,
            SurfaceDiceOverlap,
        )
        from pymia.evaluation.metric.base import ConfusionMatrix, Distances  # noqa: PLC0415

        def run(metric, attribute):  # noqa: ANN001, ANN202
            def call() -> float:
                setattr(metric, attribute, ConfusionMatrix(seg, ref) if attribute == "confusion_matrix"
                        else Distances(seg, ref, SPACING))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return metric.calculate()
            return call

        found["pymia"] = (f"pymia {_version('pymia')}", {
            "dice": run(DiceCoefficient(), "confusion_matrix"),
            "hausdorff95": run(HausdorffDistance(percentile=95), "distances"),
            "surface_dice@1": run(SurfaceDiceOverlap(tolerance=1.0), "distances"),
        })
    if _version("surface-distance"):
        import surface_distance as sd  # noqa: PLC0415

        def assd() -> float:
            d = sd.compute_surface_distances(ref, seg, SPACING)
            a, b = d["surfel_areas_gt"].sum(), d["surfel_areas_pred"].sum()
            to_seg, to_ref = sd.compute_average_surface_distance(d)
            return (to_seg * a + to_ref * b) / (a + b)

        found["surface-distance"] = (f"surface-distance {_version('surface-distance')}", {
            "hausdorff95": lambda: sd.compute_robust_hausdorff(sd.compute_surface_distances(ref, seg, SPACING), 95),
            "average_distance": assd,
            "surface_dice@1": lambda: sd.compute_surface_dice_at_tolerance(
                sd.compute_surface_distances(ref, seg, SPACING), 1.0),
        })
    return found


REAL_SPACING = (0.7, 0.7, 1.0)
PYMIA_PROCESS = """
import sys, warnings
import numpy as np
np.in1d = np.isin  # pymia 0.3.4 calls np.in1d, removed in NumPy 2.4
import SimpleITK as sitk
from pymia.evaluation.evaluator import SegmentationEvaluator
from pymia.evaluation.metric import AverageDistance, HausdorffDistance
evaluator = SegmentationEvaluator([HausdorffDistance(percentile=95, metric='HDRFDST95'), AverageDistance()],
                                  {1: '1', 2: '2', 3: '3'})
with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    evaluator.evaluate(sitk.ReadImage(sys.argv[2]), sitk.ReadImage(sys.argv[1]), 'brain')
for result in evaluator.results:
    print(result.label, result.metric, repr(float(result.value)))
"""


def real_anatomy_maps(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Tissue labels of the ICBM 2009a template and of a smoothly warped copy, on ``size``³ voxels of
    :data:`REAL_SPACING` centred on the template."""
    from scipy import ndimage  # noqa: PLC0415

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import build_demo_data as demo  # noqa: PLC0415 - the demo's template reader and warps

    t1, gm, wm, _ = demo.read_template(demo.fetch_wheel())
    probabilities = demo.tissue_probabilities(gm, wm, demo.brain_mask_from_tissue(gm, wm))
    rng = np.random.default_rng(0)
    matrix = demo.random_affine(rng, max_translation=3.0)  # the demo subjects' warps (10°, 8 %, 3 mm, 4 mm)
    field = demo.random_displacement(rng, gm.shape, max_displacement=4.0, control_spacing=16)
    warped = demo.warp_volumes(probabilities, matrix, field, order=1, cval=[1.0, 0.0, 0.0, 0.0])
    centre = (np.array(gm.shape, dtype=np.float64) - 1.0) / 2.0
    grid = np.indices((size,) * 3, dtype=np.float32).reshape(3, -1)
    coords = (grid - (size - 1) / 2.0) * np.array(REAL_SPACING, np.float32)[:, None] + centre[:, None]
    return tuple(ndimage.map_coordinates(demo.labels_from_probabilities(p), coords, order=0)
                 .reshape((size,) * 3).astype(np.uint8) for p in (probabilities, warped))


def _process_seconds(command: list[str], repeats: int) -> tuple[float, str]:
    """Best wall-clock seconds of a whole process over ``repeats`` runs, and its last stdout."""
    best, out = float("inf"), ""
    for _ in range(repeats):
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        best, out = min(best, time.perf_counter() - start), result.stdout
    return best, out


def real_anatomy_cases(size: int, repeats: int) -> None:
    """The whole-process ``net_evaluate`` case on real anatomy, next to a pymia process."""
    import nibabel as nib  # noqa: PLC0415

    ref, seg = real_anatomy_maps(size)
    shape = "x".join([str(size)] * 3)
    with tempfile.TemporaryDirectory(prefix="voxflow-bench-") as tmp:
        folders = {name: Path(tmp, name) for name in ("ref", "seg")}
        for folder, data in zip(folders.values(), (ref, seg), strict=True):
            folder.mkdir()
            nib.save(nib.Nifti1Image(data, np.diag([*REAL_SPACING, 1.0])), folder / "brain.nii.gz")
        out = Path(tmp, "voxflow.csv")
        command = [sys.executable, "-c", "from voxflow.cli.evaluate import main; main()", "--ref", str(folders["ref"]),
                   "--seg", str(folders["seg"]), "--metrics", "hausdorff95,average_distance", "--csv", str(out),
                   "--quiet"]
        seconds, _ = _process_seconds(command, repeats)
        with open(out, newline="", encoding="utf-8") as handle:
            ours = {row["LABEL"]: float(row["hausdorff95"]) for row in csv.DictReader(handle)}
        line = {"case": f"net_evaluate_hd95_assd_brain_{shape}_aniso_whole_process", "unit": "s",
                "voxflow": round(seconds, 3), "peer": None, "peer_value": None, "speedup": None, "device": "cpu",
                "voxflow_metric": ours, "peer_metric": None, "values_equal": None}
        if _version("pymia"):
            peer_seconds, text = _process_seconds(
                [sys.executable, "-c", PYMIA_PROCESS, str(folders["ref"] / "brain.nii.gz"),
                 str(folders["seg"] / "brain.nii.gz")], repeats)
            theirs = {label: float(value) for label, metric, value in (row.split() for row in text.splitlines())
                      if metric == "HDRFDST95"}
            line.update(peer=f"pymia {_version('pymia')}", peer_value=round(peer_seconds, 3),
                        speedup=round(peer_seconds / seconds, 2), peer_metric=theirs,
                        values_equal=all(abs(ours[k] - theirs[k]) <= 1e-6 * max(1.0, theirs[k]) for k in theirs))
        print(json.dumps(line), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--no-real", action="store_true", help="skip the whole-process real-anatomy cases")
    args = parser.parse_args()
    ref, seg = make_masks(args.size)
    ours: dict[str, Callable[[], float]] = {
        "dice": lambda: dice(ref, seg),
        "hausdorff95": lambda: SurfaceDistances(ref, seg, SPACING).hausdorff95(),
        "average_distance": lambda: SurfaceDistances(ref, seg, SPACING).average(),
        "surface_dice@1": lambda: SurfaceDistances(ref, seg, SPACING).surface_dice(1.0),
    }
    available = peers(ref, seg)
    shape = "x".join([str(args.size)] * 3)
    for case, function in ours.items():
        seconds, value = best_time(function, args.repeats)
        matched = [(label, table[case]) for label, table in available.values() if case in table] or [(None, None)]
        for peer, peer_function in matched:
            line = {"case": f"{case}_{shape}_aniso", "unit": "s", "voxflow": round(seconds, 4), "peer": peer,
                    "peer_value": None, "speedup": None, "device": "cpu", "voxflow_metric": value,
                    "peer_metric": None, "relative_difference": None}
            if peer_function is not None:
                peer_seconds, peer_value = best_time(peer_function, args.repeats)
                line.update(peer_value=round(peer_seconds, 4), speedup=round(peer_seconds / seconds, 2),
                            peer_metric=float(peer_value),
                            relative_difference=abs(value - peer_value) / max(abs(peer_value), 1e-300))
            print(json.dumps(line), flush=True)
    if not args.no_real:
        real_anatomy_cases(args.size, args.repeats)


if __name__ == "__main__":
    main()
