"""DenseVNet: the dense V-network of Gibson et al. 2018, for 2-D or 3-D windows."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from voxflow.layers import ConvBlock, DenseFeatureStack, DownSample, LinearResize
from voxflow.networks.base import SegmentationNet

INITIAL_FEATURES = 24
INITIAL_KERNEL = 5
STACK_LAYERS = (5, 10, 10)
STACK_GROWTH = (4, 8, 16)
SKIP_FEATURES = (12, 24, 24)
DOWN_FEATURES = (24, 24)


@keras.saving.register_keras_serializable(package="voxflow")
class DenseVNet(SegmentationNet):
    """Dense V-Net: three dense feature stacks whose skip outputs meet at half resolution.

    The input is brought to ½ resolution twice — 2× average pooling, and a 5×5(×5) stride-2
    convolution with 24 features — and the two are concatenated. Three dense feature stacks
    (5/10/10 pre-activation layers, growth 4/8/16) follow at ½, ¼ and ⅛ resolution; after each,
    a 3×3(×3) skip convolution (12/24/24 features) and, between stacks, a stride-2 down
    convolution (24 features). The skip outputs are resized linearly to the ½ grid, concatenated,
    and a 3×3(×3) convolution gives logits, resized linearly to the input size.

    Differences from NiftyNet's ``dense_vnet``: no built-in random affine augmentation (use the
    augmentation layers), no learned spatial prior, no batch-wise dropout (``keep_prob`` is a
    plain dropout before the classifier). Three down-samplings: ``window_divisor`` 8.

    Gibson et al.: "Automatic multi-organ segmentation on abdominal CT with dense V-networks",
    IEEE TMI 2018.

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet``.
        norm: ``batch``, ``instance``, ``group`` or ``none`` (network_arg, default ``batch``).
    """

    network_name = "dense_vnet"
    window_divisor = 8

    def __init__(self, num_classes: int, spatial_dims: int = 3, *, norm: str = "batch", **kwargs: Any) -> None:
        super().__init__(num_classes, spatial_dims, **kwargs)
        self.norm = str(norm).lower()
        common = {**self.block_kwargs(), "norm": self.norm}
        self.input_pool = DownSample(self.spatial_dims, mode="avg", factor=2, name="input_pool")
        self.input_conv = ConvBlock(
            INITIAL_FEATURES, kernel_size=INITIAL_KERNEL, strides=2, name="input_conv", **common
        )
        self.stacks = [
            DenseFeatureStack(layers, growth, name=f"stack_{i}", **common)
            for i, (layers, growth) in enumerate(zip(STACK_LAYERS, STACK_GROWTH))
        ]
        self.skip_convs = [
            ConvBlock(features, kernel_size=3, name=f"skip_conv_{i}", **common)
            for i, features in enumerate(SKIP_FEATURES)
        ]
        self.down_convs = [
            ConvBlock(features, kernel_size=3, strides=2, name=f"down_conv_{i}", **common)
            for i, features in enumerate(DOWN_FEATURES)
        ]
        self.resize_skip = LinearResize(self.spatial_dims, name="resize_skip")
        self.resize_output = LinearResize(self.spatial_dims, name="resize_output")
        self.head = self.classifier(kernel_size=3)

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        x = ops.concatenate(
            [self.input_pool(inputs), ops.cast(self.input_conv(inputs, training=training), inputs.dtype)], axis=-1
        )
        skips = []
        for i, stack in enumerate(self.stacks):
            features = stack(x, training=training)
            skips.append(self.skip_convs[i](features, training=training))
            if i < len(self.down_convs):
                x = self.down_convs[i](features, training=training)
        reference = skips[0]
        merged = ops.concatenate([reference] + [self.resize_skip([s, reference]) for s in skips[1:]], axis=-1)
        logits = self.head(self.dropout(merged, training), training=training)
        return self.resize_output([logits, inputs])
