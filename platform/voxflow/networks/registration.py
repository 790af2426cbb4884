"""RegistrationNet: a displacement field from a (moving, fixed) image pair, 2-D or 3-D.

The network reads the moving and the fixed image on one grid, concatenated as channels
(``[moving, fixed]``, VoxelMorph's order), and returns the displacement that pulls the moving image
onto the fixed one (voxels along the array axes: :mod:`voxflow.layers.warp`'s convention). The
``method`` picks what it predicts:

==============  ===================================================================================
``ddf``         a dense displacement field from a U-Net (the *local* network)
``svf``         a stationary velocity field from the same U-Net, integrated by scaling and squaring
                (``integration_steps``, on a grid ``integration_downsize`` times coarser, as
                VoxelMorph does): a diffeomorphic warp
``affine``      an affine map from the *global* network (strided convolutions, global average
                pooling, one dense layer)
``affine_ddf``  the affine map, then a dense field predicted from the affinely warped moving image
``affine_svf``  the affine map, then a velocity field likewise (NiftyNet's ``INetHybridPreWarp``)
==============  ===================================================================================

Both heads start at the identity: the displacement head's kernel and bias and the affine head's
are zero (an untrained network leaves the moving image where it is). The affine map is
parameterised in coordinates centred on the grid and scaled by its half-size per axis, so a
translation of the whole grid and a 10° rotation are parameters of similar size.

The local U-Net follows VoxelMorph's layout (``encoder`` 16/32/32/32 with max pooling,
``decoder`` 32/32/32/32 with nearest upsampling and skips, ``full_resolution`` 32/16/16, 3×3
convolutions with LeakyReLU 0.2); every spatial axis of its input must be a multiple of
``2 ** len(encoder)``. With ``field_level = k`` the decoder stops ``k`` levels short of full
resolution (``decoder`` then has ``len(encoder) − k`` entries, and ``full_resolution`` are the
convolutions at that level): the field is predicted on a grid ``2**k`` times coarser and
upsampled linearly (an ``svf`` is integrated there). On a CPU, where TensorFlow's 3-D convolution
gradients take 7–10 times as long as the convolutions, the full-resolution decoder is most of a
training step: ``field_level = 1`` trains several times faster, and a 2 mm brain's field at 4 mm is
smooth enough for most registrations.

Outputs: ``{"displacement": u, "regularised": r}``, ``r`` being what the regulariser reads (the
local displacement, the velocity for ``svf`` methods before integration — VoxelMorph's
``preintegrated`` — and ``u`` for ``affine``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras
import tensorflow as tf

from voxflow.layers.activations import ACTIVATIONS, get_activation
from voxflow.layers.factories import check_option, check_spatial_dims, conv_layer
from voxflow.layers.warp import identity_grid, integrate_velocity, rescale_field, warp

METHODS = ("ddf", "svf", "affine", "affine_ddf", "affine_svf")


def _ints(name: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and v >= 1 for v in value):
        raise ValueError(f"Invalid value for `{name}`. Expected a list of integers >= 1. Received: {value!r}.")
    return tuple(int(v) for v in value)


@keras.saving.register_keras_serializable(package="voxflow")
class RegistrationNet(keras.Model):
    """Moving and fixed images → displacement field (see the module docstring).

    Args:
        spatial_dims: 2 or 3.
        method: one of :data:`METHODS`.
        encoder, decoder, full_resolution: the local U-Net's channels per level.
        affine_channels: the global network's channels, one stride-2 convolution each.
        integration_steps: squarings of ``svf`` methods (7 by default; 0 = the velocity itself).
        integration_downsize: integrate on a grid this many times coarser (1: full resolution).
        field_level: predict the field ``2**field_level`` times coarser (see the module docstring).
        activation: the convolutions' activation (a name of :data:`voxflow.layers.ACTIVATIONS`, e.g.
            NiftyNet's ``prelu``); ``None`` = VoxelMorph's leaky ReLU (slope 0.2).
    """

    network_name: ClassVar[str] = "registration_net"

    def __init__(self, spatial_dims: int = 3, method: str = "ddf", encoder: Any = (16, 32, 32, 32),
                 decoder: Any = (32, 32, 32, 32), full_resolution: Any = (32, 16, 16),
                 affine_channels: Any = (8, 16, 32, 64), integration_steps: int = 7, integration_downsize: int = 2,
                 field_level: int = 0, activation: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("name", self.network_name)
        super().__init__(**kwargs)
        self.spatial_dims = check_spatial_dims(spatial_dims)
        self.method = check_option("method", method, METHODS)
        self.encoder = _ints("encoder", encoder)
        self.decoder = _ints("decoder", decoder)
        self.field_level = int(field_level)
        if not 0 <= self.field_level <= len(self.encoder):
            raise ValueError(f"`field_level` must be between 0 and the encoder's {len(self.encoder)} levels. "
                             f"Received: {field_level!r}.")
        if len(self.decoder) != len(self.encoder) - self.field_level:
            raise ValueError(f"`decoder` needs {len(self.encoder) - self.field_level} entries (the encoder's "
                             f"{len(self.encoder)} levels less field_level {self.field_level}). Received: {decoder!r}.")
        self.full_resolution = _ints("full_resolution", full_resolution)
        self.affine_channels = _ints("affine_channels", affine_channels)
        if int(integration_steps) < 0 or int(integration_downsize) < 1:
            raise ValueError("`integration_steps` must be >= 0 and `integration_downsize` >= 1. Received: "
                             f"{integration_steps!r}, {integration_downsize!r}.")
        self.integration_steps = int(integration_steps)
        self.integration_downsize = int(integration_downsize)
        dims = self.spatial_dims
        self.local = self.method != "affine"
        self.affine = self.method.startswith("affine")
        self.velocity = self.method.endswith("svf")
        if self.local:
            for i, channels in enumerate(self.encoder):
                setattr(self, f"enc_{i}", conv_layer(dims, channels, name=f"enc_{i}"))
            for i, channels in enumerate(self.decoder):
                setattr(self, f"dec_{i}", conv_layer(dims, channels, name=f"dec_{i}"))
            for i, channels in enumerate(self.full_resolution):
                setattr(self, f"full_{i}", conv_layer(dims, channels, name=f"full_{i}"))
            self.head = conv_layer(dims, dims, kernel_initializer="zeros", name="displacement_head")
            self.pool = (keras.layers.MaxPooling3D if dims == 3 else keras.layers.MaxPooling2D)(2, name="pool")
            self.upsample = (keras.layers.UpSampling3D if dims == 3 else keras.layers.UpSampling2D)(2, name="upsample")
        if self.affine:
            for i, channels in enumerate(self.affine_channels):
                setattr(self, f"affine_{i}", conv_layer(dims, channels, strides=2, name=f"affine_{i}"))
            self.affine_head = keras.layers.Dense(dims * (dims + 1), kernel_initializer="zeros",
                                                  bias_initializer="zeros", name="affine_head")
        self.activation_name = None if activation is None else check_option("activation", activation, ACTIVATIONS)
        if self.activation_name is None:
            self.activation = keras.layers.LeakyReLU(0.2, name="leaky_relu")
        else:  # one layer per convolution (prelu learns a slope per channel)
            names = [*(f"enc_{i}" for i in range(len(self.encoder))), *(f"dec_{i}" for i in range(len(self.decoder))),
                     *(f"full_{i}" for i in range(len(self.full_resolution)))] if self.local else []
            names += [f"affine_{i}" for i in range(len(self.affine_channels))] if self.affine else []
            for name in names:
                setattr(self, f"{name}_act", get_activation(self.activation_name, dims, name=f"{name}_act"))

    def _act(self, name: str, x: tf.Tensor) -> tf.Tensor:
        """The activation after convolution ``name``."""
        layer = self.activation if self.activation_name is None else getattr(self, f"{name}_act")
        return layer(x) if layer is not None else x

    # ------------------------------------------------------------------ configuration
    @property
    def window_divisor(self) -> int:
        """Every spatial axis of an input must be a multiple of it (the U-Net's pooling)."""
        return 2 ** len(self.encoder) if self.local else 1

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(spatial_dims=self.spatial_dims, method=self.method, encoder=list(self.encoder),
                      decoder=list(self.decoder), full_resolution=list(self.full_resolution),
                      affine_channels=list(self.affine_channels), integration_steps=self.integration_steps,
                      integration_downsize=self.integration_downsize, field_level=self.field_level,
                      activation=self.activation_name)
        return config

    # ------------------------------------------------------------------ parts
    def _unet(self, x: tf.Tensor, training: Any) -> tf.Tensor:
        skips = []
        for i in range(len(self.encoder)):
            x = self._act(f"enc_{i}", getattr(self, f"enc_{i}")(x))
            skips.append(x)
            x = self.pool(x)
        for i in range(len(self.decoder)):
            x = self.upsample(self._act(f"dec_{i}", getattr(self, f"dec_{i}")(x)))
            x = tf.concat([x, skips.pop()], axis=-1)
        for i in range(len(self.full_resolution)):
            x = self._act(f"full_{i}", getattr(self, f"full_{i}")(x))
        return tf.cast(self.head(x), tf.float32)

    def _affine_matrix(self, x: tf.Tensor) -> tf.Tensor:
        """``(B, D, D + 1)``: ``[A | t]`` in centred, half-size-scaled coordinates (identity at start)."""
        for i in range(len(self.affine_channels)):
            x = self._act(f"affine_{i}", getattr(self, f"affine_{i}")(x))
        pooled = tf.reduce_mean(x, axis=list(range(1, self.spatial_dims + 1)))
        dims = self.spatial_dims
        theta = tf.reshape(tf.cast(self.affine_head(pooled), tf.float32), [-1, dims, dims + 1])
        return theta + tf.eye(dims, dims + 1)

    def _grid_frame(self, shape: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        sizes = tf.cast(shape, tf.float32)
        centre = (sizes - 1.0) / 2.0
        half = tf.maximum(centre, 1.0)
        return identity_grid(tf.unstack(shape)), centre, half

    def affine_points(self, matrix: tf.Tensor, points: tf.Tensor, centre: tf.Tensor, half: tf.Tensor) -> tf.Tensor:
        """Voxel points ``(B, *S, D)`` mapped by the centred affine ``matrix`` ``(B, D, D + 1)``."""
        dims = self.spatial_dims
        scaled = (points - centre) / half
        flat = tf.reshape(scaled, [tf.shape(points)[0], -1, dims])
        moved = tf.einsum("bnj,bij->bni", flat, matrix[..., :dims]) + matrix[:, None, :, dims]
        return tf.reshape(moved, tf.shape(points)) * half + centre

    def _local_field(self, x: tf.Tensor, training: Any) -> tuple[tf.Tensor, tf.Tensor]:
        """The local displacement and what is regularised (the velocity for svf methods), full resolution."""
        field = self._unet(x, training)
        size = tf.unstack(tf.shape(x)[1:-1])
        if self.field_level:
            flow = integrate_velocity(field, self.integration_steps) if self.velocity else field
            return rescale_field(flow, size), rescale_field(field, size)
        if not self.velocity:
            return field, field
        if self.integration_downsize > 1:
            coarse = [tf.maximum(s // self.integration_downsize, 1) for s in size]
            flow = rescale_field(integrate_velocity(rescale_field(field, coarse), self.integration_steps), size)
        else:
            flow = integrate_velocity(field, self.integration_steps)
        return flow, field

    # ------------------------------------------------------------------ forward
    def call(self, inputs: Any, training: Any = None) -> dict[str, tf.Tensor]:
        x = tf.convert_to_tensor(inputs)
        channels = x.shape[-1]
        if x.shape.rank != self.spatial_dims + 2 or channels is None or channels % 2:
            raise ValueError(f"{self.network_name} expects (batch, {self.spatial_dims} spatial axes, 2·C channels: "
                             f"moving then fixed). Received shape {tuple(x.shape)}.")
        if not self.affine:
            field, regularised = self._local_field(x, training)
            return {"displacement": field, "regularised": regularised}
        moving, fixed = x[..., : channels // 2], x[..., channels // 2:]
        matrix = self._affine_matrix(x)
        grid, centre, half = self._grid_frame(tf.shape(x)[1:-1])
        batch_grid = tf.broadcast_to(grid[None], tf.concat([tf.shape(x)[:1], tf.shape(grid)], 0))
        affine_field = self.affine_points(matrix, batch_grid, centre, half) - batch_grid
        if not self.local:
            return {"displacement": affine_field, "regularised": affine_field}
        moved = warp(moving, affine_field, 1)
        local, regularised = self._local_field(tf.concat([tf.cast(moved, x.dtype), fixed], -1), training)
        total = self.affine_points(matrix, batch_grid + local, centre, half) - batch_grid
        return {"displacement": total, "regularised": regularised}


@keras.saving.register_keras_serializable(package="voxflow")
class DisplacementOnly(keras.Model):
    """A registration network that returns only its ``displacement`` (what ``export`` serves)."""

    def __init__(self, network: Any, **kwargs: Any) -> None:
        kwargs.setdefault("name", "registration_displacement")
        super().__init__(**kwargs)
        self.network = network

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["network"] = keras.saving.serialize_keras_object(self.network)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DisplacementOnly:
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)

    def call(self, inputs: Any, training: Any = None) -> tf.Tensor:
        return self.network(inputs, training=training)["displacement"]
