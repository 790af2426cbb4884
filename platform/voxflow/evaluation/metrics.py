"""Segmentation metrics (NumPy/SciPy, 2-D and 3-D, distances in mm) and per-label evaluation.

The registry's ``metric`` family (``[EVALUATION] evaluations``) points here. Every metric has the
signature ``metric(ref, seg, spacing=None) -> float`` on boolean masks (non-zero = foreground);
``dice`` and ``jaccard`` accept and ignore ``spacing``.

Every built-in metric and its empty-mask convention are listed in docs/evaluation.md. Names with
a parameter: ``hausdorff<q>`` or ``hausdorff@<q>`` (percentile q, e.g. ``hausdorff95``),
``surface_dice@<mm>`` or ``surface_dice_<mm>mm`` (tolerance, default 1 mm), ``surface_overlap@<mm>``,
``f_measure@<beta>`` (default 1), ``reference_area@<slice>``; the column is the name as written
(lower case).

Surfaces, distances and percentile conventions are detailed in
:mod:`voxflow.evaluation.surface_distance`. ``inf`` (not NaN) marks a structure missed or
hallucinated entirely; summaries over subjects count it separately.

Example:
    >>> rows = evaluate_labels(ref, seg, labels=[1, 2], spacing=(1.0, 1.0, 2.5))
    >>> rows[0]
    {'label': 1, 'dice': 0.91, 'jaccard': 0.83, 'hausdorff95': 2.5, 'average_distance': 0.6}
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import re
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from voxflow import registry
from voxflow.evaluation.catalogue import PARAMETERS
from voxflow.evaluation.context import MaskPair
from voxflow.evaluation.masks import as_spacing
from voxflow.evaluation.overlap import dice, jaccard, overlap_counts, per_class_dice
from voxflow.evaluation.surface_distance import (
    SurfaceDistances,
    average_surface_distance,
    hausdorff,
    hausdorff95,
    mask_surface,
    surface_dice,
    surface_overlap,
)
from voxflow.naming import did_you_mean

_THREADED_VOXELS = 1 << 20
"""Label maps at least this large evaluate their labels in threads (smaller ones gain nothing)."""

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
    "surface_dice",
    "surface_overlap",
]

DEFAULT_METRICS = ("dice", "jaccard", "hausdorff95", "average_distance")
"""Metrics of :func:`evaluate_labels` when none are named."""

Metric = Callable[..., float]

_PARAMETRISED = re.compile(
    r"^(?:(?P<hd>hausdorff)(?P<q>\d+(?:\.\d+)?)"
    r"|(?P<base>[a-z_0-9]+?)(?:@(?P<at>[-+\d.eE]+)|_(?P<mm>\d+(?:\.\d+)?)mm))$"
)


def _parse(name: str, known: list[str]) -> tuple[str, dict[str, float]] | None:
    """``(registered name, params)`` of a parametrised spelling, or None."""
    match = _PARAMETRISED.match(name.lower())
    if match is None:
        return None
    base = "hausdorff" if match["hd"] else match["base"]
    text = match["q"] or match["at"] or match["mm"]
    if base not in PARAMETERS or (match["mm"] and base not in ("surface_dice", "surface_overlap")):
        return None
    target, keyword = PARAMETERS[base]
    try:
        value = float(text)
    except ValueError:
        return None
    if keyword in ("slice_index", "window"):
        if keyword == "window" and (value != int(value) or value < 1 or int(value) % 2 == 0):
            return None  # an SSIM window is an odd number of voxels
        return target, {keyword: int(value)}
    if keyword == "percentile" and not 0 <= value <= 100:
        return None
    return (target if target in known else base), {keyword: value}


def resolve_metrics(names: Iterable[str]) -> list[tuple[str, Metric]]:
    """Look up metric names in the registry's ``metric`` family.

    Args:
        names: registered names (case-insensitive, e.g. ``"dice"``, ``"average_distance"``),
            parametrised names (``"hausdorff99"``, ``"surface_dice@2"``, ``"surface_dice_1mm"``,
            ``"f_measure@0.5"``) or dotted import paths of plugin metrics
            ``metric(ref, seg, spacing=None) -> float``.

    Returns:
        ``(column name, function)`` pairs in order; the column is the registered spelling (or the
        name as given, lower case, for parametrised names; the dotted path as given for plugins).
        A parametrised function is a :func:`functools.partial` of the registered one.

    Raises:
        ValueError: an unknown name, with the nearest registered name suggested.
        voxflow.errors.PluginError: a dotted path that cannot be imported.
    """
    known = registry.names("metric")
    resolved: list[tuple[str, Metric]] = []
    for name in names:
        text = str(name).strip()
        canonical = next((k for k in known if k.lower() == text.lower()), None)
        if canonical is not None:
            resolved.append((canonical, registry.resolve("metric", canonical)))
            continue
        parsed = _parse(text, known)
        if parsed is not None:
            target, params = parsed
            resolved.append((text.lower(), functools.partial(registry.resolve("metric", target), **params)))
            continue
        if "." not in text or "@" in text:
            hint = did_you_mean(text, known, cutoff=0.5)
            raise ValueError(
                f"Unknown metric {text!r}. Expected one of: {', '.join(known)} (parameters as "
                f"hausdorff99, surface_dice@2 or surface_dice_2mm, f_measure@0.5), or a dotted import "
                f"path such as my_pkg.metrics.my_metric.{hint}"
            )
        resolved.append((text, registry.resolve("metric", text)))
    return resolved


def compute_metric(metric: Metric, pair: MaskPair) -> float:
    """Evaluate one resolved metric on a :class:`MaskPair`, reusing its cached statistics."""
    function, params = (metric.func, metric.keywords) if isinstance(metric, functools.partial) else (metric, {})
    compute = getattr(function, "compute", None)
    if compute is not None:
        return float(compute(pair, **params))
    return float(metric(pair.ref, pair.seg, pair.spacing))


def is_continuous(metric: Metric) -> bool:
    """Whether ``metric`` compares intensities of whole images (R², MAE, SSIM, ...)."""
    function = metric.func if isinstance(metric, functools.partial) else metric
    return bool(getattr(function, "continuous", False))


def evaluate_labels(
    ref: np.ndarray,
    seg: np.ndarray,
    labels: Iterable[int] | None = None,
    spacing: Sequence[float] | None = None,
    metrics: Iterable[str] = DEFAULT_METRICS,
) -> list[dict[str, float | int]]:
    """Evaluate a segmentation label map against a reference, one row per label.

    Each label ``l`` is binarised as ``map == l`` against everything else. Counts and surface
    distances are computed once per label and shared by all metrics; continuous metrics (R², SSIM,
    ...) are computed once on the whole maps and repeated in every row.

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
    # continuous metrics on the values themselves; label masks on the values rounded to integers
    whole = {column: float(metric(ref, seg, spacing)) for column, metric in resolved if is_continuous(metric)}
    ref, seg = as_labels(ref), as_labels(seg)
    if labels is None:
        present = np.union1d(present_values(ref), present_values(seg))
        labels = [v for v in present.tolist() if v != 0]

    def row_of(label: float | int) -> dict[str, float | int]:
        pair = MaskPair(ref == label, seg == label, spacing)
        row: dict[str, float | int] = {"label": _as_int(label)}
        for column, metric in resolved:
            row[column] = whole[column] if column in whole else compute_metric(metric, pair)
        return row

    labels = list(labels)
    workers = min(len(labels), os.cpu_count() or 1)
    if workers < 2 or ref.size < _THREADED_VOXELS:
        return [row_of(label) for label in labels]
    # Labels at once on the machine's cores: the masks, surfaces and distance searches are NumPy work
    # that releases the GIL (a 256³ brain's three tissues: 1.4 s → 0.9 s on 2 cores); rows keep their order.
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(row_of, labels))


def present_values(array: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a label map, as :func:`numpy.unique` gives them: counted with
    :func:`numpy.bincount` for 8- and 16-bit integers (no sort of a copy of the whole map: 0.4 s on
    a 256³ map for ``unique``, 0.02 s here)."""
    if array.dtype.kind in "bu" and array.dtype.itemsize <= 2:
        return np.flatnonzero(np.bincount(array.reshape(-1))).astype(array.dtype)
    if array.dtype.kind == "i" and array.dtype.itemsize <= 2:
        low = int(array.min())
        return (np.flatnonzero(np.bincount(array.reshape(-1).astype(np.int32) - low)) + low).astype(array.dtype)
    return np.unique(array)


def as_labels(array: np.ndarray) -> np.ndarray:
    """``array`` as label values: integers unchanged, floats rounded to the nearest integer."""
    return array if array.dtype.kind in "biu" else np.rint(array)


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
