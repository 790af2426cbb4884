"""DilatedConvBlock: a ConvBlock whose convolution is dilated (atrous)."""

from __future__ import annotations

from typing import Any

import keras

from voxflow.layers.conv_block import ConvBlock


@keras.saving.register_keras_serializable(package="voxflow")
class DilatedConvBlock(ConvBlock):
    """A ``ConvBlock`` with a dilation rate (default 2).

    Dilation uses Keras' ``dilation_rate`` directly (NiftyNet emulated it with space-to-batch), so
    windows need not be multiples of the dilation. The receptive field of a kernel ``k`` with
    dilation ``d`` is ``d·(k − 1) + 1`` voxels.

    Args:
        filters: output channels.
        dilation: the dilation rate (≥ 1).
        **kwargs: every other ``ConvBlock`` argument.
    """

    def __init__(self, filters: int, dilation: int = 2, **kwargs: Any) -> None:
        if int(dilation) < 1:
            raise ValueError(f"Invalid value for `dilation`. Expected an integer >= 1. Received: {dilation!r}.")
        super().__init__(filters, dilation=dilation, **kwargs)
