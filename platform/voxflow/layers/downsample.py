"""DownSample: halve (or divide by ``factor``) the spatial size by pooling or a strided conv."""

from __future__ import annotations

from typing import Any

import keras

from voxflow.layers.conv_block import ConvBlock
from voxflow.layers.factories import check_option, check_spatial_dims, pooling_layer

DOWNSAMPLE_MODES = ("max", "avg", "conv")


@keras.saving.register_keras_serializable(package="voxflow")
class DownSample(keras.layers.Layer):
    """Spatial down-sampling by ``factor`` along every axis (SAME padding).

    Modes: ``max`` and ``avg`` pooling (no weights, channels kept) or ``conv``: a ConvBlock with
    kernel and stride ``factor`` (``filters`` channels, default: the input's), followed by the
    block's normalisation and activation, as V-Net's down-convolutions.

    Args:
        spatial_dims: 2 or 3.
        mode: ``max``, ``avg`` or ``conv``.
        factor: the down-sampling factor (pool size / stride).
        filters: output channels for ``conv`` (``None``: keep the input's).
        **block_kwargs: ``ConvBlock`` options for ``conv`` (``norm``, ``acti_func``,
            ``kernel_initializer``, ``kernel_regularizer``, ``keep_prob``...), plus ``name``.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        mode: str = "max",
        factor: int = 2,
        filters: int | None = None,
        **block_kwargs: Any,
    ) -> None:
        layer_kwargs = {k: block_kwargs.pop(k) for k in ("name", "dtype", "trainable") if k in block_kwargs}
        super().__init__(**layer_kwargs)
        self.spatial_dims = check_spatial_dims(spatial_dims)
        self.mode = check_option("mode", mode, DOWNSAMPLE_MODES)
        self.factor = int(factor)
        self.filters = None if filters is None else int(filters)
        self.block_kwargs = dict(block_kwargs)
        if self.mode != "conv" and self.block_kwargs:
            raise TypeError(
                f"DownSample(mode={self.mode!r}) takes no convolution options: {sorted(self.block_kwargs)}."
            )
        self.pool = None
        if self.mode != "conv":
            self.pool = pooling_layer(self.spatial_dims, self.mode, self.factor, name="pool")
        self.conv = None

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if self.mode == "conv":
            filters = self.filters if self.filters is not None else input_shape[-1]
            self.conv = ConvBlock(
                filters,
                self.spatial_dims,
                kernel_size=self.factor,
                strides=self.factor,
                name="conv",
                **self.block_kwargs,
            )
            self.conv.build(tuple(input_shape))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        if self.mode == "conv":
            filters = self.filters if self.filters is not None else input_shape[-1]
            spatial = [None if s is None else -(-s // self.factor) for s in input_shape[1:-1]]
            return (input_shape[0], *spatial, filters)
        return tuple(self.pool.compute_output_shape(tuple(input_shape)))

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if self.conv is not None:
            return self.conv(inputs, training=training)
        return self.pool(inputs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            spatial_dims=self.spatial_dims,
            mode=self.mode,
            factor=self.factor,
            filters=self.filters,
            **self.block_kwargs,
        )
        return config
