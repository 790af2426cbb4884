"""HighRes3DNet (Li et al. 2017) and NiftyNet's two variants of it, ``_small`` and ``_large``.

All three share the residual body: a 3×3(×3) convolution with 16 features, then 3 pre-activation
residual units at 16 features dilation 1, 3 at 32 dilation 2 and 3 at 64 dilation 4. They differ
in what comes before and after it (the "tail" before the 1×1 classifier):

- ``highres3dnet``: first conv stride 1; tail a 1×1 conv with 80 features (``window_divisor`` 1).
- ``highres3dnet_small``: first conv stride 2, so the body runs at half resolution; tail a 3×3
  conv with 80 features and a 3×3 stride-2 transposed conv with 80 features back to full
  resolution (``window_divisor`` 2).
- ``highres3dnet_large``: first conv stride 1; tail a 3×3 conv with 64 features and a 1×1 conv
  with 64 features (``window_divisor`` 1).

Dilation uses Keras' ``dilation_rate`` (NiftyNet used space-to-batch and asked for windows
divisible by 8): ≠NiftyNet, any window works for the full-resolution networks and any even
window for ``highres3dnet_small``.
"""

from __future__ import annotations

from typing import Any

import keras

from voxflow.layers import ConvBlock, ResidualUnit
from voxflow.networks.base import SegmentationNet

# (features, dilation) of the three stages of three residual units each.
STAGES = ((16, 1), (32, 2), (64, 4))
UNITS_PER_STAGE = 3


def residual_stages(common: dict[str, Any]) -> list[ResidualUnit]:
    """HighRes3DNet's nine residual units ``res_<stage>_<unit>`` (pre-activation, zero-padded
    shortcuts when the channel count grows, as NiftyNet did)."""
    return [
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
    #: Stride of the first convolution (2: the residual body runs at half resolution).
    input_stride = 1

    def __init__(self, num_classes: int, spatial_dims: int = 3, *, norm: str = "batch", **kwargs: Any) -> None:
        super().__init__(num_classes, spatial_dims, **kwargs)
        self.norm = str(norm).lower()
        common = {**self.block_kwargs(), "norm": self.norm}
        self.conv_0 = ConvBlock(STAGES[0][0], kernel_size=3, strides=self.input_stride, name="conv_0", **common)
        self.res_units = residual_stages(common)
        self.tail = self.tail_blocks(common)
        self.head = self.classifier(kernel_size=1)

    def tail_blocks(self, common: dict[str, Any]) -> list[ConvBlock]:
        """The blocks between the last residual unit and the classifier: a 1×1 conv, 80 features."""
        return [ConvBlock(80, kernel_size=1, name="conv_1", **common)]

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        x = self.conv_0(inputs, training=training)
        for layer in (*self.res_units, *self.tail):
            x = layer(x, training=training)
        return self.head(self.dropout(x, training), training=training)


@keras.saving.register_keras_serializable(package="voxflow")
class HighRes3DNetSmall(HighRes3DNet):
    """HighRes3DNet whose residual body runs at half resolution (NiftyNet's ``highres3dnet_small``).

    The first 3×3(×3) convolution (16 features) has stride 2; after the residual units, a 3×3(×3)
    conv with 80 features and a 3×3(×3) stride-2 transposed conv with 80 features (each conv →
    norm → act) bring the features back to full resolution for the 1×1 classifier. About an
    eighth of HighRes3DNet's activations in 3-D; windows must be even (``window_divisor`` 2).

    Li et al., IPMI 2017 (see ``HighRes3DNet``).

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet``.
        norm: ``batch``, ``instance``, ``group`` or ``none`` (network_arg, default ``batch``).
    """

    network_name = "highres3dnet_small"
    window_divisor = 2
    input_stride = 2

    def tail_blocks(self, common: dict[str, Any]) -> list[ConvBlock]:
        """A 3×3 conv with 80 features, then a 3×3 stride-2 transposed conv back to full resolution."""
        return [
            ConvBlock(80, kernel_size=3, name="conv_1", **common),
            ConvBlock(80, kernel_size=3, strides=2, transpose=True, name="deconv", **common),
        ]


@keras.saving.register_keras_serializable(package="voxflow")
class HighRes3DNetLarge(HighRes3DNet):
    """HighRes3DNet with a wider tail (NiftyNet's ``highres3dnet_large``).

    After the residual units: a 3×3(×3) conv with 64 features and a 1×1 conv with 64 features
    (each conv → norm → act), then the 1×1 classifier. Full resolution (``window_divisor`` 1).

    Li et al., IPMI 2017 (see ``HighRes3DNet``).

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet``.
        norm: ``batch``, ``instance``, ``group`` or ``none`` (network_arg, default ``batch``).
    """

    network_name = "highres3dnet_large"
    window_divisor = 1

    def tail_blocks(self, common: dict[str, Any]) -> list[ConvBlock]:
        """A 3×3 conv with 64 features, then a 1×1 conv with 64 features."""
        return [
            ConvBlock(64, kernel_size=3, name="conv_1", **common),
            ConvBlock(64, kernel_size=1, name="conv_2", **common),
        ]
