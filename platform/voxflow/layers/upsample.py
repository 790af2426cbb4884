"""UpSample: multiply the spatial size by ``factor`` with a transposed conv or a nearest repeat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from voxflow.layers.conv_block import ConvBlock
from voxflow.layers.downsample import check_factor
from voxflow.layers.factories import check_option, check_spatial_dims, upsampling_layer

UPSAMPLE_MODES = ("transpose", "nearest")


@keras.saving.register_keras_serializable(package="voxflow")
class UpSample(keras.layers.Layer):
    """Spatial up-sampling by ``factor`` along every axis, or by one factor per axis.

    Modes: ``transpose``: a transposed convolution with kernel and stride ``factor`` (Çiçek 2016,
    Milletari 2016); ``nearest``: repeat every voxel ``factor`` times (NiftyNet's ``REPLICATE``),
    then a ConvBlock with kernel ``kernel_size`` (avoids checkerboard artefacts). Per-axis factors,
    e.g. ``(1, 2, 2)``, undo a per-axis :class:`~voxflow.layers.DownSample` (nnU-Net's decoder);
    equal ones, ``(2, 2, 2)``, build exactly what ``2`` builds.

    Args:
        filters: output channels.
        spatial_dims: 2 or 3.
        mode: ``transpose`` or ``nearest``.
        factor: the up-sampling factor: an int, or one per spatial axis.
        kernel_size: the convolution kernel for ``nearest`` (``transpose`` uses ``factor``).
        norm: normalisation after the convolution (default ``none``: a plain learned resize).
        acti_func: activation after it (default ``None``).
        **block_kwargs: other ``ConvBlock`` options (``kernel_initializer``,
            ``kernel_regularizer``, ``keep_prob``...), plus ``name``.

    Raises:
        ValueError: an invalid factor or mode.
    """

    def __init__(
        self,
        filters: int,
        spatial_dims: int = 3,
        mode: str = "transpose",
        factor: int | Sequence[int] = 2,
        kernel_size: int = 3,
        norm: str | None = "none",
        acti_func: str | None = None,
        **block_kwargs: Any,
    ) -> None:
        layer_kwargs = {k: block_kwargs.pop(k) for k in ("name", "dtype", "trainable") if k in block_kwargs}
        super().__init__(**layer_kwargs)
        self.filters = int(filters)
        self.spatial_dims = check_spatial_dims(spatial_dims)
        self.mode = check_option("mode", mode, UPSAMPLE_MODES)
        self.factor = check_factor(factor, self.spatial_dims)
        self.kernel_size = int(kernel_size)
        self.norm_name = "none" if norm is None else str(norm).lower()
        self.acti_func = acti_func
        self.block_kwargs = dict(block_kwargs)
        transpose = self.mode == "transpose"
        self.repeat = None if transpose else self._repeat()
        self.conv = ConvBlock(
            self.filters,
            self.spatial_dims,
            kernel_size=self.factor if transpose else self.kernel_size,
            strides=self.factor if transpose else 1,
            transpose=transpose,
            norm=self.norm_name,
            acti_func=self.acti_func,
            name="conv",
            **self.block_kwargs,
        )

    @property
    def factors(self) -> tuple[int, ...]:
        """The up-sampling factor of each spatial axis."""
        return self.factor if isinstance(self.factor, tuple) else (self.factor,) * self.spatial_dims

    def _repeat(self) -> keras.layers.Layer:
        if isinstance(self.factor, int):
            return upsampling_layer(self.spatial_dims, self.factor, name="repeat")
        return getattr(keras.layers, f"UpSampling{self.spatial_dims}D")(size=self.factor, name="repeat")

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        shape = tuple(input_shape)
        if self.repeat is not None:
            shape = tuple(self.repeat.compute_output_shape(shape))
        self.conv.build(shape)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        spatial = [None if s is None else s * f for s, f in zip(input_shape[1:-1], self.factors)]
        return (input_shape[0], *spatial, self.filters)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x = inputs if self.repeat is None else self.repeat(inputs)
        return self.conv(x, training=training)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            filters=self.filters,
            spatial_dims=self.spatial_dims,
            mode=self.mode,
            factor=self.factor,
            kernel_size=self.kernel_size,
            norm=self.norm_name,
            acti_func=self.acti_func,
            **self.block_kwargs,
        )
        return config
