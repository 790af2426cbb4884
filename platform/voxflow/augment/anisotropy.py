"""Random anisotropy: downsample one axis, then interpolate back (simulated thick slices)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from voxflow.augment.base import IntensityTransform, as_range, mirrored_index, randint, uniform


def coarse_grid(size: int, factor: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """TorchIO's thick slices along an axis of ``size`` voxels, for ``factor`` ``(B,)``: their count
    ``n = max(1, floor(size / f))`` and the voxel of the first, ``o = ((size - 1) - (n - 1) f) / 2``
    (``Resample.get_reference_image``: ``n`` slices ``f`` apart, centred in the field of view), each
    ``(B, 1)`` float64, in which ``o + k f`` is exact for a float32 ``f``."""
    factor = tf.cast(tf.reshape(factor, [-1, 1]), tf.float64)
    count = tf.maximum(tf.floor(size / factor), 1.0)
    return count, ((size - 1.0) - (count - 1.0) * factor) / 2.0


def resampling_operator(size: int, factor: tf.Tensor) -> tf.Tensor:
    """``(B, size, size)`` matrices: TorchIO's thick slices, then linear interpolation back.

    Slice ``k`` (see :func:`coarse_grid`) lies at voxel ``x = o + k f`` and takes the value of voxel
    ``floor(x + 0.5)``: nearest neighbour, halves rounded up, as ITK's ``RoundHalfIntegerUp``. Voxel
    ``i`` then interpolates linearly between the slices around ``(i - o) / f``; beyond the outer
    slices it takes the outer slice's value (TorchIO fills voxels more than half a slice beyond them
    with 0). Each row holds at most two weights, so the matrix is built from one-hot rows.
    """
    factor64 = tf.cast(tf.reshape(factor, [-1, 1]), tf.float64)
    count, offset = coarse_grid(size, factor64)
    index = tf.range(size, dtype=tf.float64)[None]  # (1, i)
    place = tf.minimum(tf.maximum((index - offset) / factor64, 0.0), count - 1.0)  # (B, i): on the coarse grid
    low = tf.minimum(tf.floor(place), tf.maximum(count - 2.0, 0.0))
    high = tf.minimum(low + 1.0, count - 1.0)
    weight = tf.cast(place - low, tf.float32)[..., None]  # (B, i, 1)

    def voxel(slice_index: tf.Tensor) -> tf.Tensor:  # (B, i) slice numbers -> one-hot rows of their voxels
        picked = tf.cast(tf.floor(offset + slice_index * factor64 + 0.5), tf.int32)
        return tf.one_hot(tf.clip_by_value(picked, 0, size - 1), size, dtype=tf.float32)

    return (1.0 - weight) * voxel(low) + weight * voxel(high)


def antialias_sigma(factor: Any) -> Any:
    """Gaussian σ (voxels) before downsampling by ``factor``: ``sqrt(f² - 1) / (2 sqrt(2 ln 2))``.

    The point-spread-function matching of Cardoso et al. (MICCAI 2015), as in TorchIO's ``Resample``
    with ``antialias``: the Gaussian's FWHM makes up the difference to the thick slice's.
    """
    return (factor**2 - 1.0) ** 0.5 / (2.0 * math.sqrt(2.0 * math.log(2.0)))


def smoothing_operator(size: int, sigma: tf.Tensor, radius: int) -> tf.Tensor:
    """``(B, size, size)`` Gaussian smoothing matrices (taps up to ``radius``, mirrored borders)."""
    sigma = tf.maximum(tf.reshape(sigma, [-1, 1]), 1e-3)  # (B, 1); σ = 0 is the identity
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    weights = tf.exp(-0.5 * (taps[None] / sigma) ** 2)
    weights = weights / tf.reduce_sum(weights, axis=-1, keepdims=True)  # (B, taps)
    source = mirrored_index(np.arange(size)[:, None] + np.arange(-radius, radius + 1)[None], size)  # (size, taps)
    # operator[b, i, j] = Σ_t weights[b, t] [source[i, t] = j]
    return tf.einsum("bt,itj->bij", weights, tf.one_hot(source, size, dtype=tf.float32))


class RandomAnisotropy(IntensityTransform):
    """Downsample one axis by ``f ~ U(a, b)`` and linearly interpolate back (TorchIO's ``RandomAnisotropy``).

    The thick slices are TorchIO's: ``floor(N / f)`` of them, ``f`` voxels apart and centred in the
    field of view, each the nearest voxel (halves rounded up, as ITK); see :func:`resampling_operator`.
    Beyond the outer slices the image repeats them, where TorchIO writes 0 more than half a slice out.
    The axis is drawn from ``axes`` (those of size > 1). As in TorchIO (``scalars_only``), images
    change and label maps do not. With ``antialias``, the axis is first smoothed by a Gaussian of
    σ = ``sqrt(f² - 1) / (2 sqrt(2 ln 2))`` voxels (truncated at 3σ of the largest ``f``, mirrored
    borders), as TorchIO's ``Resample(antialias=True)`` does; TorchIO's ``RandomAnisotropy`` does
    not smooth, hence the default. The three steps are one ``(size, size)`` matrix per sample, so
    smoothing costs no extra pass over the image. Parameters: ``axis`` ``(B,)`` int, ``factor`` ``(B,)``.
    """

    per_channel_allowed = False  # TorchIO draws the axis and factor once per subject

    def __init__(self, axes: Any = (0, 1, 2), downsampling: Any = (1.5, 5.0), antialias: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.antialias = bool(antialias)
        self.axes = (axes,) if isinstance(axes, int) else tuple(int(a) for a in axes)
        self.downsampling = as_range(downsampling, "downsampling", minimum=1.0) \
            if isinstance(downsampling, (tuple, list)) else (1.0, float(downsampling))

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        usable = [a for a in self.axes if shape[1 + a] != 1] or [a for a in range(3) if shape[1 + a] != 1]
        choice = randint(seeds, 1, (), 0, len(usable) - 1)
        return {"axis": tf.gather(tf.constant(usable, tf.int32), choice),
                "factor": uniform(seeds, 2, (), *self.downsampling)}

    def apply_image(self, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        equations = ("pi,iyzc->pyzc", "pi,xizc->xpzc", "pi,xyic->xypc")

        def one(args: tuple[tf.Tensor, ...]) -> tf.Tensor:
            volume, axis, factor = args
            branches = []
            for a in range(3):
                size = int(volume.shape[a])
                branches.append(lambda a=a, size=size: tf.einsum(
                    equations[a], self.operator(size, factor)[0], volume) if size > 1 else volume)
            return tf.switch_case(axis, branches)

        return tf.map_fn(one, (image, params["axis"], params["factor"]),
                         fn_output_signature=tf.TensorSpec(image.shape[1:], tf.float32))

    def operator(self, size: int, factor: tf.Tensor) -> tf.Tensor:
        """``(B, size, size)``: the change along an axis of ``size`` voxels for ``factor`` ``(B,)``."""
        operator = resampling_operator(size, factor)
        if self.antialias:
            radius = max(1, math.ceil(3.0 * antialias_sigma(self.downsampling[1])))
            operator = operator @ smoothing_operator(size, antialias_sigma(tf.reshape(factor, [-1])), radius)
        return operator

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(axes=self.axes, downsampling=self.downsampling, antialias=self.antialias)
        return config
