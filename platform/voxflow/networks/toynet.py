"""ToyNet: the smallest segmentation network, for smoke tests."""

from __future__ import annotations

from typing import Any

import keras

from voxflow.layers import ConvBlock
from voxflow.networks.base import SegmentationNet


@keras.saving.register_keras_serializable(package="voxflow")
class ToyNet(SegmentationNet):
    """A 3×3(×3) convolution with 10 features and an activation, then a 1×1 classifier.

    No down-sampling (``window_divisor`` 1) and no network_args.

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet``.
    """

    network_name = "toynet"
    window_divisor = 1
    features = 10

    def __init__(self, num_classes: int, spatial_dims: int = 3, **kwargs: Any) -> None:
        super().__init__(num_classes, spatial_dims, **kwargs)
        common = self.block_kwargs()
        self.conv = ConvBlock(self.features, kernel_size=3, norm="none", name="conv", **common)
        self.head = self.classifier(kernel_size=1)

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        x = self.conv(inputs, training=training)
        return self.head(self.dropout(x, training), training=training)
