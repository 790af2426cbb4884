"""NoNewNet: Isensee et al.'s "No New-Net" 3-D U-Net (BraTS 2018) as NiftyNet implemented it.

A U-Net with SAME convolutions (output size = input size), leaky ReLU, instance normalisation,
features 30/60/120/240/480 and linear up-sampling instead of learned up-convolutions. Four
max-poolings: windows must be multiples of 16.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from voxflow.layers import ConvBlock, DownSample, LinearResize
from voxflow.networks.base import SegmentationNet

FEATURES = (30, 60, 120, 240, 480)


@keras.saving.register_keras_serializable(package="voxflow")
class NoNewNet(SegmentationNet):
    """No New-Net: a U-Net of instance-normalised leaky-ReLU blocks with linear up-sampling.

    With ``features`` f₀ … f_D (D poolings, the bottom last), every ConvBlock is a 3×3(×3) conv →
    norm → act:

    - encoder level ``l`` < D: two blocks with f_l features, kept as the skip, then 2× max-pooling;
    - bottom: blocks with f_D and f_{D−1} features, then a (tri)linear resize to the skip's size;
    - decoder level ``l`` = D−1 … 1: the skip concatenated, blocks with f_l and f_{l−1} features
      (fewer features before up-sampling), a linear resize;
    - level 0: the skip concatenated, two blocks with f₀ features, dropout (``keep_prob``) and a
      1×1 classifier.

    Windows must be multiples of ``2**D`` (``window_divisor``; 16 by default). 2-D or 3-D
    (NiftyNet's was 3-D only).

    Isensee, Kickingereder, Wick, Bendszus, Maier-Hein: "No New-Net", MICCAI BrainLes workshop
    (BraTS 2018), LNCS 11384, 2019.

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet`` (``acti_func`` defaults to ``leakyrelu``).
        features: features per level, the bottom last (network_arg, default 30, 60, 120, 240,
            480; at least two levels).
        norm: ``batch``, ``instance``, ``group`` or ``none`` (network_arg, default ``instance``).
    """

    network_name = "nonewnet"
    window_divisor = 2 ** (len(FEATURES) - 1)

    def __init__(
        self,
        num_classes: int,
        spatial_dims: int = 3,
        acti_func: str = "leakyrelu",
        *,
        features: tuple[int, ...] = FEATURES,
        norm: str = "instance",
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes, spatial_dims, acti_func=acti_func, **kwargs)
        self.features = self.positive_ints("features", features, min_length=2)
        self.norm = str(norm).lower()
        depth = len(self.features) - 1
        self.window_divisor = 2**depth

        common = {**self.block_kwargs(), "norm": self.norm}

        def convs(prefix: str, filters: tuple[int, int]) -> list[ConvBlock]:
            return [ConvBlock(f, kernel_size=3, name=f"{prefix}_conv_{i}", **common) for i, f in enumerate(filters)]

        f = self.features
        self.encoder = [convs(f"enc_{level}", (f[level], f[level])) for level in range(depth)]
        self.pools = [
            DownSample(self.spatial_dims, mode="max", factor=2, name=f"pool_{level}") for level in range(depth)
        ]
        self.bottom = convs("bottom", (f[depth], f[depth - 1]))
        self.decoder = [convs(f"dec_{level}", (f[level], f[max(level - 1, 0)])) for level in range(depth)]
        self.resize = LinearResize(self.spatial_dims, name="resize")
        self.head = self.classifier(kernel_size=1)

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        x = inputs
        skips = []
        for level, blocks in enumerate(self.encoder):
            for block in blocks:
                x = block(x, training=training)
            skips.append(x)
            x = self.pools[level](x)
        for block in self.bottom:
            x = block(x, training=training)
        for level in reversed(range(len(self.encoder))):
            x = self.resize([x, skips[level]])
            x = ops.concatenate([skips[level], x], axis=-1)
            for block in self.decoder[level]:
                x = block(x, training=training)
        return self.head(self.dropout(x, training), training=training)
