"""Agreement with pymia 0.3.4 and DeepMind surface-distance on random 3-D masks (skipped if absent)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from voxflow import registry

pymia_metric = pytest.importorskip("pymia.evaluation.metric")
if not hasattr(np, "in1d"):  # pymia 0.3.4 still calls np.in1d, removed in NumPy 2.4
    np.in1d = np.isin

SPACING = (0.8, 1.1, 2.5)
PYMIA = {  # voxflow name -> (pymia class, kwargs)
    "dice": ("DiceCoefficient", {}), "jaccard": ("JaccardCoefficient", {}),
    "sensitivity": ("Sensitivity", {}), "specificity": ("Specificity", {}), "fallout": ("Fallout", {}),
    "false_negative_rate": ("FalseNegativeRate", {}), "accuracy": ("Accuracy", {}), "precision": ("Precision", {}),
    "tp": ("TruePositive", {}), "fp": ("FalsePositive", {}), "tn": ("TrueNegative", {}), "fn": ("FalseNegative", {}),
    "f_measure": ("FMeasure", {}), "global_consistency_error": ("GlobalConsistencyError", {}),
    "volume_similarity": ("VolumeSimilarity", {}), "rand_index": ("RandIndex", {}),
    "adjusted_rand_index": ("AdjustedRandIndex", {}), "mutual_information": ("MutualInformation", {}),
    "variation_of_information": ("VariationOfInformation", {}), "cohens_kappa": ("CohenKappaCoefficient", {}),
    "auc": ("AreaUnderCurve", {}), "interclass_correlation": ("InterclassCorrelation", {}),
    "probabilistic_distance": ("ProbabilisticDistance", {}), "mahalanobis": ("MahalanobisDistance", {}),
    "hausdorff": ("HausdorffDistance", {}), "hausdorff95": ("HausdorffDistance", {"percentile": 95}),
    "surface_dice": ("SurfaceDiceOverlap", {"tolerance": 1.0}), "surface_overlap": ("SurfaceOverlap", {"tolerance": 1.0}),
    "reference_volume": ("ReferenceVolume", {}), "segmentation_volume": ("PredictionVolume", {}),
}


def _pymia_value(name, ref, seg):
    from pymia.evaluation.metric.base import ConfusionMatrix, Distances  # noqa: PLC0415

    cls, kwargs = PYMIA[name]
    metric = getattr(pymia_metric, cls)(**kwargs)
    metric.confusion_matrix = ConfusionMatrix(seg.astype(np.uint8), ref.astype(np.uint8))
    metric.distances = Distances(seg, ref, SPACING)
    metric.reference, metric.prediction, metric.spacing = ref.astype(np.uint8), seg.astype(np.uint8), SPACING
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(metric.calculate())


@pytest.fixture(scope="module")
def masks():
    rng = np.random.default_rng(7)
    grid = np.indices((18, 16, 12)).astype(np.float64)
    ref = (((grid[0] - 8) / 6) ** 2 + ((grid[1] - 8) / 5) ** 2 + ((grid[2] - 6) / 4) ** 2) <= 1
    seg = ref ^ (rng.random(ref.shape) < 0.05)
    return ref, seg


@pytest.mark.parametrize("name", sorted(PYMIA))
def test_matches_pymia(name, masks):
    ref, seg = masks
    ours = registry.resolve("metric", name)(ref, seg, SPACING)
    assert ours == pytest.approx(_pymia_value(name, ref, seg), rel=1e-6)


def test_matches_deepmind_surface_distance(masks):
    sd = pytest.importorskip("surface_distance")
    from voxflow.evaluation.surface_distance import SurfaceDistances  # noqa: PLC0415

    ref, seg = masks
    reference = sd.compute_surface_distances(ref, seg, SPACING)
    ours = SurfaceDistances(ref, seg, SPACING)
    assert ours.percentile(95) == pytest.approx(sd.compute_robust_hausdorff(reference, 95), rel=1e-6)
    assert ours.surface_dice(1.5) == pytest.approx(sd.compute_surface_dice_at_tolerance(reference, 1.5), rel=1e-6)
    a, b = reference["surfel_areas_gt"], reference["surfel_areas_pred"]
    to_seg, to_ref = sd.compute_average_surface_distance(reference)
    assert ours.average() == pytest.approx((to_seg * a.sum() + to_ref * b.sum()) / (a.sum() + b.sum()), rel=1e-6)
    flat = sd.compute_surface_distances(ref[..., 5], seg[..., 5], SPACING[:2])
    ours2d = SurfaceDistances(ref[..., 5], seg[..., 5], SPACING[:2])
    assert ours2d.surface_dice(1.0) == pytest.approx(sd.compute_surface_dice_at_tolerance(flat, 1.0), rel=1e-6)
