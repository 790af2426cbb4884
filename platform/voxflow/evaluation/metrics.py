"""Segmentation metrics (NumPy/SciPy, 2-D and 3-D, distances in mm) and per-label evaluation.

The registry's ``metric`` family (``[EVALUATION] evaluations``) points here. Every metric has the
signature ``metric(ref, seg, spacing=None) -> float`` on boolean masks (non-zero = foreground);
``dice`` and ``jaccard`` accept and ignore ``spacing``.

=========================  ===============================================  ==========  ==========
metric (registry name)     definition                                       both empty  one empty
=========================  ===============================================  ==========  ==========
dice (``dice``)            2 TP / (2 TP + FP + FN)                          1.0         0.0
jaccard (``jaccard``)      TP / (TP + FP + FN) = D / (2 − D)                1.0         0.0
hausdorff                  max of both directed max surface distances       0.0         inf
hausdorff95                max of both directed 95th percentiles            0.0         inf
average_surface_distance   mean of both directed sets together (ASSD);      0.0         inf
(``average_distance``)     registry name kept from NiftyNet
=========================  ===============================================  ==========  ==========

Surfaces, distances and percentile conventions are detailed in
:mod:`voxflow.evaluation.surface_distance`. ``inf`` (not NaN) marks a structure missed or
hallucinated entirely; summaries over subjects must decide how to aggregate it.

Example:
    >>> rows = evaluate_labels(ref, seg, labels=[1, 2], spacing=(1.0, 1.0, 2.5))
    >>> rows[0]
    {'label': 1, 'dice': 0.91, 'jaccard': 0.83, 'hausdorff95': 2.5, 'average_distance': 0.6}
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from voxflow import registry
from voxflow.evaluation.masks import as_spacing
from voxflow.evaluation.overlap import dice, jaccard, overlap_counts, per_class_dice
from voxflow.evaluation.surface_distance import (
    SurfaceDistances,
    average_surface_distance,
    hausdorff,
    hausdorff95,
    mask_surface,
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
    "mask_surface",
    "overlap_counts",
    "per_class_dice",
    "resolve_metrics",
]

DEFAULT_METRICS = ("dice", "jaccard", "hausdorff95", "average_distance")
"""Metrics of :func:`evaluate_labels` when none are named."""

Metric = Callable[..., float]

# Built-in distance metrics read from one SurfaceDistances per label instead of recomputing it.
_FROM_SURFACES: dict[Metric, Callable[[SurfaceDistances], float]] = {
    hausdorff: SurfaceDistances.hausdorff,
    hausdorff95: SurfaceDistances.hausdorff95,
    average_surface_distance: SurfaceDistances.average,
}


def resolve_metrics(names: Iterable[str]) -> list[tuple[str, Metric]]:
    """Look up metric names in the registry's ``metric`` family.

    Args:
        names: registered names (case-insensitive, e.g. ``"dice"``, ``"average_distance"``) or
            dotted import paths of plugin metrics ``metric(ref, seg, spacing=None) -> float``.

    Returns:
        ``(column name, function)`` pairs in order; the column is the registered spelling (or the
        dotted path as given).

    Raises:
        ValueError: an unknown name, with the nearest registered name suggested.
        voxflow.errors.PluginError: a dotted path that cannot be imported.
    """
    known = registry.names("metric")
    resolved = []
    for name in names:
        canonical = next((k for k in known if k.lower() == str(name).lower()), None)
        if canonical is None and "." not in str(name):
            close = difflib.get_close_matches(str(name).lower(), known, n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ValueError(
                f"Unknown metric {name!r}. Expected one of: {', '.join(known)}, or a dotted import "
                f"path such as my_pkg.metrics.my_metric.{hint}"
            )
        column = canonical or str(name)
        resolved.append((column, registry.resolve("metric", column)))
    return resolved


def evaluate_labels(
    ref: np.ndarray,
    seg: np.ndarray,
    labels: Iterable[int] | None = None,
    spacing: Sequence[float] | None = None,
    metrics: Iterable[str] = DEFAULT_METRICS,
) -> list[dict[str, float | int]]:
    """Evaluate a segmentation label map against a reference, one row per label.

    Each label ``l`` is binarised as ``map == l`` against everything else. Surface distances are
    computed once per label and shared by the distance metrics.

    Args:
        ref: reference label map ``(X, Y)``, ``(X, Y, Z)`` or with a trailing channel of size 1
            (voxflow's ``(X, Y, Z, 1)``), integer or float holding integers.
        seg: segmentation label map of the same shape (a trailing size-1 channel may differ).
        labels: the labels to evaluate; default every non-zero value present in either map.
        spacing: mm per voxel along each spatial axis; default 1 mm.
        metrics: metric names registered in the registry's ``metric`` family (see module table).

    Returns:
        ``[{"label": l, "<metric>": value, ...}, ...]`` in the order of ``labels``.

    Raises:
        ValueError: unknown metric name, mismatched shapes or a spacing of the wrong length.
    """
    resolved = resolve_metrics(metrics)
    ref, seg = _spatial_maps(np.asarray(ref), np.asarray(seg), spacing)
    spacing = as_spacing(spacing, ref.ndim)
    if labels is None:
        present = np.union1d(np.unique(ref), np.unique(seg))
        labels = [v for v in present.tolist() if v != 0]
    rows: list[dict[str, float | int]] = []
    for label in labels:
        ref_mask, seg_mask = ref == label, seg == label
        surfaces = SurfaceDistances(ref_mask, seg_mask, spacing)
        row: dict[str, float | int] = {"label": _as_int(label)}
        for column, metric in resolved:
            reduce = _FROM_SURFACES.get(metric)
            value = reduce(surfaces) if reduce else metric(ref_mask, seg_mask, spacing)
            row[column] = float(value)
        rows.append(row)
    return rows


def _spatial_maps(
    ref: np.ndarray, seg: np.ndarray, spacing: Sequence[float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Drop a trailing channel axis of size 1 so the maps are purely spatial."""
    spatial_ndim = len(spacing) if spacing is not None else None

    def squeeze(array: np.ndarray, other: np.ndarray) -> np.ndarray:
        if array.ndim > 1 and array.shape[-1] == 1:
            if spatial_ndim is not None and array.ndim == spatial_ndim + 1:
                return array[..., 0]
            if spatial_ndim is None and (array.ndim == 4 or array.shape[:-1] == other.shape):
                return array[..., 0]
        return array

    ref, seg = squeeze(ref, seg), squeeze(seg, ref)
    if ref.shape != seg.shape:
        raise ValueError(
            f"Expected label maps of the same shape. Received {ref.shape} (reference) and "
            f"{seg.shape} (segmentation)."
        )
    return ref, seg


def _as_int(label: float | int) -> float | int:
    return int(label) if float(label).is_integer() else label
