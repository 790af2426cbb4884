"""Foreground masks used to restrict intensity statistics (NiftyNet's ``BinaryMaskingLayer``).

Per channel: ``threshold_plus`` (> 0), ``threshold_minus`` (< 0), ``otsu_plus`` (> Otsu
threshold), ``otsu_minus`` (< Otsu threshold), ``mean_plus`` (> mean); each mask is then dilated
twice and its holes filled. Channels are combined with ``and`` (intersection), ``or`` (union) or
``multi`` (each channel keeps its own mask).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

FOREGROUND_TYPES = ("otsu_plus", "otsu_minus", "threshold_plus", "threshold_minus", "mean_plus")
MULTIMOD_TYPES = ("and", "or", "multi")
_OTSU_BINS = 256


def otsu_threshold(values: np.ndarray, bins: int = _OTSU_BINS) -> float:
    """Otsu's threshold: the histogram cut maximising the between-class variance.

    Args:
        values: intensities (any shape).
        bins: histogram bins.

    Returns:
        The threshold (a bin edge); the minimum value when all values are equal.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return lo
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)[:-1].astype(np.float64)
    weight_high = counts.sum() - weight_low
    sum_low = np.cumsum(counts * centres)[:-1]
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (np.sum(counts * centres) - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[1:-1][int(np.argmax(between))])


def channel_mask(volume: np.ndarray, foreground_type: str = "otsu_plus") -> np.ndarray:
    """Foreground mask of one 3-D channel (dilated twice, holes filled).

    Args:
        volume: ``(X, Y, Z)`` intensities.
        foreground_type: one of :data:`FOREGROUND_TYPES`.

    Returns:
        Boolean ``(X, Y, Z)`` mask (may be empty).
    """
    if foreground_type == "threshold_plus":
        mask = volume > 0
    elif foreground_type == "threshold_minus":
        mask = volume < 0
    elif foreground_type in ("otsu_plus", "otsu_minus"):
        threshold = otsu_threshold(volume) if np.any(volume) else 0.0
        mask = volume > threshold if foreground_type == "otsu_plus" else volume < threshold
    elif foreground_type == "mean_plus":
        mask = volume > float(np.mean(volume, dtype=np.float64))
    else:
        raise ValueError(
            f"unknown foreground_type {foreground_type!r}; expected one of {FOREGROUND_TYPES}"
        )
    if mask.any():
        mask = ndimage.binary_dilation(mask, iterations=2)
        mask = ndimage.binary_fill_holes(mask)
    return mask


def foreground_masks(
    volume: np.ndarray, foreground_type: str = "otsu_plus", multimod_type: str = "and"
) -> np.ndarray:
    """Per-channel foreground masks of a ``(X, Y, Z, C)`` volume, combined across channels.

    Args:
        volume: ``(X, Y, Z, C)`` intensities.
        foreground_type: one of :data:`FOREGROUND_TYPES`.
        multimod_type: ``and``, ``or`` or ``multi`` (see the module docstring).

    Returns:
        Boolean ``(X, Y, Z, C)`` masks; with ``and``/``or`` every channel holds the same mask.
    """
    if multimod_type not in MULTIMOD_TYPES:
        raise ValueError(f"unknown multimod_foreground_type {multimod_type!r}")
    masks = np.stack(
        [channel_mask(volume[..., c], foreground_type) for c in range(volume.shape[-1])], axis=-1
    )
    if multimod_type == "and":
        masks[:] = np.all(masks, axis=-1, keepdims=True)
    elif multimod_type == "or":
        masks[:] = np.any(masks, axis=-1, keepdims=True)
    return masks
