"""DenseFeatureStack: densely connected ConvBlocks (Huang 2017), as DenseVNet's feature stacks."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from voxflow.layers.conv_block import ConvBlock, check_keep_prob
from voxflow.layers.factories import check_spatial_dims, serialize_initializer, serialize_regularizer
from voxflow.layers.normalization import DEFAULT_GROUPS


@keras.saving.register_keras_serializable(package="voxflow")
class DenseFeatureStack(keras.layers.Layer):
    """``num_layers`` pre-activation ConvBlocks, each fed the concatenation of all before it.

    Layer ``i`` sees ``concat(x, f_0, ..., f_{i-1})`` and adds ``growth`` channels ``f_i``; the
    output is ``concat(x, f_0, ..., f_{num_layers-1})`` with ``C + num_layers·growth`` channels
    (Gibson 2018's dense feature stack keeps the input in its output).

    Args:
        num_layers: number of ConvBlocks (≥ 1).
        growth: channels each ConvBlock adds.
        spatial_dims: 2 or 3.
        kernel_size: kernel size of every ConvBlock.
        dilation: dilation rate of every ConvBlock.
        norm: ``batch``, ``instance``, ``group`` or ``none``.
        acti_func: activation name.
        keep_prob: dropout keep probability inside the blocks.
        kernel_initializer: a Keras initialiser.
        kernel_regularizer: ``None``, an L2 factor or a Keras regulariser.
        groups: groups for ``norm="group"``.
        **kwargs: ``keras.layers.Layer`` arguments.
    """

    def __init__(
        self,
        num_layers: int,
        growth: int,
        spatial_dims: int = 3,
        kernel_size: int = 3,
        dilation: int = 1,
        norm: str | None = "batch",
        acti_func: str | None = "relu",
        keep_prob: float = 1.0,
        kernel_initializer: Any = "he_normal",
        kernel_regularizer: Any = None,
        groups: int = DEFAULT_GROUPS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if int(num_layers) < 1:
            raise ValueError(f"Invalid value for `num_layers`. Expected an integer >= 1. Received: {num_layers!r}.")
        self.num_layers = int(num_layers)
        self.growth = int(growth)
        self.spatial_dims = check_spatial_dims(spatial_dims)
        self.kernel_size = int(kernel_size)
        self.dilation = int(dilation)
        self.norm_name = "none" if norm is None else str(norm).lower()
        self.acti_func = None if acti_func is None else str(acti_func).lower()
        self.keep_prob = check_keep_prob(keep_prob)
        self.kernel_initializer = serialize_initializer(kernel_initializer)
        self.kernel_regularizer = serialize_regularizer(kernel_regularizer)
        self.groups = int(groups)
        self.blocks = [
            ConvBlock(
                self.growth,
                self.spatial_dims,
                kernel_size=self.kernel_size,
                dilation=self.dilation,
                norm=self.norm_name,
                acti_func=self.acti_func,
                keep_prob=self.keep_prob,
                preactivation=True,
                kernel_initializer=self.kernel_initializer,
                kernel_regularizer=self.kernel_regularizer,
                groups=self.groups,
                name=f"conv_{i}",
            )
            for i in range(self.num_layers)
        ]

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        shape = tuple(input_shape)
        for block in self.blocks:
            block.build(shape)
            shape = (*shape[:-1], shape[-1] + self.growth)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        features = inputs
        for block in self.blocks:
            features = ops.concatenate([features, block(features, training=training)], axis=-1)
        return features

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        channels = None if input_shape[-1] is None else input_shape[-1] + self.num_layers * self.growth
        return (*input_shape[:-1], channels)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            num_layers=self.num_layers,
            growth=self.growth,
            spatial_dims=self.spatial_dims,
            kernel_size=self.kernel_size,
            dilation=self.dilation,
            norm=self.norm_name,
            acti_func=self.acti_func,
            keep_prob=self.keep_prob,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
            groups=self.groups,
        )
        return config
