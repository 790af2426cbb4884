"""HighRes3DNet: full-resolution dilated residual network of Li et al. 2017."""

from __future__ import annotations

from typing import Any

import keras

from voxflow.layers import ConvBlock, ResidualUnit
from voxflow.networks.base import SegmentationNet

# (features, dilation) of the three stages of three residual units each.
STAGES = ((16, 1), (32, 2), (64, 4))
UNITS_PER_STAGE = 3


@keras.saving.register_keras_serializable(package="voxflow")
class HighRes3DNet(SegmentationNet):
    """HighRes3DNet: no down-sampling; context grows through dilated convolutions.

    3×3(×3) conv with 16 features (conv → norm → act), then 3 pre-activation residual units
    (two norm → act → conv each) at 16 features dilation 1, 3 at 32 dilation 2, 3 at 64
    dilation 4 (channel increases zero-pad the shortcut, as NiftyNet did), then a 1×1 conv with
    80 features (conv → norm → act) and a 1×1 classifier. Dilation uses Keras' ``dilation_rate``,
    so any window size works (``window_divisor`` 1).

    Li, Wang, Fidon, Ourselin, Cardoso, Vercauteren: "On the compactness, efficiency, and
    representation of 3D convolutional networks: brain parcellation as a pretext task", IPMI 2017.

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet``.
        norm: ``batch``, ``instance``, ``group`` or ``none`` (network_arg, default ``batch``).
    """

    network_name = "highres3dnet"
    window_divisor = 1

    def __init__(self, num_classes: int, spatial_dims: int = 3, *, norm: str = "batch", **kwargs: Any) -> None:
        super().__init__(num_classes, spatial_dims, **kwargs)
        self.norm = str(norm).lower()
        common = {**self.block_kwargs(), "norm": self.norm}
        self.conv_0 = ConvBlock(STAGES[0][0], kernel_size=3, name="conv_0", **common)
        self.res_units = [
            ResidualUnit(
                features,
                num_convs=2,
                kernel_size=3,
                dilation=dilation,
                preactivation=True,
                shortcut="pad",
                name=f"res_{stage}_{unit}",
                **common,
            )
            for stage, (features, dilation) in enumerate(STAGES)
            for unit in range(UNITS_PER_STAGE)
        ]
        self.conv_1 = ConvBlock(80, kernel_size=1, name="conv_1", **common)
        self.head = self.classifier(kernel_size=1)

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        x = self.conv_0(inputs, training=training)
        for unit in self.res_units:
            x = unit(x, training=training)
        x = self.conv_1(x, training=training)
        return self.head(self.dropout(x, training), training=training)
