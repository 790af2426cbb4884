"""ResNet: NiftyNet's classifier of pre-activation bottleneck units (He et al. 2016).

A 3×3(×3) convolution, then one "DownRes" block per resolution of ``n_blocks_per_resolution``
bottleneck units each, then norm → activation → global mean → fully connected logits::

    window → conv (n_features[0]) → DownRes(n_features[1], stride 1) → DownRes(n_features[2], stride 2)
           → ... → norm → act → mean over space → [dropout] → FC → (B, num_classes)

Each resolution after the first halves the window, so windows must be multiples of
``2 ** (len(n_features) - 2)`` (``window_divisor``: 4 for the default features).
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras
from keras import ops

from voxflow.layers import ConvBlock, conv_layer, get_activation, get_normalization
from voxflow.layers.factories import check_option, check_spatial_dims, serialize_initializer, serialize_regularizer
from voxflow.layers.normalization import NORMALIZATIONS
from voxflow.networks.base import ClassificationNet


@keras.saving.register_keras_serializable(package="voxflow")
class BottleneckUnit(keras.layers.Layer):
    """A full pre-activation bottleneck residual unit (He et al. 2016, "identity mappings").

    ``p = act(norm(x))``; the residual branch is a 1×1(×1) conv to ``filters // 4`` features with
    the unit's stride, a pre-activated 3×3(×3) conv at that width and a pre-activated 1×1(×1) conv
    back to ``filters``, then :meth:`recalibrate` (the identity here; channel gates in SE-ResNet).
    The shortcut is ``x`` itself, or, when the width or the size changes, a 1×1(×1) conv of ``p``
    with the unit's stride (NiftyNet's ``BottleneckBlock``: the projection shares the branch's
    pre-activation).

    Args:
        filters: output channels; the bottleneck has ``max(1, filters // 4)``.
        spatial_dims: 2 or 3.
        strides: stride of the first 1×1 conv and of the projection.
        norm: ``batch``, ``instance``, ``group`` or ``none``.
        acti_func: activation name.
        kernel_initializer: a Keras initialiser.
        kernel_regularizer: ``None``, an L2 factor or a Keras regulariser.
        **kwargs: ``keras.layers.Layer`` arguments.
    """

    def __init__(
        self,
        filters: int,
        spatial_dims: int = 3,
        strides: int = 1,
        norm: str = "batch",
        acti_func: str = "relu",
        kernel_initializer: Any = "he_normal",
        kernel_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.spatial_dims = check_spatial_dims(spatial_dims)
        self.strides = int(strides)
        self.norm_name = check_option("norm", norm, NORMALIZATIONS)
        self.acti_func = str(acti_func).lower()
        self.kernel_initializer = serialize_initializer(kernel_initializer)
        self.kernel_regularizer = serialize_regularizer(kernel_regularizer)
        self.bottleneck_features = max(1, self.filters // 4)

        convs = {
            "spatial_dims": self.spatial_dims,
            "use_bias": self.norm_name == "none",
            "kernel_initializer": self.kernel_initializer,
            "kernel_regularizer": self.kernel_regularizer,
        }
        blocks = {**convs, "norm": self.norm_name, "acti_func": self.acti_func, "preactivation": True}
        self.norm = get_normalization(self.norm_name, name="norm")
        self.acti = get_activation(self.acti_func, self.spatial_dims, name="acti")
        self.reduce = conv_layer(filters=self.bottleneck_features, kernel_size=1, strides=self.strides,
                                 name="reduce", **convs)
        self.conv = ConvBlock(self.bottleneck_features, kernel_size=3, name="conv", **blocks)
        self.expand = ConvBlock(self.filters, kernel_size=1, name="expand", **blocks)
        self.projection = None
        self.projection_kwargs = {**convs, "filters": self.filters, "kernel_size": 1, "strides": self.strides}

    def recalibrate(self, x: Any) -> Any:
        """Applied to the residual branch before the addition: the identity (see SE-ResNet)."""
        return x

    def build_recalibration(self, shape: tuple[int | None, ...]) -> None:
        """Create the weights of :meth:`recalibrate` for a branch of ``shape`` (none here)."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        shape = tuple(input_shape)
        for layer in (self.norm, self.acti):
            if layer is not None:
                layer.build(shape)
        if shape[-1] != self.filters or self.strides != 1:
            self.projection = conv_layer(name="projection", **self.projection_kwargs)
            self.projection.build(shape)
        self.reduce.build(shape)
        shape = tuple(self.reduce.compute_output_shape(shape))
        self.conv.build(shape)
        shape = self.conv.compute_output_shape(shape)
        self.expand.build(shape)
        self.build_recalibration(self.expand.compute_output_shape(shape))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        spatial = [None if s is None else -(-s // self.strides) for s in input_shape[1:-1]]
        return (input_shape[0], *spatial, self.filters)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        activated = inputs if self.norm is None else self.norm(inputs, training=training)
        activated = activated if self.acti is None else self.acti(activated)
        x = self.reduce(activated)
        x = self.expand(self.conv(x, training=training), training=training)
        x = self.recalibrate(x)
        shortcut = inputs if self.projection is None else self.projection(activated)
        return ops.add(x, ops.cast(shortcut, x.dtype))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            filters=self.filters,
            spatial_dims=self.spatial_dims,
            strides=self.strides,
            norm=self.norm_name,
            acti_func=self.acti_func,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
        )
        return config


@keras.saving.register_keras_serializable(package="voxflow")
class ResNet(ClassificationNet):
    """ResNet (NiftyNet's ``resnet``): pre-activation bottleneck units, global mean, FC.

    A 3×3(×3) conv (no norm, no activation) with ``n_features[0]`` features; then for each later
    entry of ``n_features`` a DownRes block of ``n_blocks_per_resolution`` :class:`BottleneckUnit`\\ s
    (bottleneck width = features / 4), whose first unit has stride 1 for the first block and 2
    for the others and projects the shortcut with a strided 1×1(×1) conv when the width changes;
    then norm → activation → mean over the window → dropout (``keep_prob``) → a fully connected
    layer to ``num_classes`` logits.

    ≠NiftyNet: the final and shared pre-activations use ``acti_func`` (NiftyNet: always ReLU); a
    unit that keeps the width but strides also projects its shortcut (NiftyNet's would fail); the
    bottleneck has at least one feature; ``norm`` may be other than batch; windows must be
    multiples of the down-sampling factor ``2 ** (len(n_features) - 2)`` (NiftyNet took any).

    He, Zhang, Ren, Sun: "Identity mappings in deep residual networks", ECCV 2016.

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet``.
        n_features: features of the first conv, then of each resolution (network_arg, default
            ``(16, 64, 128, 256)``; at least 2 entries).
        n_blocks_per_resolution: bottleneck units per resolution (network_arg, default 10).
        norm: ``batch``, ``instance``, ``group`` or ``none`` (network_arg, default ``batch``).

    Example:
        >>> net = ResNet(4, spatial_dims=2, n_features=(8, 16, 32), n_blocks_per_resolution=1)  # doctest: +SKIP
        >>> net(np.zeros((2, 32, 32, 1), "float32")).shape                                      # doctest: +SKIP
        TensorShape([2, 4])
    """

    network_name = "resnet"
    window_divisor = 4  # for the default n_features; instances use 2 ** (len(n_features) - 2)
    #: The residual unit of every resolution (SE-ResNet's adds channel gates).
    unit_class: ClassVar[type[BottleneckUnit]] = BottleneckUnit

    def __init__(
        self,
        num_classes: int,
        spatial_dims: int = 3,
        *,
        n_features: tuple[int, ...] = (16, 64, 128, 256),
        n_blocks_per_resolution: int = 10,
        norm: str = "batch",
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes, spatial_dims, **kwargs)
        self.n_features = self.positive_ints("n_features", n_features, min_length=2)
        self.n_blocks_per_resolution = self.positive_int("n_blocks_per_resolution", n_blocks_per_resolution)
        self.norm = check_option("norm", norm, NORMALIZATIONS)
        self.window_divisor = 2 ** (len(self.n_features) - 2)
        first_conv = {**self.block_kwargs(), "norm": "none", "acti_func": None, "use_bias": False}
        self.conv_0 = ConvBlock(self.n_features[0], kernel_size=3, name="conv_0", **first_conv)
        self.units = [
            self.unit_class(features, strides=self.unit_stride(resolution, unit), name=f"res_{resolution}_{unit}",
                            **self.unit_kwargs())
            for resolution, features in enumerate(self.n_features[1:])
            for unit in range(self.n_blocks_per_resolution)
        ]
        self.final_norm = get_normalization(self.norm, name="final_norm")
        self.final_acti = get_activation(self.acti_func, self.spatial_dims, name="final_acti")
        self.fc = self.linear_classifier()

    @staticmethod
    def unit_stride(resolution: int, unit: int) -> int:
        """2 for the first unit of every resolution but the first, else 1."""
        return 2 if resolution > 0 and unit == 0 else 1

    def unit_kwargs(self) -> dict[str, Any]:
        """The options every bottleneck unit shares."""
        return {
            "spatial_dims": self.spatial_dims,
            "norm": self.norm,
            "acti_func": self.acti_func,
            "kernel_initializer": self.w_initializer,
            "kernel_regularizer": self.w_regularizer,
        }

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        x = self.conv_0(inputs, training=training)
        for unit in self.units:
            x = unit(x, training=training)
        if self.final_norm is not None:
            x = self.final_norm(x, training=training)
        x = self.global_mean(self.final_acti(x))
        return self.fc(self.dropout(x, training))
