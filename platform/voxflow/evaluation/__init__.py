"""Evaluation: pymia's metric set in NumPy/SciPy (no deep-learning framework), spacing in mm.

Metrics are functions ``metric(ref, seg, spacing=None, **params) -> float`` (names in
:mod:`voxflow.evaluation.catalogue`); :class:`Evaluator` computes chosen metrics per subject and
per label / foreground / connected component; :mod:`voxflow.evaluation.writers` writes CSV,
statistics and console tables. Conventions on empty masks: docs/evaluation.md.
"""

import importlib
from typing import Any

# Names are imported on first use (PEP 562): importing a submodule such as the metric catalogue (which
# config checks read) must not load the evaluator and SciPy's ndimage into every command's start-up.
_SOURCES = {"Evaluator": "evaluator", **{name: "metrics" for name in (
    "DEFAULT_METRICS", "SurfaceDistances", "average_surface_distance", "dice", "evaluate_labels", "hausdorff",
    "hausdorff95", "jaccard", "per_class_dice", "resolve_metrics", "surface_dice", "surface_overlap")}}

__all__ = sorted(_SOURCES)


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f"module 'voxflow.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"voxflow.evaluation.{_SOURCES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCES))
