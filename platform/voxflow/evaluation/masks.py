"""Input checks shared by the metrics: boolean mask pairs and voxel spacing."""

from __future__ import annotations

import numpy as np


def as_mask_pair(ref: np.ndarray, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``ref`` and ``seg`` as boolean arrays of one shape (non-zero is foreground).

    Raises:
        ValueError: if the shapes differ.
    """
    ref = np.asarray(ref).astype(bool, copy=False)
    seg = np.asarray(seg).astype(bool, copy=False)
    if ref.shape != seg.shape:
        raise ValueError(
            f"Expected masks of the same shape. Received {ref.shape} (reference) and "
            f"{seg.shape} (segmentation)."
        )
    return ref, seg


def as_spacing(spacing: tuple[float, ...] | None, ndim: int) -> tuple[float, ...]:
    """Return ``spacing`` (mm per voxel along each axis) as ``ndim`` positive floats.

    ``None`` means 1 mm along every axis.

    Raises:
        ValueError: wrong length or a non-positive entry.
    """
    if spacing is None:
        return (1.0,) * ndim
    values = tuple(float(s) for s in np.atleast_1d(np.asarray(spacing, dtype=np.float64)))
    if len(values) != ndim or not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(
            f"Expected a spacing of {ndim} positive values (mm per voxel, one per axis). "
            f"Received {spacing!r}."
        )
    return values
