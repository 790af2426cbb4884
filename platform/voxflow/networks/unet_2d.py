"""UNet2D: the 2-D U-Net of Ronneberger et al. 2015 with VALID convolutions (output smaller than input).

Each level has two VALID 3×3 convolutions, so the output is the centre of the window: with the
paper's four poolings a 572×572 window gives 388×388. Windows are 2-D only, and each axis must
leave whole even sizes at every pooling: ``188 + 16k`` voxels for four poolings.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from voxflow.layers import DownSample, UpSample
from voxflow.networks.base import SegmentationNet
from voxflow.networks.deepmedic import ValidConvBlock, cropping_layer
from voxflow.networks.window import WindowRule

FEATURES = (64, 128, 256, 512, 1024)
# Two VALID 3×3 convolutions per level remove 4 voxels per axis.
LEVEL_SHRINK = 4


def unet_2d_shrink(depth: int) -> int:
    """Voxels a U-Net of ``depth`` poolings (two VALID 3×3 convs per level) loses per axis."""
    return LEVEL_SHRINK * (3 * 2**depth - 2)


def unet_2d_rule(depth: int) -> WindowRule:
    """UNet2D's windows for ``depth`` poolings.

    Going back from ``b`` voxels at the bottom level, the level above takes ``2·(b + 4) + 4``, so
    the window is ``2^depth·b + 4·(2^(depth+1) − 1)`` and the output ``2^depth·b − 4·(2^depth − 1)``;
    ``b`` is the smallest value that leaves an output.
    """
    scale = 2**depth
    border = LEVEL_SHRINK * (scale - 1)
    bottom = -(-(border + 1) // scale)
    return WindowRule(start=scale * bottom + LEVEL_SHRINK * (2 * scale - 1), step=scale, shrink=unet_2d_shrink(depth))


@keras.saving.register_keras_serializable(package="voxflow")
class UNet2D(SegmentationNet):
    """UNet2D: an encoder-decoder of VALID 3×3 convolutions with cropped skip connections.

    Level ``l`` (0 = full resolution) has ``features[l]`` features; the last entry is the bottom
    level. Going down: two VALID 3×3 ConvBlocks (conv → norm → act), then 2×2 max-pooling. Going
    up: a 2×2 stride-2 transposed convolution (→ norm → act) to the level's features, the
    encoder's output of that level cropped to its centre and concatenated, two VALID 3×3
    ConvBlocks. Dropout (``keep_prob``) and a 1×1 classifier give the logits.

    Window rule (D = ``len(features) − 1`` poolings): every axis ``start + k·2^D`` voxels, the
    output ``4·(3·2^D − 2)`` voxels shorter and centred. Defaults (D = 4): 188, 204, ... → 4, 20,
    ...; 572 → 388. ``output_window`` gives it; ``check_window`` names the nearest valid windows.
    2-D only (``spatial_dims`` 2), as NiftyNet's ``unet_2d``.

    Ronneberger, Fischer, Brox: "U-Net: convolutional networks for biomedical image
    segmentation", MICCAI 2015.

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet`` (``spatial_dims`` must be 2).
        features: features per level, the bottom last (network_arg, default 64, 128, 256, 512,
            1024; at least two levels).
        norm: ``batch``, ``instance``, ``group`` or ``none`` (network_arg, default ``batch``).

    Example:
        >>> UNet2D(2).output_window((572, 572))                 # doctest: +SKIP
        (388, 388)
        >>> UNet2D(2, features=(8, 16)).output_window((20, 24))  # doctest: +SKIP
        (4, 8)
    """

    network_name = "unet_2d"
    window_rule = unet_2d_rule(len(FEATURES) - 1)
    window_divisor = math.gcd(window_rule.start, window_rule.step)  # every valid length is a multiple of it

    def __init__(
        self,
        num_classes: int,
        spatial_dims: int = 2,
        *,
        features: tuple[int, ...] = FEATURES,
        norm: str = "batch",
        **kwargs: Any,
    ) -> None:
        if spatial_dims != 2:
            raise ValueError(f"Invalid value for `spatial_dims`. unet_2d is a 2-D network: expected 2 (a window "
                             f"with one axis of size 1). Received: {spatial_dims!r}.")
        super().__init__(num_classes, spatial_dims, **kwargs)
        self.features = self.positive_ints("features", features, min_length=2)
        self.norm = str(norm).lower()
        depth = len(self.features) - 1
        self.window_rule = unet_2d_rule(depth)
        self.window_divisor = math.gcd(self.window_rule.start, self.window_rule.step)

        common = {**self.block_kwargs(), "norm": self.norm}

        def double_conv(prefix: str, filters: int) -> list[ValidConvBlock]:
            return [ValidConvBlock(filters, kernel_size=3, name=f"{prefix}_conv_{i}", **common) for i in range(2)]

        self.encoder = [double_conv(f"enc_{level}", self.features[level]) for level in range(depth)]
        self.pools = [DownSample(2, mode="max", factor=2, name=f"pool_{level}") for level in range(depth)]
        self.bottom = double_conv("bottom", self.features[depth])
        self.ups = [
            UpSample(
                self.features[level],
                mode="transpose",
                norm=self.norm,
                acti_func=self.acti_func,
                name=f"up_{level}",
                spatial_dims=2,
                kernel_initializer=self.w_initializer,
                kernel_regularizer=self.w_regularizer,
            )
            for level in range(depth)
        ]
        # The skip of level l is 2·(the level below's shrink) larger than the up-sampled features.
        self.crops = [
            cropping_layer(2, unet_2d_shrink(depth - level - 1), name=f"crop_{level}") for level in range(depth)
        ]
        self.decoder = [double_conv(f"dec_{level}", self.features[level]) for level in range(depth)]
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
            x = self.ups[level](x, training=training)
            x = ops.concatenate([self.crops[level](skips[level]), x], axis=-1)
            for block in self.decoder[level]:
                x = block(x, training=training)
        return self.head(self.dropout(x, training), training=training)
