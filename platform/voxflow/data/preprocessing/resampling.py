"""Resampling to a target voxel spacing (``pixdim``) with scipy.ndimage.

The new grid keeps the direction of each voxel axis and the centre of the first voxel; its size
along an axis is ``round(extent / pixdim)`` with ``extent = size * spacing``. New voxel ``j``
sits at old voxel coordinate ``j * pixdim / spacing``, so the inverse samples old voxel ``i`` at
new coordinate ``i * spacing / pixdim``. Axes of size 1 (2-D images) are never resampled.

With ``anchor = "world"`` (``[NETWORK] pixdim_grid = world``) the new voxels instead sit where the
world coordinate along each voxel axis is a multiple of ``pixdim`` (the first at or before the first
old voxel, so the whole image is covered): new voxel ``j`` is at old coordinate ``start + j * step``
with ``-step < start <= 0``. Two images of one scene that differ by a crop then share every new voxel
(a 1 mm crop no longer moves a 2 mm grid by half a voxel).
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
    shape: Sequence[int], affine: np.ndarray, pixdim: Sequence[float] | None, anchor: str = "first_voxel"
) -> tuple[tuple[int, int, int], np.ndarray, np.ndarray, np.ndarray]:
    """The grid obtained by resampling to ``pixdim``.

    Args:
        shape: spatial shape ``(X, Y, Z)``.
        affine: its 4x4 affine.
        pixdim: target spacing (1 to 3 values, the last repeated); empty/None = unchanged.
        anchor: ``first_voxel`` (new voxel 0 on old voxel 0) or ``world`` (new voxels on world
            multiples of ``pixdim`` along each voxel axis; see the module docstring).

    Returns:
        ``(new_shape, new_affine, step, start)``: ``step[a]`` is the old-voxel distance between two
        new voxels along axis ``a`` (1 where nothing changes); ``start[a]`` the old-voxel coordinate
        of new voxel 0 (0 unless anchored to the world).
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
    start = np.zeros(3)
    if anchor == "world":
        spacing = voxel_spacing(affine)
        for axis in range(3):
            if step[axis] != 1:
                size = spacing[axis] * step[axis]  # pixdim along this axis
                along = float(np.asarray(affine, np.float64)[:3, 3] @ affine[:3, axis]) / spacing[axis]
                start[axis] = -(along % size) / spacing[axis]  # in (-step, 0]
                if abs(start[axis] + step[axis]) < 1e-6:
                    start[axis] = 0.0
    new_shape = tuple(
        max(1, int(round((n - b) / s))) if s != 1 else n for n, s, b in zip(shape, step, start, strict=True)
    )
    new_affine = np.array(affine, dtype=np.float64, copy=True)
    new_affine[:3, 3] = new_affine[:3, :3] @ start + new_affine[:3, 3]
    new_affine[:3, :3] = new_affine[:3, :3] * step[np.newaxis, :]
    return new_shape, new_affine, step, start


def resample_array(
    data: np.ndarray, step: Sequence[float], new_shape: Sequence[int], order: int,
    start: Sequence[float] | None = None,
) -> np.ndarray:
    """Samples ``data`` (X, Y, Z[, C]) at old coordinates ``start + j * step`` for ``j`` in ``new_shape``.

    Args:
        data: 3-D or 4-D array (channels last, each resampled alone).
        step: old-voxel distance between new voxels, per axis.
        new_shape: output spatial shape.
        order: spline order (0 nearest, 1 linear, 3 cubic).
        start: old coordinate of new voxel 0 per axis (default 0).

    Returns:
        The resampled array, same dtype as ``data``; values outside the old grid repeat the
        nearest border voxel.
    """
    step = np.asarray(step, dtype=np.float64)
    offset = np.zeros(3) if start is None else np.asarray(start, dtype=np.float64)
    new_shape = tuple(int(s) for s in new_shape)
    if np.all(step == 1) and not offset.any() and tuple(data.shape[:3]) == new_shape:
        return data
    if int(order) == 1 and np.issubdtype(data.dtype, np.floating):
        return _linear_separable(data, step, offset, new_shape)
    with warnings.catch_warnings():  # a 1-D matrix is a diagonal one (SciPy's fast path), as meant here
        warnings.filterwarnings("ignore", message="The behavior of affine_transform with a 1-D array")
        if data.ndim == 3:
            return ndimage.affine_transform(
                data, step, offset=offset, output_shape=new_shape, order=int(order), mode="nearest"
            )
        out = np.empty(new_shape + data.shape[3:], dtype=data.dtype)
        for channel in range(data.shape[3]):
            ndimage.affine_transform(
                data[..., channel], step, offset=offset, output_shape=new_shape, output=out[..., channel],
                order=int(order), mode="nearest",
            )
    return out


def _linear_separable(data: np.ndarray, step: np.ndarray, offset: np.ndarray, new_shape: tuple[int, ...]) -> np.ndarray:
    """:func:`resample_array` with ``order = 1`` on floating-point data: trilinear interpolation is the product of
    three 1-D linear interpolations, done one axis at a time on every channel at once (the same values as
    ``ndimage.affine_transform(order=1, mode="nearest")`` up to rounding, ~5× faster on a 4-channel 1 mm brain).
    Coordinates outside the old grid are clamped to it (its border voxels repeat)."""
    out = data
    # the axis that shrinks the array most goes first, so the later passes work on less
    for axis in sorted(range(3), key=lambda a: new_shape[a] / max(data.shape[a], 1)):
        size, new_size = out.shape[axis], new_shape[axis]
        if step[axis] == 1 and offset[axis] == 0 and size == new_size:
            continue
        coords = np.clip(offset[axis] + step[axis] * np.arange(new_size, dtype=np.float64), 0, size - 1)
        low = np.minimum(np.floor(coords).astype(np.intp), max(size - 2, 0))
        weight = (coords - low).astype(out.dtype if out.dtype.itemsize >= 4 else np.float32)
        shape = [1] * out.ndim
        shape[axis] = new_size
        weight = weight.reshape(shape)
        below = np.take(out, low, axis=axis)
        above = np.take(out, np.minimum(low + 1, size - 1), axis=axis)
        above -= below  # in place: no temporaries the size of the output
        above *= weight
        above += below
        out = above
    return out if out is not data else out.copy()


def inverse_step(step: Sequence[float]) -> np.ndarray:
    """The step that maps a resampled grid back onto the original one."""
    return 1.0 / np.asarray(step, dtype=np.float64)
