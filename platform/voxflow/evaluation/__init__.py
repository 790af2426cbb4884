"""Evaluation: pymia's metric set in NumPy/SciPy (no deep-learning framework), spacing in mm.

Metrics are functions ``metric(ref, seg, spacing=None, **params) -> float`` (names in
:mod:`voxflow.evaluation.catalogue`); :class:`Evaluator` computes chosen metrics per subject and
per label / foreground / connected component; :mod:`voxflow.evaluation.writers` writes CSV,
statistics and console tables. Conventions on empty masks: docs/evaluation.md.
"""

from voxflow.evaluation.evaluator import Evaluator
from voxflow.evaluation.metrics import (
    DEFAULT_METRICS,
    SurfaceDistances,
    average_surface_distance,
    dice,
    evaluate_labels,
    hausdorff,
    hausdorff95,
    jaccard,
    per_class_dice,
    resolve_metrics,
    surface_dice,
    surface_overlap,
)

__all__ = [
    "DEFAULT_METRICS",
    "Evaluator",
    "SurfaceDistances",
    "average_surface_distance",
    "dice",
    "evaluate_labels",
    "hausdorff",
    "hausdorff95",
    "jaccard",
    "per_class_dice",
    "resolve_metrics",
    "surface_dice",
    "surface_overlap",
]
