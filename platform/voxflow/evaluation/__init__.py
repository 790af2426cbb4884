"""Evaluation: segmentation metrics in NumPy/SciPy (no TensorFlow), with voxel spacing in mm.

See :mod:`voxflow.evaluation.metrics` for the metric table and empty-mask conventions.
"""

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
)

__all__ = [
    "DEFAULT_METRICS",
    "SurfaceDistances",
    "average_surface_distance",
    "dice",
    "evaluate_labels",
    "hausdorff",
    "hausdorff95",
    "jaccard",
    "per_class_dice",
]
