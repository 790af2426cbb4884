"""Statistical and size metrics of a mask pair: ICC, probabilistic and Mahalanobis distances,
reference/segmentation volume (mm³) and slice area (mm²)."""

from __future__ import annotations

import math

import numpy as np

from voxflow.evaluation.context import MaskPair, pair_metric, ratio


@pair_metric
def interclass_correlation(pair: MaskPair) -> float:
    """Intraclass correlation of the two binary maps (Gerig et al. 2001, as pymia); NaN if constant."""
    ref, seg = pair.ref.ravel().astype(np.float64), pair.seg.ravel().astype(np.float64)
    n = ref.size
    middle = (ref + seg) / 2.0
    within = (np.square(ref - middle).sum() + np.square(seg - middle).sum()) / n
    between = np.square(middle - middle.mean()).sum() / (n - 1) * 2.0 if n > 1 else 0.0
    return ratio(between - within, between + within)


@pair_metric
def probabilistic_distance(pair: MaskPair) -> float:
    """``Σ|ref − seg| / (2 Σ ref·seg)``; 0.0 both empty, ``inf`` without overlap."""
    tp, fp, fn, _ = pair.counts
    if tp == 0:
        return 0.0 if fp + fn == 0 else math.inf
    return (fp + fn) / (2.0 * tp)


@pair_metric
def mahalanobis_distance(pair: MaskPair) -> float:
    """Mahalanobis distance between the two voxel clouds under their pooled covariance.

    Invariant to the voxel spacing (an affine change of coordinates). 0.0 both empty, ``inf`` one
    empty, NaN when the pooled covariance is singular (e.g. single voxels, a flat mask).
    """
    n_ref, n_seg = int(pair.ref.sum()), int(pair.seg.sum())
    if n_ref == 0 or n_seg == 0:
        return 0.0 if n_ref == n_seg else math.inf
    ref_points, seg_points = np.argwhere(pair.ref).T, np.argwhere(pair.seg).T
    if n_ref < 2 or n_seg < 2:
        return math.nan
    pooled = (n_ref * np.cov(ref_points) + n_seg * np.cov(seg_points)) / (n_ref + n_seg)
    pooled = np.atleast_2d(pooled)
    if np.linalg.matrix_rank(pooled) < pooled.shape[0]:
        return math.nan
    delta = ref_points.mean(axis=1) - seg_points.mean(axis=1)
    return float(math.sqrt(delta @ np.linalg.solve(pooled, delta)))


@pair_metric
def reference_volume(pair: MaskPair) -> float:
    """Reference volume in mm³ (2-D: area in mm²)."""
    return float(pair.ref.sum()) * float(np.prod(pair.spacing))


@pair_metric
def segmentation_volume(pair: MaskPair) -> float:
    """Segmentation volume in mm³ (2-D: area in mm²)."""
    return float(pair.seg.sum()) * float(np.prod(pair.spacing))


def _slice_area(mask: np.ndarray, spacing: tuple[float, ...], index: int | None) -> float:
    if mask.ndim == 2:
        return float(mask.sum()) * spacing[0] * spacing[1]
    index = mask.shape[-1] // 2 if index is None else int(index)
    return float(mask[..., index].sum()) * spacing[0] * spacing[1]


@pair_metric
def reference_area(pair: MaskPair, slice_index: int | None = None) -> float:
    """Reference area in mm² of one slice along the last axis (default the middle one)."""
    return _slice_area(pair.ref, pair.spacing, slice_index)


@pair_metric
def segmentation_area(pair: MaskPair, slice_index: int | None = None) -> float:
    """Segmentation area in mm² of one slice along the last axis (default the middle one)."""
    return _slice_area(pair.seg, pair.spacing, slice_index)


@pair_metric
def centre_of_mass_distance(pair: MaskPair) -> float:
    """Distance in mm between the centres of mass of the reference and the segmentation (NiftyNet's
    ``com_dist``, there in voxels); NaN when either is empty."""
    if not pair.ref.any() or not pair.seg.any():
        return float("nan")
    spacing = np.asarray(pair.spacing, np.float64)
    ref = np.argwhere(pair.ref).mean(axis=0) * spacing
    seg = np.argwhere(pair.seg).mean(axis=0) * spacing
    return float(np.linalg.norm(ref - seg))
