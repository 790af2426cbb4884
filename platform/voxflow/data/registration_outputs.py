"""Registration outputs on the fixed image's own file grid: the field in world millimetres, and the
moving image and labels warped by it with one interpolation each.

A network predicts ``u`` on the fixed image's *preprocessed* grid, in voxels along that grid's axes
(:mod:`voxflow.layers.warp`). For the outputs, each voxel ``x`` of the fixed *file* grid (world point
``p = A_fixed · x``) gets ``u`` interpolated (linearly) at ``p``'s place on the preprocessed grid and
turned into world millimetres; the moving file's data are then sampled at ``p + u(p)`` through the
moving file's affine: linearly for images, by nearest neighbour for labels, the nearest edge voxel
beyond the moving image's extent. The moving data are read from its file, in its own units (not
whitened), and are resampled once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage


def file_points(shape: Sequence[int], affine: np.ndarray) -> np.ndarray:
    """World points (mm) of every voxel of a grid, ``(X, Y, Z, 3)`` float64."""
    index = np.stack(np.meshgrid(*[np.arange(int(n), dtype=np.float64) for n in shape[:3]], indexing="ij"), -1)
    affine = np.asarray(affine, np.float64)
    return index @ affine[:3, :3].T + affine[:3, 3]


def _sample(data: np.ndarray, points: np.ndarray, affine: np.ndarray, order: int) -> np.ndarray:
    """``data`` ``(X, Y, Z[, C])`` at world ``points`` ``(…, 3)`` through ``affine`` (edge voxels beyond)."""
    inverse = np.linalg.inv(np.asarray(affine, np.float64))
    index = points @ inverse[:3, :3].T + inverse[:3, 3]
    coords = np.moveaxis(index, -1, 0)
    if data.ndim == 3:
        return ndimage.map_coordinates(data, coords, order=order, mode="nearest")
    return np.stack([ndimage.map_coordinates(data[..., c], coords, order=order, mode="nearest")
                     for c in range(data.shape[-1])], axis=-1)


def world_field(displacement: np.ndarray, preprocessed_affine: np.ndarray) -> np.ndarray:
    """A field in voxels along a grid's axes ``(X, Y, Z, D)`` (D = 2: a 2-D field) → world mm ``(X, Y, Z, 3)``."""
    u = np.asarray(displacement, np.float64)
    if u.shape[-1] == 2:
        u = np.concatenate([u, np.zeros_like(u[..., :1])], axis=-1)
    return u @ np.asarray(preprocessed_affine, np.float64)[:3, :3].T


def field_on_file_grid(displacement: np.ndarray, preprocessed_affine: np.ndarray, shape: Sequence[int],
                       affine: np.ndarray) -> np.ndarray:
    """The predicted field (voxels of the preprocessed grid) as world mm on the file grid ``(shape, affine)``."""
    world = world_field(displacement, preprocessed_affine)
    same = tuple(world.shape[:3]) == tuple(int(n) for n in shape[:3]) and np.allclose(preprocessed_affine, affine,
                                                                                      atol=1e-4)
    if same:
        return world.astype(np.float32)
    return _sample(world, file_points(shape, affine), preprocessed_affine, 1).astype(np.float32)


def warp_file_data(data: np.ndarray, moving_affine: np.ndarray, field: np.ndarray | None, fixed_shape: Sequence[int],
                   fixed_affine: np.ndarray, order: int) -> np.ndarray:
    """Moving file ``data`` sampled at ``p + field(p)`` for every point ``p`` of the fixed file grid
    (``field`` None: at ``p``, the moving data merely resampled onto the fixed grid by the affines)."""
    points = file_points(fixed_shape, fixed_affine)
    if field is not None:
        points = points + field
    return _sample(np.asarray(data, np.float32), points, moving_affine, order).astype(np.float32)
