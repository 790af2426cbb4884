"""LinearResize: bilinear / trilinear resize of channels-last feature maps to a given size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from voxflow.layers.factories import check_spatial_dims


def linear_resize(x: tf.Tensor, size: Sequence[Any]) -> tf.Tensor:
    """Resize ``(B, *spatial, C)`` to ``(B, *size, C)`` by (tri)linear interpolation.

    2-D uses one ``tf.image.resize``. 3-D is separable: resize the last two spatial axes with the
    first folded into the batch, then the first axis with the last two flattened (a resize that
    keeps an axis's size is the identity there, with half-pixel centres). ``size`` entries may be
    Python ints or scalar tensors (dynamic shapes).
    """
    if len(size) == 2:
        return tf.cast(tf.image.resize(x, size, method="bilinear"), x.dtype)
    shape = tf.shape(x)
    batch, nx, ny, nz, channels = shape[0], shape[1], shape[2], shape[3], shape[4]
    sx, sy, sz = size
    y = tf.reshape(x, tf.stack([batch * nx, ny, nz, channels]))
    y = tf.image.resize(y, tf.stack([sy, sz]), method="bilinear")
    y = tf.reshape(y, tf.stack([batch, nx, sy * sz, channels]))
    y = tf.image.resize(y, tf.stack([sx, sy * sz]), method="bilinear")
    y = tf.reshape(y, tf.stack([batch, sx, sy, sz, channels]))
    static = [d if isinstance(d, int) else None for d in size]
    y.set_shape([x.shape[0], *static, x.shape[-1]])
    return tf.cast(y, x.dtype)


@keras.saving.register_keras_serializable(package="voxflow")
class LinearResize(keras.layers.Layer):
    """Resize feature maps linearly to a fixed ``size`` or to the spatial size of a reference.

    Call it as ``layer(x)`` (needs ``size``) or ``layer([x, reference])`` to match ``reference``'s
    spatial shape, which may be dynamic. Weightless.

    Args:
        spatial_dims: 2 or 3.
        size: the output spatial size, or ``None`` to take it from a reference tensor.
        **kwargs: ``keras.layers.Layer`` arguments.

    Example:
        >>> up = LinearResize(spatial_dims=3)               # doctest: +SKIP
        >>> y = up([coarse, fine])  # y has fine's spatial size, coarse's channels  # doctest: +SKIP
    """

    def __init__(self, spatial_dims: int = 3, size: Sequence[int] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spatial_dims = check_spatial_dims(spatial_dims)
        self.size = None if size is None else tuple(int(s) for s in size)
        if self.size is not None and len(self.size) != self.spatial_dims:
            raise ValueError(f"`size` needs {self.spatial_dims} entries. Received: {size!r}.")

    def call(self, inputs: Any) -> Any:
        if isinstance(inputs, (list, tuple)):
            x, reference = inputs
            static = reference.shape[1 : 1 + self.spatial_dims]
            dynamic = tf.shape(reference)[1 : 1 + self.spatial_dims]
            size = [s if s is not None else dynamic[i] for i, s in enumerate(static)]
        elif self.size is not None:
            x, size = inputs, list(self.size)
        else:
            raise ValueError("LinearResize without `size` must be called on [inputs, reference].")
        return linear_resize(x, size)

    def compute_output_shape(self, input_shape: Any) -> tuple[int | None, ...]:
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)):
            x_shape, ref_shape = input_shape
            return (x_shape[0], *ref_shape[1 : 1 + self.spatial_dims], x_shape[-1])
        return (input_shape[0], *self.size, input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(spatial_dims=self.spatial_dims, size=None if self.size is None else list(self.size))
        return config
