"""Resampling to a target voxel spacing (``pixdim``) with scipy.ndimage.

The new grid keeps the direction of each voxel axis and the centre of the first voxel; its size
along an axis is ``round(extent / pixdim)`` with ``extent = size * spacing``. New voxel ``j``
sits at old voxel coordinate ``j * pixdim / spacing``, so the inverse samples old voxel ``i`` at
new coordinate ``i * spacing / pixdim``. Axes of size 1 (2-D images) are never resampled.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

_SAME_SPACING = 1e-6


def voxel_spacing(affine: np.ndarray) -> np.ndarray:
    """Voxel sizes (mm) along the three array axes of an affine."""
    return np.linalg.norm(np.asarray(affine, dtype=np.float64)[:3, :3], axis=0)


def resampled_grid(
    shape: Sequence[int], affine: np.ndarray, pixdim: Sequence[float] | None
) -> tuple[tuple[int, int, int], np.ndarray, np.ndarray]:
    """The grid obtained by resampling to ``pixdim``.

    Args:
        shape: spatial shape ``(X, Y, Z)``.
        affine: its 4x4 affine.
        pixdim: target spacing (1 to 3 values, the last repeated); empty/None = unchanged.

    Returns:
        ``(new_shape, new_affine, step)``: ``step[a]`` is the old-voxel distance between two new
        voxels along axis ``a`` (1 where nothing changes).
    """
    shape = tuple(int(s) for s in shape[:3])
    step = np.ones(3)
    if pixdim:
        target = np.array(list(pixdim) + [pixdim[-1]] * (3 - len(pixdim)), dtype=np.float64)[:3]
        if np.any(target <= 0):
            raise ValueError(f"pixdim must be positive, got {tuple(pixdim)}")
        spacing = voxel_spacing(affine)
        for axis in range(3):
            if shape[axis] > 1 and abs(target[axis] - spacing[axis]) > _SAME_SPACING:
                step[axis] = target[axis] / spacing[axis]
    new_shape = tuple(
        max(1, int(round(n / s))) if s != 1 else n for n, s in zip(shape, step, strict=True)
    )
    new_affine = np.array(affine, dtype=np.float64, copy=True)
    new_affine[:3, :3] = new_affine[:3, :3] * step[np.newaxis, :]
    return new_shape, new_affine, step


def resample_array(
    data: np.ndarray, step: Sequence[float], new_shape: Sequence[int], order: int
) -> np.ndarray:
    """Samples ``data`` (X, Y, Z[, C]) at old coordinates ``j * step`` for ``j`` in ``new_shape``.

    Args:
        data: 3-D or 4-D array (channels last, each resampled alone).
        step: old-voxel distance between new voxels, per axis.
        new_shape: output spatial shape.
        order: spline order (0 nearest, 1 linear, 3 cubic).

    Returns:
        The resampled array, same dtype as ``data``; values outside the old grid repeat the
        nearest border voxel.
    """
    step = np.asarray(step, dtype=np.float64)
    new_shape = tuple(int(s) for s in new_shape)
    if np.all(step == 1) and tuple(data.shape[:3]) == new_shape:
        return data
    with warnings.catch_warnings():  # a 1-D matrix is a diagonal one (SciPy's fast path), as meant here
        warnings.filterwarnings("ignore", message="The behavior of affine_transform with a 1-D array")
        if data.ndim == 3:
            return ndimage.affine_transform(
                data, step, output_shape=new_shape, order=int(order), mode="nearest"
            )
        out = np.empty(new_shape + data.shape[3:], dtype=data.dtype)
        for channel in range(data.shape[3]):
            ndimage.affine_transform(
                data[..., channel], step, output_shape=new_shape, output=out[..., channel],
                order=int(order), mode="nearest",
            )
    return out


def inverse_step(step: Sequence[float]) -> np.ndarray:
    """The step that maps a resampled grid back onto the original one."""
    return 1.0 / np.asarray(step, dtype=np.float64)
