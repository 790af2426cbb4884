"""UNet: the 3-D U-Net of Çiçek et al. 2016 with SAME padding (output size = input size)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from voxflow.layers import ConvBlock, DownSample, UpSample
from voxflow.networks.base import SegmentationNet


@keras.saving.register_keras_serializable(package="voxflow")
class UNet(SegmentationNet):
    """U-Net: an encoder-decoder with skip connections, for 2-D or 3-D windows.

    Level ``l`` (0 = full resolution) has ``base_features·2^l`` features and two ConvBlocks
    (3×3(×3) conv → norm → activation). Going down: 2× max-pooling; going up: a 2× transposed
    convolution to the level's features, concatenated with the encoder's output of that level.
    A 1×1 convolution gives the logits. Unlike NiftyNet's ``unet`` (valid-padding emulation,
    44-voxel crop), the output has the input's size, so no border is needed.

    Çiçek, Abdulkadir, Lienkamp, Brox, Ronneberger: "3D U-Net: learning dense volumetric
    segmentation from sparse annotation", MICCAI 2016.

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet``.
        base_features: features at full resolution (network_arg, default 16).
        depth: number of down-samplings (network_arg, default 3); windows must be multiples
            of ``2**depth`` (the instance's ``window_divisor``).
        norm: ``batch``, ``instance``, ``group`` or ``none`` (network_arg, default ``batch``).

    Example:
        >>> net = UNet(2, spatial_dims=3, base_features=8, depth=3)  # doctest: +SKIP
        >>> net(np.zeros((2, 64, 64, 64, 1), "float32")).shape          # doctest: +SKIP
        TensorShape([2, 64, 64, 64, 2])
    """

    network_name = "unet"
    window_divisor = 8  # for the default depth 3; instances use 2**depth

    def __init__(
        self,
        num_classes: int,
        spatial_dims: int = 3,
        *,
        base_features: int = 16,
        depth: int = 3,
        norm: str = "batch",
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes, spatial_dims, **kwargs)
        self.base_features = self.positive_int("base_features", base_features)
        self.depth = self.positive_int("depth", depth)
        self.norm = str(norm).lower()
        self.window_divisor = 2**self.depth

        common = {**self.block_kwargs(), "norm": self.norm}
        features = [self.base_features * 2**level for level in range(self.depth + 1)]

        def double_conv(prefix: str, filters: int) -> list[ConvBlock]:
            return [ConvBlock(filters, kernel_size=3, name=f"{prefix}_conv_{i}", **common) for i in range(2)]

        self.encoder = [double_conv(f"enc_{level}", features[level]) for level in range(self.depth)]
        self.pools = [
            DownSample(self.spatial_dims, mode="max", factor=2, name=f"pool_{level}") for level in range(self.depth)
        ]
        self.bottom = double_conv("bottom", features[self.depth])
        self.ups = [
            UpSample(
                features[level],
                mode="transpose",
                name=f"up_{level}",
                spatial_dims=self.spatial_dims,
                kernel_initializer=self.w_initializer,
                kernel_regularizer=self.w_regularizer,
            )
            for level in range(self.depth)
        ]
        self.decoder = [double_conv(f"dec_{level}", features[level]) for level in range(self.depth)]
        self.head = self.classifier(kernel_size=1)

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        x = inputs
        skips = []
        for level in range(self.depth):
            for block in self.encoder[level]:
                x = block(x, training=training)
            skips.append(x)
            x = self.pools[level](x)
        for block in self.bottom:
            x = block(x, training=training)
        for level in reversed(range(self.depth)):
            x = self.ups[level](x, training=training)
            x = ops.concatenate([skips[level], x], axis=-1)
            for block in self.decoder[level]:
                x = block(x, training=training)
        return self.head(self.dropout(x, training), training=training)
