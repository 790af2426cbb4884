"""ConvBlock: convolution, normalisation, activation and dropout as one named layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from voxflow.layers.activations import get_activation
from voxflow.layers.dropout import Dropout
from voxflow.layers.factories import (
    check_spatial_dims,
    conv_layer,
    serialize_initializer,
    serialize_regularizer,
)
from voxflow.layers.normalization import DEFAULT_GROUPS, get_normalization


def check_keep_prob(keep_prob: float) -> float:
    """Return ``keep_prob`` as a float in (0, 1], else raise ValueError."""
    keep_prob = float(keep_prob)
    if not 0.0 < keep_prob <= 1.0:
        raise ValueError(f"Invalid value for `keep_prob`. Expected a number in (0, 1]. Received: {keep_prob!r}.")
    return keep_prob


@keras.saving.register_keras_serializable(package="voxflow")
class ConvBlock(keras.layers.Layer):
    """Convolution → normalisation → activation → dropout (or norm → act → dropout → conv).

    The order ``conv_bn_acti`` is NiftyNet's ``ConvolutionalLayer``; ``preactivation=True`` gives
    the ``bn_acti_conv`` order of pre-activation residual networks (He 2016, HighRes3DNet).
    Padding is always SAME, so with ``strides=1`` the spatial size is kept.

    Args:
        filters: output channels.
        spatial_dims: 2 or 3.
        kernel_size: convolution kernel size along every axis.
        strides: convolution stride along every axis.
        dilation: dilation rate along every axis.
        norm: ``batch``, ``instance``, ``group`` or ``none``.
        acti_func: an activation name (see ``voxflow.layers.activations``) or ``None``.
        keep_prob: probability of keeping a unit in the dropout layer (1.0: no dropout).
        preactivation: normalise and activate the input before the convolution.
        use_bias: convolution bias; by default only when there is no normalisation after it.
        kernel_initializer: a Keras initialiser (name, config dict or instance).
        kernel_regularizer: ``None``, an L2 factor (float) or a Keras regulariser.
        transpose: use a transposed convolution (strides then up-sample).
        groups: the number of groups for ``norm="group"``.
        **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``...).

    Example:
        >>> block = ConvBlock(16, spatial_dims=3, dilation=2, name="conv_1")  # doctest: +SKIP
        >>> y = block(x, training=True)                                      # doctest: +SKIP
    """

    def __init__(
        self,
        filters: int,
        spatial_dims: int = 3,
        kernel_size: int | Sequence[int] = 3,
        strides: int | Sequence[int] = 1,
        dilation: int = 1,
        norm: str | None = "batch",
        acti_func: str | None = "relu",
        keep_prob: float = 1.0,
        preactivation: bool = False,
        use_bias: bool | None = None,
        kernel_initializer: Any = "he_normal",
        kernel_regularizer: Any = None,
        transpose: bool = False,
        groups: int = DEFAULT_GROUPS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.spatial_dims = check_spatial_dims(spatial_dims)
        self.kernel_size = int(kernel_size) if isinstance(kernel_size, (int, np.integer)) else tuple(
            int(k) for k in kernel_size)  # one size, or one per axis (a per-axis transposed up-sampling)
        self.strides = int(strides) if isinstance(strides, (int, np.integer)) else tuple(int(k) for k in strides)
        self.dilation = int(dilation)
        self.norm_name = "none" if norm is None else str(norm).lower()
        self.acti_func = None if acti_func is None else str(acti_func).lower()
        self.keep_prob = check_keep_prob(keep_prob)
        self.preactivation = bool(preactivation)
        self.transpose = bool(transpose)
        self.groups = int(groups)
        self.kernel_initializer = serialize_initializer(kernel_initializer)
        self.kernel_regularizer = serialize_regularizer(kernel_regularizer)

        has_norm = self.norm_name != "none"
        self.use_bias = bool(not has_norm or self.preactivation) if use_bias is None else bool(use_bias)
        self.conv = conv_layer(
            self.spatial_dims,
            self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            dilation=self.dilation,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
            transpose=self.transpose,
            name="conv",
        )
        self.norm = get_normalization(self.norm_name, groups=self.groups, name="norm")
        self.acti = get_activation(self.acti_func, self.spatial_dims, name="acti")
        self.dropout = Dropout(1.0 - self.keep_prob, name="dropout") if self.keep_prob < 1.0 else None

    def _norm_acti_dropout(self, x: Any, training: bool | None) -> Any:
        if self.norm is not None:
            x = self.norm(x, training=training)
        if self.acti is not None:
            x = self.acti(x)
        if self.dropout is not None:
            x = self.dropout(x, training=training)
        return x

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        conv_input = tuple(input_shape)
        after_conv = tuple(self.conv.compute_output_shape(conv_input))
        normalised = conv_input if self.preactivation else after_conv
        for layer in (self.norm, self.acti, self.dropout):
            if layer is not None:
                layer.build(normalised)
        self.conv.build(conv_input)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(self.conv.compute_output_shape(tuple(input_shape)))

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if self.preactivation:
            return self.conv(self._norm_acti_dropout(inputs, training))
        return self._norm_acti_dropout(self.conv(inputs), training)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            filters=self.filters,
            spatial_dims=self.spatial_dims,
            kernel_size=self.kernel_size,
            strides=self.strides,
            dilation=self.dilation,
            norm=self.norm_name,
            acti_func=self.acti_func,
            keep_prob=self.keep_prob,
            preactivation=self.preactivation,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
            transpose=self.transpose,
            groups=self.groups,
        )
        return config
