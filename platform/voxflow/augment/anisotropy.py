"""Random anisotropy: downsample one axis, then interpolate back (simulated thick slices)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from voxflow.augment.base import IntensityTransform, as_range, randint, uniform


def resampling_operator(size: int, factor: tf.Tensor) -> tf.Tensor:
    """``(B, size, size)`` matrices: linear sampling every ``factor`` voxels, then linear back."""
    factor = tf.reshape(factor, [-1, 1, 1])
    index = tf.range(size, dtype=tf.float32)
    low_res = index[None, :, None] * factor  # (B, j, 1): positions of the thick slices
    valid = tf.cast(low_res <= size - 1.0, tf.float32)
    down = tf.nn.relu(1.0 - tf.abs(low_res - index[None, None, :])) * valid  # (B, j, i)
    last = tf.floor((size - 1.0) / factor)
    position = tf.minimum(index[None, :, None] / factor, last)  # (B, p, 1)
    up = tf.nn.relu(1.0 - tf.abs(position - index[None, None, :]))  # (B, p, j)
    return up @ down


class RandomAnisotropy(IntensityTransform):
    """Downsample one axis by ``f ~ U(a, b)`` and linearly interpolate back (TorchIO's ``RandomAnisotropy``).

    The axis is drawn from ``axes`` (those of size > 1). As in TorchIO (``scalars_only``), images
    change and label maps do not. Parameters: ``axis`` ``(B,)`` int, ``factor`` ``(B,)``.
    """

    def __init__(self, axes: Any = (0, 1, 2), downsampling: Any = (1.5, 5.0), **kwargs: Any) -> None:
        super().__init__(**kwargs)
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
                    equations[a], resampling_operator(size, factor)[0], volume) if size > 1 else volume)
            return tf.switch_case(axis, branches)

        return tf.map_fn(one, (image, params["axis"], params["factor"]),
                         fn_output_signature=tf.TensorSpec(image.shape[1:], tf.float32))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(axes=self.axes, downsampling=self.downsampling)
        return config
