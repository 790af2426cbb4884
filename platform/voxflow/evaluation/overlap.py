"""Overlap metrics on boolean masks and label maps (NumPy only).

Empty masks: both empty → 1 (perfect agreement on "nothing there", as pymia); exactly one empty → 0.
"""

from __future__ import annotations

import numpy as np

from voxflow.evaluation.context import MaskPair, pair_metric
from voxflow.evaluation.masks import as_mask_pair


def overlap_counts(ref: np.ndarray, seg: np.ndarray) -> tuple[int, int, int]:
    """Return ``(tp, fp, fn)`` voxel counts of ``seg`` against ``ref``.

    Args:
        ref: reference mask (anything truthy is foreground).
        seg: segmentation mask of the same shape.

    Raises:
        ValueError: if the shapes differ.
    """
    ref, seg = as_mask_pair(ref, seg)
    tp = int(np.count_nonzero(ref & seg))
    return tp, int(np.count_nonzero(seg)) - tp, int(np.count_nonzero(ref)) - tp


@pair_metric
def dice(pair: MaskPair) -> float:
    """Dice similarity coefficient ``2 TP / (2 TP + FP + FN)`` (spacing is accepted and ignored).

    Returns:
        A value in ``[0, 1]``; 1.0 if both masks are empty, 0.0 if exactly one is.
    """
    tp, fp, fn, _ = pair.counts
    total = 2 * tp + fp + fn
    return 1.0 if total == 0 else 2.0 * tp / total


@pair_metric
def jaccard(pair: MaskPair) -> float:
    """Jaccard index ``TP / (TP + FP + FN)`` = ``D / (2 − D)``; 1.0 both empty, 0.0 one empty."""
    tp, fp, fn, _ = pair.counts
    union = tp + fp + fn
    return 1.0 if union == 0 else tp / union


def per_class_dice(ref_labels: np.ndarray, seg_labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Dice of every class ``0 … num_classes − 1`` between two label maps, in one pass.

    Used for validation logging. Label maps may be integer or float arrays holding integers, of any
    shape (a batch is fine); a trailing channel axis of size 1 on one of them is dropped. Values
    outside ``[0, num_classes)`` are ignored.

    Args:
        ref_labels: reference class indices.
        seg_labels: predicted class indices (e.g. the argmax of the logits).
        num_classes: number of classes ``K``.

    Returns:
        float64 array ``(K,)``: the Dice of each class, NaN for a class absent from both maps.

    Raises:
        ValueError: if the shapes do not match.
    """
    ref, seg = _match_label_shapes(np.asarray(ref_labels), np.asarray(seg_labels))
    ref = np.rint(ref).astype(np.int64).ravel()
    seg = np.rint(seg).astype(np.int64).ravel()
    valid = (ref >= 0) & (ref < num_classes) & (seg >= 0) & (seg < num_classes)
    ref_count = np.bincount(ref[(ref >= 0) & (ref < num_classes)], minlength=num_classes)
    seg_count = np.bincount(seg[(seg >= 0) & (seg < num_classes)], minlength=num_classes)
    same = valid & (ref == seg)
    intersection = np.bincount(ref[same], minlength=num_classes)
    total = (ref_count + seg_count).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2.0 * intersection / total, np.nan)


def _match_label_shapes(ref: np.ndarray, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if ref.shape == seg.shape:
        return ref, seg
    if ref.ndim == seg.ndim + 1 and ref.shape[-1] == 1 and ref.shape[:-1] == seg.shape:
        return ref[..., 0], seg
    if seg.ndim == ref.ndim + 1 and seg.shape[-1] == 1 and seg.shape[:-1] == ref.shape:
        return ref, seg[..., 0]
    raise ValueError(
        f"Expected label maps of the same shape. Received {ref.shape} (reference) and "
        f"{seg.shape} (segmentation)."
    )
