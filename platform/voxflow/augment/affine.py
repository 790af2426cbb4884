"""Random affine transforms: rotation, scaling and translation about the window centre."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from voxflow.augment.base import RandomTransform, axis_ranges, flat_axes, uniform
from voxflow.augment.warp import affine_warp, check_interpolations, interpolation_support, warp_maps


def rotation_matrices(degrees: tf.Tensor) -> tf.Tensor:
    """``(B, 3)`` angles in degrees about axes 0, 1, 2 → ``(B, 3, 3)`` matrices ``R2 @ R1 @ R0``."""
    radians = degrees * (math.pi / 180.0)
    c, s = tf.cos(radians), tf.sin(radians)
    one, zero = tf.ones_like(c[:, 0]), tf.zeros_like(c[:, 0])

    def rows(*entries: tf.Tensor) -> tf.Tensor:
        return tf.reshape(tf.stack(entries, axis=-1), [-1, 3, 3])

    r0 = rows(one, zero, zero, zero, c[:, 0], -s[:, 0], zero, s[:, 0], c[:, 0])
    r1 = rows(c[:, 1], zero, s[:, 1], zero, one, zero, -s[:, 1], zero, c[:, 1])
    r2 = rows(c[:, 2], -s[:, 2], zero, s[:, 2], c[:, 2], zero, zero, zero, one)
    return r2 @ r1 @ r0


def sampling_matrix(params: dict[str, tf.Tensor], shape: Any, spacing: Sequence[float]) -> tf.Tensor:
    """``(B, 3, 4)`` map from output voxel to input voxel for the content move ``R S (x - c) + c + t``.

    ``c`` is the window centre; rotation and scaling act in mm (``spacing``), ``t`` is in mm.
    """
    space = tf.constant(spacing, tf.float32)
    inverse = tf.linalg.matrix_transpose(rotation_matrices(params["degrees"])) / params["scales"][:, :, None]
    matrix = inverse * space[None, None, :] / space[None, :, None]
    shift = tf.einsum("bij,bj->bi", inverse, params["translation"]) / space[None]
    centre = (tf.cast(tf.stack([shape[0], shape[1], shape[2]]), tf.float32) - 1.0) / 2.0
    offset = centre[None] - tf.einsum("bij,j->bi", matrix, centre) - shift
    return tf.concat([matrix, offset[:, :, None]], axis=2)


def invert_matrix(matrix: tf.Tensor) -> tf.Tensor:
    """Inverse of a ``(B, 3, 4)`` affine map."""
    size = tf.shape(matrix)[0]
    bottom = tf.tile(tf.constant([[[0.0, 0.0, 0.0, 1.0]]]), [size, 1, 1])
    return tf.linalg.inv(tf.concat([matrix, bottom], axis=1))[:, :3, :]


class RandomAffine(RandomTransform):
    """Rotate, scale and translate each window about its centre (TorchIO's ``RandomAffine``).

    Distributions (per sample, per axis): scale ``s ~ U(1 - a, 1 + a)`` (``s > 1`` enlarges the
    content), angle ``θ ~ U(-a, a)`` degrees, translation ``t ~ U(-a, a)`` mm; a pair ``(a, b)``
    means ``U(a, b)``, six values give one pair per axis. Images are resampled linearly, labels by
    nearest neighbour (or one-hot + argmax). Parameters: ``degrees``, ``scales``, ``translation``
    ``(B, 3)`` each; :meth:`invert` applies the exact inverse map. In 2-D windows only the rotation
    in the plane (about the size-1 axis) is drawn.

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
                         self.label_interpolation, self.num_classes, self.image_interpolation)

    def apply(self, batch: dict[str, tf.Tensor], params: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        matrix = self.matrix(tf.shape(batch["image"])[1:4], params)
        return self._warp(batch, matrix, params["apply"])

    def invert(self, batch: dict[str, tf.Tensor], params: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Apply the inverse of the transform recorded in ``params``."""
        matrix = invert_matrix(self.matrix(tf.shape(batch["image"])[1:4], params))
        return self._warp(batch, matrix, params["apply"])

    def margin(self, window: Sequence[int]) -> tuple[int, int, int]:
        """Largest reach of the sampled points beyond ``window`` over a grid of the parameter ranges."""
        rotate, move = self._masks((None, *window))
        half = (np.asarray(window, np.float64) - 1.0) / 2.0
        space = np.asarray(self.spacing)
        grids = []
        for axis in range(3):
            grids.append(np.linspace(*self.degrees[axis], 7) if rotate[axis] else [0.0])
        scale_grids = [np.linspace(*self.scales[axis], 3) if move[axis] else [1.0] for axis in range(3)]
        if self.isotropic:
            scale_grids = [scale_grids[0]]
        reach = np.zeros(3)
        for angles in itertools.product(*grids):
            rad = np.deg2rad(angles)
            c, s = np.cos(rad), np.sin(rad)
            r0 = np.array([[1, 0, 0], [0, c[0], -s[0]], [0, s[0], c[0]]])
            r1 = np.array([[c[1], 0, s[1]], [0, 1, 0], [-s[1], 0, c[1]]])
            r2 = np.array([[c[2], -s[2], 0], [s[2], c[2], 0], [0, 0, 1]])
            rotation_t = (r2 @ r1 @ r0).T
            for scales in itertools.product(*scale_grids):
                scales = np.resize(np.asarray(scales), 3)
                matrix = rotation_t / scales[:, None] * space[None, :] / space[:, None]
                reach = np.maximum(reach, np.abs(matrix) @ half - half)
        shift = np.array([max(abs(low), abs(high)) for low, high in self.translation]) / space
        shift = shift / min(low for low, _ in self.scales)
        margin = np.ceil(np.maximum(reach, 0) + shift * np.asarray(move)) + interpolation_support(self.image_interpolation)
        return tuple(int(m) if window[i] > 1 else 0 for i, m in enumerate(margin))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(scales=sum(self.scales, ()), degrees=sum(self.degrees, ()),
                      translation=sum(self.translation, ()), isotropic=self.isotropic,
                      image_interpolation=self.image_interpolation,
                      label_interpolation=self.label_interpolation, num_classes=self.num_classes)
        return config
