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

Run: ``.venv/bin/python scripts/benchmarks/metrics.py [--repeats 2] [--size 256]``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import time
import warnings
from collections.abc import Callable

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--size", type=int, default=256)
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


if __name__ == "__main__":
    main()
