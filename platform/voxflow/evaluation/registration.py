"""Registration metrics in NumPy: Jacobian determinants of a transform, folding, centroid distances,
end-point errors.

Conventions (Learn2Reg and VoxelMorph, ``applications`` docs): the transform is ``φ(p) = p + u(p)``
with ``u`` in world millimetres on a grid with ``affine``; its Jacobian is ``I + ∂u/∂p``, the
derivatives taken by central differences along the voxel axes (one-sided at the edges,
``numpy.gradient``) and carried to world axes through the affine, so oblique and anisotropic grids
are handled. *Folding* is the percentage of voxels (inside a mask, when given) with ``det J ≤ 0``;
``sd_log_jacobian`` is the standard deviation of ``log det J`` with ``det J`` clipped to
``[1e-9, 1e9]`` first (Learn2Reg's ranking metric).
"""

from __future__ import annotations

import numpy as np

JACOBIAN_CLIP = (1e-9, 1e9)


def jacobian_determinant(field: np.ndarray, affine: np.ndarray | None = None) -> np.ndarray:
    """``det(I + ∂u/∂p)`` per voxel of a ``(X, Y, Z, 3)`` (or ``(X, Y, 2)``) field.

    Args:
        field: displacements in world mm (or voxels, with ``affine`` None: unit voxels).
        affine: the grid's 4×4 voxel-to-world affine.
    """
    u = np.asarray(field, np.float64)
    dims = u.shape[-1]
    spatial = u.shape[:-1]
    if len(spatial) == 3 and dims == 3 and spatial[2] == 1:  # a 2-D field stored with Z = 1
        u, dims, affine = u[:, :, 0, :2], 2, None if affine is None else np.asarray(affine)[[0, 1, 3]][:, [0, 1, 3]]
    axes = list(range(dims))
    # gradient along each voxel axis: d[..., i, a] = ∂u_i / ∂index_a
    grads = np.stack([np.stack(np.gradient(u[..., i], axis=axes) if dims > 1 else [np.gradient(u[..., i])], -1)
                      for i in range(dims)], -2)
    if affine is not None:
        linear = np.asarray(affine, np.float64)[:dims, :dims]
        grads = grads @ np.linalg.inv(linear)  # ∂u/∂p = ∂u/∂index · ∂index/∂p
    return np.linalg.det(np.eye(dims) + grads)


def jacobian_statistics(determinant: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
    """``folded_percent``, ``folded_voxels``, ``sd_log_jacobian`` and ``mean_jacobian`` (inside ``mask``)."""
    values = determinant[mask.astype(bool)] if mask is not None else determinant.ravel()
    if values.size == 0:
        return {"folded_percent": float("nan"), "folded_voxels": 0.0, "sd_log_jacobian": float("nan"),
                "mean_jacobian": float("nan")}
    folded = int(np.count_nonzero(values <= 0))
    logs = np.log(np.clip(values, *JACOBIAN_CLIP))
    return {"folded_percent": 100.0 * folded / values.size, "folded_voxels": float(folded),
            "sd_log_jacobian": float(np.std(logs)), "mean_jacobian": float(np.mean(values))}


def centroid(mask: np.ndarray, affine: np.ndarray) -> np.ndarray | None:
    """World centroid (mm) of a mask's voxels, or None for an empty mask."""
    where = np.argwhere(mask)
    if where.size == 0:
        return None
    mean = where.mean(axis=0)
    mean = np.concatenate([mean, np.zeros(3 - mean.size)]) if mean.size < 3 else mean[:3]
    return np.asarray(affine, np.float64)[:3, :3] @ mean + np.asarray(affine, np.float64)[:3, 3]


def centroid_distance(reference: np.ndarray, moved: np.ndarray, affine: np.ndarray) -> float:
    """Distance (mm) between the centroids of two masks on one grid (NaN when either is empty): DeepReg's
    label-centroid TRE, in millimetres."""
    a, b = centroid(reference, affine), centroid(moved, affine)
    return float("nan") if a is None or b is None else float(np.linalg.norm(a - b))


def end_point_error(field: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean Euclidean distance (field units) between two fields, inside ``mask`` when given."""
    error = np.linalg.norm(np.asarray(field, np.float64) - np.asarray(truth, np.float64), axis=-1)
    return float(error[mask.astype(bool)].mean() if mask is not None else error.mean())


def sample_field(field: np.ndarray, affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A ``(X, Y, Z, 3)`` field on the grid of ``affine`` at world ``points`` ``(N, 3)`` (linear; edge values beyond)."""
    from scipy import ndimage  # noqa: PLC0415

    inverse = np.linalg.inv(np.asarray(affine, np.float64))
    index = np.asarray(points, np.float64) @ inverse[:3, :3].T + inverse[:3, 3]
    return np.stack([ndimage.map_coordinates(np.asarray(field[..., a], np.float64), index.T, order=1, mode="nearest")
                     for a in range(3)], axis=-1)


def landmark_errors(field: np.ndarray, affine: np.ndarray, fixed_points: np.ndarray,
                    moving_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per point, ``(before, after)`` distances (mm): ``‖p_f − p_m‖`` and ``‖p_f + u(p_f) − p_m‖``."""
    fixed_points, moving_points = np.asarray(fixed_points, np.float64), np.asarray(moving_points, np.float64)
    mapped = fixed_points + sample_field(field, affine, fixed_points)
    return (np.linalg.norm(fixed_points - moving_points, axis=-1), np.linalg.norm(mapped - moving_points, axis=-1))
