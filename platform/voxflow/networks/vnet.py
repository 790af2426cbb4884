"""VNet: the residual encoder-decoder of Milletari et al. 2016, for 2-D or 3-D windows."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from voxflow.layers import DownSample, ResidualUnit, UpSample
from voxflow.networks.base import SegmentationNet

DOWN_CONVS = (1, 2, 3, 3)  # residual convolutions per encoder level 0..3
BOTTOM_CONVS = 3  # at level 4
UP_CONVS = (1, 2, 3, 3)  # per decoder level 0..3, i.e. 3, 3, 2, 1 going up


@keras.saving.register_keras_serializable(package="voxflow")
class VNet(SegmentationNet):
    """V-Net: residual stages of ``kernel_size`` convolutions, strided convs down, transposed up.

    Level ``l`` has ``f_l = base_features·2^l`` features (16/32/64/128/256 by default). Encoder
    level ``l`` is a residual stage of 1, 2, 3, 3 convolutions (conv → norm → act, the last
    activation after the addition), followed by a 2× down-convolution (kernel 2, stride 2) to
    ``f_{l+1}``. At level 0 the input is tiled to ``f_0`` channels for the residual addition. The
    bottom stage has 3 convolutions. Going up, a 2× transposed convolution (→ ``f_l``) is
    concatenated with the encoder's level-``l`` output (2·``f_l`` channels) and passed through a
    residual stage of 3, 3, 2, 1 convolutions; a 1×1 convolution gives the logits. Four
    down-samplings: ``window_divisor`` 16.

    Milletari, Navab, Ahmadi: "V-Net: fully convolutional neural networks for volumetric medical
    image segmentation", 3DV 2016.

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet``.
        base_features: features at level 0 (network_arg, default 16).
        kernel_size: kernel of the residual convolutions (network_arg, default 5).
        norm: ``none`` (as the paper, default), ``batch``, ``instance`` or ``group`` (network_arg).
    """

    network_name = "vnet"
    window_divisor = 16

    def __init__(
        self,
        num_classes: int,
        spatial_dims: int = 3,
        *,
        base_features: int = 16,
        kernel_size: int = 5,
        norm: str = "none",
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes, spatial_dims, **kwargs)
        self.base_features = self.positive_int("base_features", base_features)
        self.kernel_size = self.positive_int("kernel_size", kernel_size)
        self.norm = str(norm).lower()
        common = {**self.block_kwargs(), "norm": self.norm}
        levels = len(DOWN_CONVS)
        features = [self.base_features * 2**level for level in range(levels + 1)]

        def stage(name: str, filters: int, num_convs: int, shortcut: str = "auto") -> ResidualUnit:
            return ResidualUnit(
                filters,
                num_convs=num_convs,
                kernel_size=self.kernel_size,
                preactivation=False,
                shortcut=shortcut,
                name=name,
                **common,
            )

        self.down_stages = [
            stage(f"down_{level}", features[level], DOWN_CONVS[level], "tile" if level == 0 else "auto")
            for level in range(levels)
        ]
        self.down_convs = [
            DownSample(mode="conv", factor=2, filters=features[level + 1], name=f"down_conv_{level}", **common)
            for level in range(levels)
        ]
        self.bottom = stage("bottom", features[levels], BOTTOM_CONVS)
        self.up_convs = [
            UpSample(features[level], mode="transpose", name=f"up_conv_{level}", **common) for level in range(levels)
        ]
        self.up_stages = [stage(f"up_{level}", 2 * features[level], UP_CONVS[level]) for level in range(levels)]
        self.head = self.classifier(kernel_size=1)

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        x = inputs
        skips = []
        for stage, down in zip(self.down_stages, self.down_convs):
            x = stage(x, training=training)
            skips.append(x)
            x = down(x, training=training)
        x = self.bottom(x, training=training)
        for level in reversed(range(len(self.up_stages))):
            x = self.up_convs[level](x, training=training)
            x = ops.concatenate([x, skips[level]], axis=-1)
            x = self.up_stages[level](x, training=training)
        return self.head(self.dropout(x, training), training=training)
