"""DownSample: halve (or divide by ``factor``) the spatial size by pooling or a strided conv."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import keras

from voxflow.layers.conv_block import ConvBlock
from voxflow.layers.factories import check_option, check_spatial_dims, pooling_layer

DOWNSAMPLE_MODES = ("max", "avg", "conv")
_POOLING_CLASS = {"max": "MaxPooling", "avg": "AveragePooling"}


def check_factor(factor: int | Sequence[int], spatial_dims: int) -> int | tuple[int, ...]:
    """Return a resampling ``factor``: an int for one factor on every axis, else one per spatial axis.

    A sequence of equal factors becomes that int, so ``(2, 2, 2)`` builds exactly what ``2`` builds.

    Raises:
        ValueError: anything but an integer >= 1 or ``spatial_dims`` of them.

    Example:
        >>> check_factor((1, 2, 2), 3), check_factor([2, 2, 2], 3)
        ((1, 2, 2), 2)
    """
    if isinstance(factor, (list, tuple)) and len(factor) == spatial_dims:
        factors = tuple(factor)
    else:
        factors = (factor,)
    if not all(isinstance(f, Integral) and not isinstance(f, bool) and f >= 1 for f in factors):
        raise ValueError(f"Invalid value for `factor`. Expected an integer >= 1 or one per spatial axis "
                         f"({spatial_dims} integers >= 1). Received: {factor!r}.")
    factors = tuple(int(f) for f in factors)
    return factors[0] if len(set(factors)) == 1 else factors


@keras.saving.register_keras_serializable(package="voxflow")
class DownSample(keras.layers.Layer):
    """Spatial down-sampling by ``factor`` along every axis, or by one factor per axis (SAME padding).

    Modes: ``max`` and ``avg`` pooling (no weights, channels kept) or ``conv``: a ConvBlock with
    kernel and stride ``factor`` (``filters`` channels, default: the input's), followed by the
    block's normalisation and activation, as V-Net's down-convolutions. Per-axis factors, e.g.
    ``(1, 2, 2)`` to pool only in-plane (anisotropic data, nnU-Net), are for ``max`` and ``avg``.

    Args:
        spatial_dims: 2 or 3.
        mode: ``max``, ``avg`` or ``conv``.
        factor: the down-sampling factor (pool size / stride): an int, or one per spatial axis.
        filters: output channels for ``conv`` (``None``: keep the input's).
        **block_kwargs: ``ConvBlock`` options for ``conv`` (``norm``, ``acti_func``,
            ``kernel_initializer``, ``kernel_regularizer``, ``keep_prob``...), plus ``name``.

    Raises:
        ValueError: an invalid factor, or per-axis factors with ``mode="conv"``.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        mode: str = "max",
        factor: int | Sequence[int] = 2,
        filters: int | None = None,
        **block_kwargs: Any,
    ) -> None:
        layer_kwargs = {k: block_kwargs.pop(k) for k in ("name", "dtype", "trainable") if k in block_kwargs}
        super().__init__(**layer_kwargs)
        self.spatial_dims = check_spatial_dims(spatial_dims)
        self.mode = check_option("mode", mode, DOWNSAMPLE_MODES)
        self.factor = check_factor(factor, self.spatial_dims)
        if self.mode == "conv" and isinstance(self.factor, tuple):
            raise ValueError(f"Invalid value for `factor` with mode='conv'. Expected one integer for every axis "
                             f"(per-axis factors are for mode='max' or 'avg'). Received: {factor!r}.")
        self.filters = None if filters is None else int(filters)
        self.block_kwargs = dict(block_kwargs)
        if self.mode != "conv" and self.block_kwargs:
            raise TypeError(
                f"DownSample(mode={self.mode!r}) takes no convolution options: {sorted(self.block_kwargs)}."
            )
        self.pool = None
        if self.mode != "conv":
            self.pool = self._pooling()
        self.conv = None

    def _pooling(self) -> keras.layers.Layer:
        if isinstance(self.factor, int):
            return pooling_layer(self.spatial_dims, self.mode, self.factor, name="pool")
        pooling = getattr(keras.layers, f"{_POOLING_CLASS[self.mode]}{self.spatial_dims}D")
        return pooling(pool_size=self.factor, strides=self.factor, padding="same", name="pool")

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
