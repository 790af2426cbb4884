"""Reorientation to axis codes (e.g. ``R, A, S``): exact axis permutations and flips.

Uses nibabel's orientation conventions. An orientation transform is a ``(3, 2)`` array: row
``i`` says that input axis ``i`` becomes output axis ``ornt[i, 0]``, flipped when
``ornt[i, 1] == -1``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from nibabel import orientations

IDENTITY = np.array([[0, 1], [1, 1], [2, 1]], dtype=np.float64)


def orientation_transform(affine: np.ndarray, axcodes: Sequence[str] | None) -> np.ndarray:
    """The transform from an affine's closest orientation to ``axcodes``.

    Args:
        affine: 4x4 voxel -> RAS+ affine (may be oblique).
        axcodes: three letters such as ``("R", "A", "S")``; empty or ``None`` means no change.

    Returns:
        A ``(3, 2)`` orientation transform (identity when nothing changes).

    Raises:
        ValueError: invalid axis codes.
    """
    if not axcodes:
        return IDENTITY.copy()
    codes = tuple(str(c).upper() for c in axcodes)
    if len(codes) != 3:
        raise ValueError(f"expected 3 axis codes, got {codes}")
    target = orientations.axcodes2ornt(codes)
    if np.isnan(target).any():
        raise ValueError(f"invalid axis codes {codes}; use one of L/R, P/A, I/S per axis")
    current = orientations.io_orientation(affine)
    return orientations.ornt_transform(current, target)


def is_identity(ornt: np.ndarray) -> bool:
    """Whether an orientation transform leaves arrays unchanged."""
    return bool(np.array_equal(ornt, IDENTITY))


def invert_orientation(ornt: np.ndarray) -> np.ndarray:
    """The orientation transform undoing ``ornt``."""
    inverse = np.empty_like(ornt)
    for axis, (target, flip) in enumerate(ornt):
        inverse[int(target)] = (axis, flip)
    return inverse


def reorient_shape(shape: Sequence[int], ornt: np.ndarray) -> tuple[int, ...]:
    """Spatial shape after applying ``ornt``."""
    out = [0, 0, 0]
    for axis, (target, _) in enumerate(ornt):
        out[int(target)] = int(shape[axis])
    return tuple(out)


def reorient_array(data: np.ndarray, ornt: np.ndarray) -> np.ndarray:
    """Applies ``ornt`` to the first three axes of ``data`` (channels after them are kept)."""
    if is_identity(ornt):
        return data
    return np.ascontiguousarray(orientations.apply_orientation(data, ornt))


def reorient_affine(affine: np.ndarray, shape: Sequence[int], ornt: np.ndarray) -> np.ndarray:
    """The affine of the reoriented array, describing the same world positions.

    Args:
        affine: the affine before reorientation.
        shape: spatial shape before reorientation.
        ornt: the orientation transform.
    """
    return affine @ orientations.inv_ornt_aff(ornt, tuple(shape[:3]))
