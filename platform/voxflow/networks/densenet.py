"""DenseNet: densely connected blocks with bottleneck layers and transitions (Huang et al. 2017).

The layout MONAI users know as ``DenseNet121`` by default::

    window → 7×7 conv stride 2 (init_features) → norm → act → 3×3 max-pool stride 2
           → dense block 1 → transition → dense block 2 → ... → dense block n
           → norm → act → mean over space → [dropout] → FC → (B, num_classes)

A dense block of ``L`` layers adds ``growth_rate`` features per layer, each layer seeing every
feature map before it; a transition halves both the features and the window. Windows must be
multiples of ``4 · 2 ** (len(block_config) - 1)`` (``window_divisor``: 32 for DenseNet121).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from voxflow.layers import ConvBlock, DownSample, get_activation, get_normalization
from voxflow.layers.factories import check_option, check_spatial_dims, serialize_initializer, serialize_regularizer
from voxflow.layers.normalization import NORMALIZATIONS
from voxflow.networks.base import ClassificationNet

_MAX_POOL = {2: keras.layers.MaxPooling2D, 3: keras.layers.MaxPooling3D}


@keras.saving.register_keras_serializable(package="voxflow")
class DenseBlock(keras.layers.Layer):
    """``num_layers`` bottleneck layers, each fed the concatenation of the input and all before it.

    Layer ``i``: norm → act → 1×1(×1) conv to ``bn_size · growth_rate`` features → norm → act →
    3×3(×3) conv to ``growth_rate`` features (no biases: a norm follows every conv). The output
    is ``concat(x, f_0, ..., f_{L-1})``: ``C + num_layers · growth_rate`` channels.

    Args:
        num_layers: layers in the block (≥ 1).
        growth_rate: features each layer adds.
        bn_size: the bottleneck's width, in multiples of ``growth_rate``.
        spatial_dims: 2 or 3.
        norm: ``batch``, ``instance``, ``group`` or ``none``.
        acti_func: activation name.
        kernel_initializer: a Keras initialiser.
        kernel_regularizer: ``None``, an L2 factor or a Keras regulariser.
        **kwargs: ``keras.layers.Layer`` arguments.
    """

    def __init__(
        self,
        num_layers: int,
        growth_rate: int,
        bn_size: int = 4,
        spatial_dims: int = 3,
        norm: str = "batch",
        acti_func: str = "relu",
        kernel_initializer: Any = "he_normal",
        kernel_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_layers = ClassificationNet.positive_int("num_layers", num_layers)
        self.growth_rate = ClassificationNet.positive_int("growth_rate", growth_rate)
        self.bn_size = ClassificationNet.positive_int("bn_size", bn_size)
        self.spatial_dims = check_spatial_dims(spatial_dims)
        self.norm_name = check_option("norm", norm, NORMALIZATIONS)
        self.acti_func = str(acti_func).lower()
        self.kernel_initializer = serialize_initializer(kernel_initializer)
        self.kernel_regularizer = serialize_regularizer(kernel_regularizer)
        common = {
            "spatial_dims": self.spatial_dims,
            "norm": self.norm_name,
            "acti_func": self.acti_func,
            "preactivation": True,
            "use_bias": self.norm_name == "none",
            "kernel_initializer": self.kernel_initializer,
            "kernel_regularizer": self.kernel_regularizer,
        }
        self.bottlenecks = [
            ConvBlock(self.bn_size * self.growth_rate, kernel_size=1, name=f"layer_{i}_bottleneck", **common)
            for i in range(self.num_layers)
        ]
        self.convs = [
            ConvBlock(self.growth_rate, kernel_size=3, name=f"layer_{i}_conv", **common) for i in range(self.num_layers)
        ]

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        shape = tuple(input_shape)
        for bottleneck, conv in zip(self.bottlenecks, self.convs):
            bottleneck.build(shape)
            conv.build(bottleneck.compute_output_shape(shape))
            shape = (*shape[:-1], shape[-1] + self.growth_rate)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        features = inputs
        for bottleneck, conv in zip(self.bottlenecks, self.convs):
            new = conv(bottleneck(features, training=training), training=training)
            features = ops.concatenate([features, new], axis=-1)
        return features

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        channels = None if input_shape[-1] is None else input_shape[-1] + self.num_layers * self.growth_rate
        return (*input_shape[:-1], channels)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            num_layers=self.num_layers,
            growth_rate=self.growth_rate,
            bn_size=self.bn_size,
            spatial_dims=self.spatial_dims,
            norm=self.norm_name,
            acti_func=self.acti_func,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
        )
        return config


@keras.saving.register_keras_serializable(package="voxflow")
class DenseNet(ClassificationNet):
    """DenseNet classifier, DenseNet121 by default (MONAI's ``DenseNet121`` layout).

    Stem: a 7×7(×7) stride-2 conv with ``init_features`` features → norm → act, then a 3×3(×3)
    stride-2 max-pool. Then one :class:`DenseBlock` per entry of ``block_config`` (that many
    bottleneck layers of ``bn_size · growth_rate`` then ``growth_rate`` features), with a
    transition between consecutive blocks: norm → act → 1×1(×1) conv to half the features →
    2× average pooling (the features: :meth:`transition_features`). Finally norm → act → mean over the window → dropout (``keep_prob``) →
    a fully connected layer to ``num_classes`` logits.

    Features: DenseNet121 (64, 32, (6, 12, 24, 16), 4) has 1024 before the classifier. With the
    defaults a 96³ window is 3³ at the last block; windows must be multiples of
    ``4 · 2 ** (len(block_config) - 1)`` (``window_divisor``, 32 by default; axes of size 1
    excepted).

    ≠MONAI: SAME padding (the stem's padding falls one voxel later on even windows), windows a
    multiple of the down-sampling factor (MONAI floors odd sizes), ``keep_prob`` drops the pooled
    features before the classifier (MONAI's ``dropout_prob`` acts inside every dense layer),
    ``norm`` and ``acti_func`` from the contract.

    Huang, Liu, van der Maaten, Weinberger: "Densely connected convolutional networks", CVPR 2017.

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet``.
        init_features: features of the stem convolution (network_arg, default 64).
        growth_rate: features each dense layer adds (network_arg, default 32).
        block_config: layers of each dense block (network_arg, default ``(6, 12, 24, 16)``).
        bn_size: bottleneck width in multiples of ``growth_rate`` (network_arg, default 4).
        norm: ``batch``, ``instance``, ``group`` or ``none`` (network_arg, default ``batch``).

    Example:
        >>> tiny = DenseNet(2, spatial_dims=3, init_features=8, growth_rate=4, block_config=(2, 2))  # doctest: +SKIP
        >>> tiny(np.zeros((2, 16, 16, 16, 1), "float32")).shape                                     # doctest: +SKIP
        TensorShape([2, 2])
    """

    network_name = "densenet"
    window_divisor = 32  # for the default block_config; instances use 4 * 2 ** (len(block_config) - 1)

    def __init__(
        self,
        num_classes: int,
        spatial_dims: int = 3,
        *,
        init_features: int = 64,
        growth_rate: int = 32,
        block_config: tuple[int, ...] = (6, 12, 24, 16),
        bn_size: int = 4,
        norm: str = "batch",
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes, spatial_dims, **kwargs)
        self.init_features = self.positive_int("init_features", init_features)
        self.growth_rate = self.positive_int("growth_rate", growth_rate)
        self.block_config = self.positive_ints("block_config", block_config)
        self.bn_size = self.positive_int("bn_size", bn_size)
        self.norm = check_option("norm", norm, NORMALIZATIONS)
        self.window_divisor = 4 * 2 ** (len(self.block_config) - 1)

        common = {**self.block_kwargs(), "norm": self.norm}
        self.stem = ConvBlock(self.init_features, kernel_size=7, strides=2, name="stem", **common)
        self.stem_pool = _MAX_POOL[self.spatial_dims](pool_size=3, strides=2, padding="same", name="stem_pool")
        self.blocks = [
            DenseBlock(num_layers, self.growth_rate, self.bn_size, name=f"block_{index}", **common)
            for index, num_layers in enumerate(self.block_config)
        ]
        self.transitions = [
            ConvBlock(features, kernel_size=1, preactivation=True, use_bias=self.norm == "none",
                      name=f"transition_{index}", **common)
            for index, features in enumerate(self.transition_features())
        ]
        self.transition_pool = DownSample(self.spatial_dims, mode="avg", factor=2, name="transition_pool")
        self.final_norm = get_normalization(self.norm, name="final_norm")
        self.final_acti = get_activation(self.acti_func, self.spatial_dims, name="final_acti")
        self.fc = self.linear_classifier()

    def transition_features(self) -> list[int]:
        """The features after each transition: half of those entering it (at least 1)."""
        features, out = self.init_features, []
        for num_layers in self.block_config[:-1]:
            features = max(1, (features + num_layers * self.growth_rate) // 2)
            out.append(features)
        return out

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        x = self.stem_pool(self.stem(inputs, training=training))
        for index, block in enumerate(self.blocks):
            x = block(x, training=training)
            if index < len(self.transitions):
                x = self.transition_pool(self.transitions[index](x, training=training))
        if self.final_norm is not None:
            x = self.final_norm(x, training=training)
        x = self.global_mean(self.final_acti(x))
        return self.fc(self.dropout(x, training))
