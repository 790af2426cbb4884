"""Random flips along spatial axes (TorchIO's ``RandomFlip``, NiftyNet's ``random_flipping_axes``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from voxflow.augment.base import MAP_KEYS, RandomTransform, flat_axes, uniform


@tf.function(jit_compile=True, reduce_retracing=True)
def _flip(volume: tf.Tensor, flips: tf.Tensor) -> tf.Tensor:
    """Reverse the axes marked in ``flips`` ``(B, 3)``, per sample, in one gather.

    Each output voxel reads the one input voxel at its per-axis index (``n - 1 - i`` where flipped):
    a select between reversed and kept copies per axis reads up to eight voxels for each one written
    (192³: 8.8 -> 5.9 ms).
    """
    dims = tf.shape(volume)[1:4]
    index = []
    for axis in range(3):
        ramp = tf.range(dims[axis])[None]
        picked = tf.where(flips[:, axis:axis + 1], dims[axis] - 1 - ramp, ramp)  # (B, n)
        shape = [-1, 1, 1, 1]
        shape[axis + 1] = dims[axis]
        index.append(tf.reshape(picked, shape))
    flat_index = (index[0] * dims[1] + index[1]) * dims[2] + index[2]  # (B, X, Y, Z)
    batch = tf.shape(volume)[0]
    flat = tf.reshape(volume, [batch, -1, tf.shape(volume)[-1]])
    return tf.reshape(tf.gather(flat, tf.reshape(flat_index, [batch, -1]), batch_dims=1), tf.shape(volume))


class RandomFlip(RandomTransform):
    """Reverse the voxel order along each of ``axes`` with probability ``flip_probability``.

    Parameters per sample: ``flips`` ``(3,)`` bool (one per spatial axis). Axes of size 1 (2-D
    windows) are never flipped. A flip is its own inverse.

    Args:
        axes: spatial axes (0, 1, 2) that may be flipped.
        flip_probability: probability of flipping each listed axis, independently.
        **kwargs: ``p``, ``seed``, ``spacing`` (see :class:`RandomTransform`).
    """

    spatial = True

    def __init__(self, axes: int | Sequence[int] = (0, 1, 2), flip_probability: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        axes = (axes,) if isinstance(axes, int) else tuple(int(a) for a in axes)
        if any(a not in (0, 1, 2) for a in axes):
            raise ValueError(f"axes must be among 0, 1, 2, got {axes!r}")
        self.axes = axes
        self.flip_probability = float(flip_probability)

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        allowed = [a in self.axes and not flat for a, flat in enumerate(flat_axes(shape))]
        draws = uniform(seeds, 1, (3,), 0.0, 1.0) < self.flip_probability
        return {"flips": tf.logical_and(draws, tf.constant(allowed)[None])}

    def apply(self, batch: dict[str, tf.Tensor], params: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        out = dict(batch)
        flips = tf.logical_and(params["flips"], params["apply"][:, None])
        for key in MAP_KEYS:
            if key in batch:
                volume = tf.cast(batch[key], tf.float32)
                out[key] = tf.ensure_shape(_flip(volume, flips), volume.shape)
        return out

    def invert(self, batch: dict[str, tf.Tensor], params: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Undo :meth:`apply` with the same parameters (a flip is its own inverse)."""
        return self.apply(batch, params)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(axes=self.axes, flip_probability=self.flip_probability)
        return config
