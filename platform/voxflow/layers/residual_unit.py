"""ResidualUnit: a stack of ConvBlocks plus a shortcut (He 2016), both orderings."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from voxflow.layers.activations import get_activation
from voxflow.layers.conv_block import ConvBlock, check_keep_prob
from voxflow.layers.factories import (
    check_option,
    check_spatial_dims,
    conv_layer,
    serialize_initializer,
    serialize_regularizer,
)
from voxflow.layers.normalization import DEFAULT_GROUPS

SHORTCUTS = ("auto", "projection", "pad", "tile")


def match_channels(x: Any, channels: int, mode: str) -> Any:
    """Bring ``x`` to ``channels`` channels without weights.

    ``pad`` appends zero channels (NiftyNet's ``ElementwiseLayer('SUM')``); ``tile`` repeats the
    channels and keeps the first ``channels`` (V-Net's tiled input). Both keep the first channels
    of ``x`` when it has more than ``channels``.
    """
    have = x.shape[-1]
    if have == channels:
        return x
    if have > channels:
        return x[..., :channels]
    if mode == "pad":
        pad = [[0, 0]] * (len(x.shape) - 1) + [[0, channels - have]]
        return ops.pad(x, pad)
    repeats = -(-channels // have)
    return ops.tile(x, [1] * (len(x.shape) - 1) + [repeats])[..., :channels]


@keras.saving.register_keras_serializable(package="voxflow")
class ResidualUnit(keras.layers.Layer):
    """``num_convs`` ConvBlocks with a shortcut added to their output.

    Orderings:
        - ``preactivation=True`` (He 2016 identity mappings, HighRes3DNet):
          ``y = x + [norm → act → conv] × num_convs (x)``.
        - ``preactivation=False`` (original ResNet / V-Net):
          ``y = act(x + [conv → norm → act] × (num_convs − 1) → conv → norm (x))``.

    Shortcuts: ``auto`` is the identity when the channel count is kept and the stride is 1, else a
    1×1 projection convolution; ``projection`` always projects; ``pad`` zero-pads the channels;
    ``tile`` repeats the input channels (V-Net). Only ``auto``/``projection`` support ``strides``.

    Args:
        filters: output channels.
        spatial_dims: 2 or 3.
        num_convs: number of ConvBlocks (≥ 1).
        kernel_size: kernel size of every ConvBlock.
        dilation: dilation rate of every ConvBlock.
        strides: stride of the first ConvBlock (and of the projection shortcut).
        norm: ``batch``, ``instance``, ``group`` or ``none``.
        acti_func: activation name.
        keep_prob: dropout keep probability inside the blocks (1.0: none).
        preactivation: ordering, see above.
        shortcut: ``auto``, ``projection``, ``pad`` or ``tile``.
        kernel_initializer: a Keras initialiser.
        kernel_regularizer: ``None``, an L2 factor or a Keras regulariser.
        groups: groups for ``norm="group"``.
        **kwargs: ``keras.layers.Layer`` arguments.
    """

    def __init__(
        self,
        filters: int,
        spatial_dims: int = 3,
        num_convs: int = 2,
        kernel_size: int = 3,
        dilation: int = 1,
        strides: int = 1,
        norm: str | None = "batch",
        acti_func: str | None = "relu",
        keep_prob: float = 1.0,
        preactivation: bool = True,
        shortcut: str = "auto",
        kernel_initializer: Any = "he_normal",
        kernel_regularizer: Any = None,
        groups: int = DEFAULT_GROUPS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if int(num_convs) < 1:
            raise ValueError(f"Invalid value for `num_convs`. Expected an integer >= 1. Received: {num_convs!r}.")
        self.filters = int(filters)
        self.spatial_dims = check_spatial_dims(spatial_dims)
        self.num_convs = int(num_convs)
        self.kernel_size = int(kernel_size)
        self.dilation = int(dilation)
        self.strides = int(strides)
        self.norm_name = "none" if norm is None else str(norm).lower()
        self.acti_func = None if acti_func is None else str(acti_func).lower()
        self.keep_prob = check_keep_prob(keep_prob)
        self.preactivation = bool(preactivation)
        self.shortcut = check_option("shortcut", shortcut, SHORTCUTS)
        if self.strides != 1 and self.shortcut in ("pad", "tile"):
            raise ValueError(f"A `{self.shortcut}` shortcut cannot change the spatial size (strides={self.strides}).")
        self.kernel_initializer = serialize_initializer(kernel_initializer)
        self.kernel_regularizer = serialize_regularizer(kernel_regularizer)
        self.groups = int(groups)

        last = self.num_convs - 1
        self.blocks = [
            ConvBlock(
                self.filters,
                self.spatial_dims,
                kernel_size=self.kernel_size,
                strides=self.strides if i == 0 else 1,
                dilation=self.dilation,
                norm=self.norm_name,
                # The original ordering activates only after the addition.
                acti_func=self.acti_func if (self.preactivation or i < last) else None,
                keep_prob=self.keep_prob,
                preactivation=self.preactivation,
                kernel_initializer=self.kernel_initializer,
                kernel_regularizer=self.kernel_regularizer,
                groups=self.groups,
                name=f"conv_{i}",
            )
            for i in range(self.num_convs)
        ]
        self.output_acti = None
        if not self.preactivation:
            self.output_acti = get_activation(self.acti_func, self.spatial_dims, name="acti")
        self.projection = None

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        needs_projection = input_shape[-1] != self.filters or self.strides != 1
        if self.shortcut == "projection" or (self.shortcut == "auto" and needs_projection):
            self.projection = conv_layer(
                self.spatial_dims,
                self.filters,
                kernel_size=1,
                strides=self.strides,
                kernel_initializer=self.kernel_initializer,
                kernel_regularizer=self.kernel_regularizer,
                name="projection",
            )
            self.projection.build(tuple(input_shape))
        shape = tuple(input_shape)
        for block in self.blocks:
            block.build(shape)
            shape = block.compute_output_shape(shape)
        if self.output_acti is not None:
            self.output_acti.build(shape)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        shape = tuple(input_shape)
        for block in self.blocks:
            shape = block.compute_output_shape(shape)
        return shape

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x = inputs
        for block in self.blocks:
            x = block(x, training=training)
        if self.projection is not None:
            shortcut = self.projection(inputs)
        else:
            shortcut = match_channels(inputs, self.filters, self.shortcut)
        x = ops.add(x, ops.cast(shortcut, x.dtype))
        if self.output_acti is not None:
            x = self.output_acti(x)
        return x

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            filters=self.filters,
            spatial_dims=self.spatial_dims,
            num_convs=self.num_convs,
            kernel_size=self.kernel_size,
            dilation=self.dilation,
            strides=self.strides,
            norm=self.norm_name,
            acti_func=self.acti_func,
            keep_prob=self.keep_prob,
            preactivation=self.preactivation,
            shortcut=self.shortcut,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
            groups=self.groups,
        )
        return config
