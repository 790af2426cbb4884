"""Random affine transforms: rotation, scaling and translation about the window centre.

The composition is TorchIO's (``Affine.get_affine_transform``: ``CompositeTransform([scaling,
rotation])`` of a ``ScaleTransform`` and a default ``Euler3DTransform``, both about the centre):
in mm, the content at ``x`` moves to ``c + S (R (x - c) + t)`` with ``R = R2 R0 R1`` (about axis 1,
then 0, then 2), so scaling comes after rotation and scales the translation too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from voxflow.augment.base import RandomTransform, axis_ranges, flat_axes, uniform
from voxflow.augment.warp import affine_warp, check_interpolations, interpolation_support, warp_maps


def rotation_matrices(degrees: tf.Tensor) -> tf.Tensor:
    """``(B, 3)`` angles in degrees about axes 0, 1, 2 → ``(B, 3, 3)`` matrices ``R2 @ R0 @ R1``.

    The order of SimpleITK's ``Euler3DTransform`` (``Rz Rx Ry``: about axis 1 first, then 0, then 2),
    which TorchIO's ``Affine`` uses; each factor turns counter-clockwise for a positive angle
    (axis 0 takes axis 1 towards axis 2, axis 1 takes 2 towards 0, axis 2 takes 0 towards 1).
    """
    return _euler(degrees, tf)


def _euler(degrees: Any, xp: Any) -> Any:
    """:func:`rotation_matrices` with the array module ``xp`` (``tf``, or ``np`` for float64 at build time)."""
    radians = degrees * (math.pi / 180.0)
    c, s = xp.cos(radians), xp.sin(radians)
    one, zero = xp.ones_like(c[:, 0]), xp.zeros_like(c[:, 0])

    def rows(*entries: Any) -> Any:
        return xp.reshape(xp.stack(entries, axis=-1), [-1, 3, 3])

    r0 = rows(one, zero, zero, zero, c[:, 0], -s[:, 0], zero, s[:, 0], c[:, 0])
    r1 = rows(c[:, 1], zero, s[:, 1], zero, one, zero, -s[:, 1], zero, c[:, 1])
    r2 = rows(c[:, 2], -s[:, 2], zero, s[:, 2], c[:, 2], zero, zero, zero, one)
    return r2 @ r0 @ r1


def _voxel_map(linear: tf.Tensor, shift_mm: tf.Tensor, shape: Any, spacing: Sequence[float]) -> tf.Tensor:
    """``(B, 3, 4)`` voxel map of the mm map ``y = c + L (x - c) + u`` about the window centre ``c``."""
    space = tf.constant(spacing, tf.float32)
    matrix = linear * space[None, None, :] / space[None, :, None]  # D⁻¹ L D
    centre = (tf.cast(tf.stack([shape[0], shape[1], shape[2]]), tf.float32) - 1.0) / 2.0
    offset = centre[None] - tf.einsum("bij,j->bi", matrix, centre) + shift_mm / space[None]
    return tf.concat([matrix, offset[:, :, None]], axis=2)


def sampling_matrix(params: dict[str, tf.Tensor], shape: Any, spacing: Sequence[float]) -> tf.Tensor:
    """``(B, 3, 4)`` map from output voxel to input voxel for TorchIO's content move ``c + S (R (x - c) + t)``.

    ``c`` is the window centre, ``R`` :func:`rotation_matrices`, ``S`` the diagonal scales; rotation
    and scaling act in mm (``spacing``), ``t`` is in mm. An output point ``y`` reads the input at
    ``c + Rᵀ (S⁻¹ (y - c) - t)``.
    """
    rotation_t = tf.linalg.matrix_transpose(rotation_matrices(params["degrees"]))
    linear = rotation_t / params["scales"][:, None, :]  # Rᵀ S⁻¹
    shift = -tf.einsum("bij,bj->bi", rotation_t, params["translation"])  # -Rᵀ t
    return _voxel_map(linear, shift, shape, spacing)


def content_matrix(params: dict[str, tf.Tensor], shape: Any, spacing: Sequence[float]) -> tf.Tensor:
    """``(B, 3, 4)`` content move ``x → c + S (R (x - c) + t)`` in voxels: the exact inverse of
    :func:`sampling_matrix`, which is the sampling map of the inverse transform."""
    scales = params["scales"]
    linear = scales[:, :, None] * rotation_matrices(params["degrees"])  # S R
    return _voxel_map(linear, scales * params["translation"], shape, spacing)


def invert_matrix(matrix: tf.Tensor) -> tf.Tensor:
    """Inverse of a ``(B, 3, 4)`` affine map."""
    size = tf.shape(matrix)[0]
    bottom = tf.tile(tf.constant([[[0.0, 0.0, 0.0, 1.0]]]), [size, 1, 1])
    return tf.linalg.inv(tf.concat([matrix, bottom], axis=1))[:, :3, :]


def _rotation_grid(ranges: Sequence[tuple[float, float]], rotate: Sequence[bool],
                   step: float = 1.0, most: int = 41) -> tuple[np.ndarray, float]:
    """NumPy ``R2 R0 R1`` over a grid of the angle ranges (``(N, 3, 3)``), and the sum over axes
    of half the grid step in radians (``0`` for an axis not rotated or with a single angle)."""
    axes, half_steps = [], 0.0
    for (low, high), active in zip(ranges, rotate, strict=True):
        if not active or high <= low:
            axes.append(np.array([low if active else 0.0]))
            continue
        count = int(min(most, max(2, math.ceil((high - low) / step) + 1)))
        axes.append(np.linspace(low, high, count))
        half_steps += math.radians((high - low) / (count - 1)) / 2.0
    angles = np.stack([grid.ravel() for grid in np.meshgrid(*axes, indexing="ij")], axis=-1)  # (N, 3) degrees
    return _euler(angles.astype(np.float64), np), half_steps


class RandomAffine(RandomTransform):
    """Rotate, scale and translate each window about its centre (TorchIO's ``RandomAffine``).

    Distributions (per sample, per axis): scale ``s ~ U(1 - a, 1 + a)`` (``s > 1`` enlarges the
    content), angle ``θ ~ U(-a, a)`` degrees, translation ``t ~ U(-a, a)`` mm; a pair ``(a, b)``
    means ``U(a, b)``, six values give one pair per axis. Images are resampled linearly, labels by
    nearest neighbour (or one-hot + argmax). Parameters: ``degrees``, ``scales``, ``translation``
    ``(B, 3)`` each; :meth:`invert` applies the exact inverse map. In 2-D windows only the rotation
    in the plane (about the size-1 axis) is drawn.

    Composed as TorchIO's ``Affine``: in mm about the window centre ``c``, the content at ``x``
    moves to ``c + S (R (x - c) + t)``, ``R = R2 R0 R1`` (rotate about axis 1, then 0, then 2),
    then scale along the window's axes; the translation is scaled too. The same ``(scales,
    degrees, translation)`` give TorchIO's resampled image (angles, shifts in its RAS terms).

    Args:
        scales, degrees, translation: ranges as above.
        isotropic: one scale for all axes.
        image_interpolation: ``linear``, ``cubic`` (Keys' cubic convolution) or ``nearest`` (images only).
        label_interpolation: ``nearest`` or ``linear`` (needs ``num_classes``).
        num_classes: number of label values for ``linear`` label interpolation.
        **kwargs: ``p``, ``seed``, ``spacing``.
    """

    spatial = True

    def __init__(self, scales: Any = 0.1, degrees: Any = 10.0, translation: Any = 0.0, isotropic: bool = False,
                 image_interpolation: str = "linear", label_interpolation: str = "nearest",
                 num_classes: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scales = axis_ranges(scales, "scales", around=1.0)
        if min(low for low, _ in self.scales) <= 0:
            raise ValueError(f"scales must stay above 0, got {scales!r}")
        self.degrees = axis_ranges(degrees, "degrees")
        self.translation = axis_ranges(translation, "translation")
        self.isotropic = bool(isotropic)
        check_interpolations(image_interpolation, label_interpolation)
        self.image_interpolation = image_interpolation
        self.label_interpolation = label_interpolation
        self.num_classes = num_classes

    def _masks(self, shape: Any) -> tuple[list[bool], list[bool]]:
        flat = flat_axes(shape)
        if any(flat):  # 2-D: rotate in-plane only, nothing moves along the flat axis
            return list(flat), [not f for f in flat]
        return [True] * 3, [True] * 3

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        rotate, move = self._masks(shape)
        lows, highs = zip(*self.scales)
        scales = uniform(seeds, 1, (3,), lows, highs)
        if self.isotropic:
            scales = tf.tile(scales[:, :1], [1, 3])
        degrees = uniform(seeds, 2, (3,), *zip(*self.degrees))
        translation = uniform(seeds, 3, (3,), *zip(*self.translation))
        keep = tf.constant(move, tf.float32)[None]
        return {"degrees": degrees * tf.constant(rotate, tf.float32)[None],
                "scales": scales * keep + (1.0 - keep), "translation": translation * keep}

    def matrix(self, shape: Any, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """The ``(B, 3, 4)`` sampling matrix of ``params`` for windows of spatial ``shape``."""
        return sampling_matrix(params, shape, self.spacing)

    def _warp(self, batch: dict[str, tf.Tensor], matrix: tf.Tensor, apply: tf.Tensor) -> dict[str, tf.Tensor]:
        return warp_maps(batch, lambda volume, order: affine_warp(volume, matrix, order), apply,
                         self.maps, self.label_interpolation, self.num_classes, self.image_interpolation)

    def apply(self, batch: dict[str, tf.Tensor], params: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        matrix = self.matrix(tf.shape(self.reference(batch))[1:4], params)
        return self._warp(batch, matrix, params["apply"])

    def invert(self, batch: dict[str, tf.Tensor], params: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Apply the inverse of the transform recorded in ``params`` (:func:`content_matrix`: the
        content move of ``params`` used as the sampling map)."""
        matrix = content_matrix(params, tf.shape(self.reference(batch))[1:4], self.spacing)
        return self._warp(batch, matrix, params["apply"])

    def margin(self, window: Sequence[int]) -> tuple[int, int, int]:
        """Voxels the sampled points of ``window`` reach beyond it over the configured ranges, plus the
        interpolation's support.

        Output voxel ``v`` reads ``c + D⁻¹ Rᵀ (S⁻¹ D (v - c) - t)`` (``D`` the spacing); at the corners
        (``h`` half the window) its distance from ``c`` along axis ``i`` is at most
        ``Σ_j |R_ji| e_j / d_i`` with ``e_j = d_j h_j / s_j + |t_j|`` mm: exact over the scales (the
        smallest) and translations (the largest), maximised over a grid of the angle ranges (steps
        ``δ_k`` of at most 1°, 41 angles per axis at most), plus ``½ ‖e‖ (Σ_k δ_k / 2)² / d_i``, the
        most the grid can miss near a maximum (second derivatives of rotation matrices are at most 1).
        """
        rotate, move = self._masks((None, *window))
        half = (np.asarray(window, np.float64) - 1.0) / 2.0
        space = np.asarray(self.spacing, np.float64)
        lowest = np.array([low for low, _ in self.scales])
        if self.isotropic:
            lowest = np.full(3, lowest[0])
        lowest = np.where(move, lowest, 1.0)
        shift = np.array([max(abs(low), abs(high)) for low, high in self.translation]) * np.asarray(move)
        extent = space * half / lowest + shift
        rotations, half_steps = _rotation_grid(self.degrees, rotate)
        reach_mm = np.max(np.abs(rotations).transpose(0, 2, 1) @ extent, axis=0)
        reach_mm = reach_mm + 0.5 * np.linalg.norm(extent) * half_steps ** 2
        reach = np.maximum(reach_mm / space - half, 0.0)
        margin = np.ceil(reach - 1e-9) + interpolation_support(self.image_interpolation)
        return tuple(int(m) if window[i] > 1 else 0 for i, m in enumerate(margin))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(scales=sum(self.scales, ()), degrees=sum(self.degrees, ()),
                      translation=sum(self.translation, ()), isotropic=self.isotropic,
                      image_interpolation=self.image_interpolation,
                      label_interpolation=self.label_interpolation, num_classes=self.num_classes)
        return config
