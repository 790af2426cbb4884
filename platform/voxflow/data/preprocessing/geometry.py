"""The invertible spatial plan of one subject: reorient, resample, pad — and back.

All volumes of a subject share one voxel grid, so the plan is computed once (from the first
image file) and applied to every volume with its own interpolation order and padding mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from voxflow.data.preprocessing.orientation import (
    invert_orientation,
    orientation_transform,
    reorient_affine,
    reorient_array,
    reorient_shape,
)
from voxflow.data.preprocessing.padding import (
    PadWidths,
    crop_array,
    pad_array,
    padded_affine,
    padding_widths,
)
from voxflow.data.preprocessing.resampling import (
    inverse_step,
    resample_array,
    resampled_grid,
    voxel_spacing,
)
from voxflow.io.image_io import ImageHeader


@dataclass
class VolumeGeometry:
    """Where a preprocessed volume comes from, and how to send an array back there.

    Attributes:
        affine: 4x4 affine of the original (first image) file; write outputs with it.
        shape: spatial shape of the original file.
        path: the original file.
        reference: its header, to pass to :func:`voxflow.io.write_image` as ``reference``.
        orientation: ``(3, 2)`` orientation transform from the file to ``axcodes``.
        oriented_shape: spatial shape after reorientation.
        step: resampling step (old voxels per new voxel) per axis.
        resampled_shape: spatial shape after resampling.
        pad_widths: ``(before, after)`` padding per axis.
        preprocessed_affine: affine of the preprocessed array.
        preprocessed_shape: spatial shape of the preprocessed array.
        start: old-voxel coordinate (oriented grid) of resampled voxel 0 per axis (0 unless
            ``pixdim_grid = world``).
    """

    affine: np.ndarray
    shape: tuple[int, int, int]
    path: str
    reference: ImageHeader | None
    orientation: np.ndarray
    oriented_shape: tuple[int, int, int]
    step: np.ndarray
    resampled_shape: tuple[int, int, int]
    pad_widths: PadWidths
    preprocessed_affine: np.ndarray
    preprocessed_shape: tuple[int, int, int]
    start: np.ndarray = field(default_factory=lambda: np.zeros(3))

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size (mm) of the original file."""
        return tuple(float(s) for s in voxel_spacing(self.affine))

    @property
    def preprocessed_spacing(self) -> tuple[float, float, float]:
        """Voxel size (mm) of the preprocessed array."""
        return tuple(float(s) for s in voxel_spacing(self.preprocessed_affine))


def plan_geometry(
    shape: Sequence[int],
    affine: np.ndarray,
    *,
    axcodes: Sequence[str] | None = None,
    pixdim: Sequence[float] | None = None,
    padding_size: Sequence[int] | None = None,
    min_shape: Sequence[int] | None = None,
    path: str = "",
    reference: ImageHeader | None = None,
    grid: str = "first_voxel",
) -> VolumeGeometry:
    """Computes the spatial plan of a volume.

    Args:
        shape: original spatial shape.
        affine: original 4x4 affine.
        axcodes: target orientation, e.g. ``("R", "A", "S")``; empty = keep.
        pixdim: target spacing; empty = keep.
        padding_size: ``volume_padding_size`` margin.
        min_shape: minimum preprocessed shape (window size); ``None`` = none.
        path: the original file (for outputs and messages).
        reference: the original file's header.
        grid: where the resampled grid lies, ``first_voxel`` or ``world`` (``[NETWORK] pixdim_grid``).

    Returns:
        The :class:`VolumeGeometry`.
    """
    shape3 = tuple(int(s) for s in shape[:3])
    affine = np.asarray(affine, dtype=np.float64)
    ornt = orientation_transform(affine, axcodes)
    oriented_shape = reorient_shape(shape3, ornt)
    oriented_affine = reorient_affine(affine, shape3, ornt)
    resampled_shape, resampled_affine, step, start = resampled_grid(
        oriented_shape, oriented_affine, pixdim, grid
    )
    widths = padding_widths(resampled_shape, padding_size, min_shape)
    final_shape = tuple(n + b + a for n, (b, a) in zip(resampled_shape, widths, strict=True))
    return VolumeGeometry(
        affine=affine,
        shape=shape3,
        path=path,
        reference=reference,
        orientation=ornt,
        oriented_shape=oriented_shape,
        step=step,
        start=start,
        resampled_shape=resampled_shape,
        pad_widths=widths,
        preprocessed_affine=padded_affine(resampled_affine, widths),
        preprocessed_shape=final_shape,
    )


def to_grid(data: np.ndarray, geometry: VolumeGeometry, order: int) -> np.ndarray:
    """Reorients and resamples ``data`` (X, Y, Z, C) onto the plan's unpadded grid."""
    oriented = reorient_array(data, geometry.orientation)
    return resample_array(oriented, geometry.step, geometry.resampled_shape, max(int(order), 0), geometry.start)


def pad(data: np.ndarray, geometry: VolumeGeometry, mode: str = "constant") -> np.ndarray:
    """Pads an array on the unpadded grid to the preprocessed grid."""
    return pad_array(data, geometry.pad_widths, mode)


def from_grid(data: np.ndarray, geometry: VolumeGeometry, order: int) -> np.ndarray:
    """Sends a preprocessed-grid array (X', Y', Z', C) back to the original file's grid.

    Crops the padding, resamples back to exactly the oriented shape, then undoes the
    reorientation, so the result has the original spatial shape.

    Raises:
        ValueError: ``data`` does not have the preprocessed spatial shape.
    """
    if tuple(data.shape[:3]) != tuple(geometry.preprocessed_shape):
        raise ValueError(
            f"expected an array of spatial shape {geometry.preprocessed_shape} (the preprocessed "
            f"grid of '{geometry.path}'), got {tuple(data.shape[:3])}"
        )
    cropped = np.ascontiguousarray(crop_array(data, geometry.pad_widths))
    back = resample_array(
        cropped, inverse_step(geometry.step), geometry.oriented_shape, max(int(order), 0),
        -np.asarray(geometry.start) * inverse_step(geometry.step),
    )
    return reorient_array(back, invert_orientation(geometry.orientation))


def _directions(affine: np.ndarray) -> np.ndarray:
    """The unit vectors (world, mm) of the voxel axes of ``affine``, as columns."""
    linear = np.asarray(affine, dtype=np.float64)[:3, :3]
    return linear / np.linalg.norm(linear, axis=0, keepdims=True)


def field_to_grid_axes(field: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Displacement vectors in world mm (RAS+, the affine's space) → mm along the voxel axes of ``affine``.

    ``field`` is ``(X, Y, Z, 3)``. The inverse is :func:`field_to_world`. Resampling does not change
    millimetre values; reorienting permutes and negates the voxel axes, which this follows.
    """
    inverse = np.linalg.inv(_directions(affine))
    return np.einsum("ij,...j->...i", inverse, np.asarray(field, np.float64)).astype(np.float32)


def field_to_world(field: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Displacement vectors in mm along the voxel axes of ``affine`` → world mm (RAS+)."""
    return np.einsum("ij,...j->...i", _directions(affine), np.asarray(field, np.float64)).astype(np.float32)
