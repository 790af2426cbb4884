"""Random Gaussian blur with a per-sample, per-axis standard deviation in mm."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from voxflow.augment.base import IntensityTransform, as_range, mirrored_index, uniform


def _mirrored(volume: tf.Tensor, axis: int, size: int, begin: int, end: int) -> tf.Tensor:
    """Planes ``begin..end - 1`` of ``volume`` along spatial ``axis`` (of ``size``), mirrored beyond it.

    ``d c b a | a b c d | d c b a``, as ``tf.pad(mode="SYMMETRIC")``, repeating for long reaches.
    """
    return tf.gather(volume, mirrored_index(np.arange(begin, end), size), axis=axis + 1)


def _taps(volume: tf.Tensor, weights: tf.Tensor, axis: int, radius: int, count: int) -> tf.Tensor:
    """``count`` planes of the correlation with ``weights[:, axis]`` over valid slices of ``volume``."""
    total = 0.0
    for tap in range(2 * radius + 1):
        begin, size = [0] * 5, [-1] * 5
        begin[axis + 1], size[axis + 1] = tap, count
        total = total + tf.reshape(weights[:, axis, tap], [-1, 1, 1, 1, 1]) * tf.slice(volume, begin, size)
    return total


@tf.function(jit_compile=True, reduce_retracing=True)
def _smooth(image: tf.Tensor, weights: tf.Tensor, radius: int, axes: tuple[int, ...],
            sizes: tuple[int, int, int]) -> tf.Tensor:
    """Separable convolution: ``weights`` ``(B, 3, 2r+1)`` per sample and axis, mirrored borders.

    The ``radius`` planes at each end are computed from small mirrored slabs and the rest from valid
    slices of the image, joined along the axis: no padded copy of the volume (padding it, whether
    fused into the taps or done before them, took as long as the taps; 192³: 65 -> 24 ms of CPU).
    ``sizes`` are the spatial sizes, static (``reduce_retracing`` may relax the argument's shape).
    """
    for axis in axes:
        size = sizes[axis]
        if size > 2 * radius:
            parts = [_taps(_mirrored(image, axis, size, -radius, 2 * radius), weights, axis, radius, radius),
                     _taps(image, weights, axis, radius, size - 2 * radius),
                     _taps(_mirrored(image, axis, size, size - 2 * radius, size + radius), weights, axis, radius, radius)]
            image = tf.concat(parts, axis=axis + 1)
        else:
            image = _taps(_mirrored(image, axis, size, -radius, size + radius), weights, axis, radius, size)
    return image


def blur_ranges(std: Any) -> tuple[tuple[float, float], ...]:
    """TorchIO's ``std`` of ``RandomBlur``: ``a`` → ``U(0, a)`` on every axis, ``(a, b)`` → ``U(a, b)``,
    ``(a1, b1, a2, b2, a3, b3)`` → one range per axis.

    Raises:
        ValueError: another count of numbers, a range with ``a > b``, or a negative bound.
    """
    values = tuple(std) if isinstance(std, (tuple, list)) else (0.0, std)
    if len(values) == 6:
        return tuple(as_range(values[2 * i: 2 * i + 2], "std", minimum=0.0) for i in range(3))
    if len(values) != 2:
        raise ValueError(f"std must be one number, two or six, got {std!r}")
    return (as_range(values, "std", minimum=0.0),) * 3


class RandomBlur(IntensityTransform):
    """Gaussian smoothing with ``σ_i ~ U(0, a)`` mm per axis, ``U(a, b)``, or one range per axis
    (six numbers) (TorchIO's ``RandomBlur``).

    The kernel is truncated at 3 of the largest σ; borders are mirrored. Parameters: ``std``
    ``(B, 3)`` in mm.
    """

    def __init__(self, std: Any = (0.0, 2.0), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        ranges = blur_ranges(std)
        self.std = ranges[0] if len(set(ranges)) == 1 else tuple(v for pair in ranges for v in pair)
        self._ranges = ranges

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        low, high = zip(*self._ranges, strict=True)
        return {"std": uniform(seeds, 1, (3,), low, high)}

    def apply_image(self, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        largest = max(high / spacing for (_, high), spacing in zip(self._ranges, self.spacing, strict=True))
        radius = max(1, int(math.ceil(3.0 * largest)))
        sigma = tf.maximum(params["std"] / tf.constant(self.spacing, tf.float32)[None], 1e-3)
        taps = tf.range(-radius, radius + 1, dtype=tf.float32)
        weights = tf.exp(-0.5 * (taps[None, None, :] / sigma[:, :, None]) ** 2)
        weights = weights / tf.reduce_sum(weights, axis=-1, keepdims=True)
        axes = tuple(a for a in range(3) if image.shape[a + 1] != 1)
        sizes = tuple(int(n) for n in image.shape[1:4])
        return tf.ensure_shape(_smooth(image, weights, radius, axes, sizes), image.shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(std=self.std)
        return config
