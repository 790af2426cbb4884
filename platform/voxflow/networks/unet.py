"""UNet: the 3-D U-Net of Çiçek et al. 2016 with SAME padding (output size = input size), and the
per-axis pooling, feature cap and deep supervision of the U-Net nnU-Net configures."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from voxflow.layers import ConvBlock, DownSample, UpSample
from voxflow.networks.base import SegmentationNet

POOL_FACTORS = (1, 2)


@keras.saving.register_keras_serializable(package="voxflow")
class UNet(SegmentationNet):
    """U-Net: an encoder-decoder with skip connections, for 2-D or 3-D windows.

    Level ``l`` (0 = full resolution) has ``base_features·2^l`` features (at most
    ``max_features``) and two ConvBlocks (3×3(×3) conv → norm → activation). Going down:
    max-pooling by the level's factors (2 on every axis by default); going up: a transposed
    convolution by the same factors to the level's features, concatenated with the encoder's
    output of that level. A 1×1 convolution gives the logits. Unlike NiftyNet's ``unet``
    (valid-padding emulation, 44-voxel crop), the output has the input's size, so no border is
    needed.

    nnU-Net's planner (``voxflow.planning``) pools anisotropic data in-plane first, e.g.
    ``pool_sizes=((1, 2, 2), (2, 2, 2), (2, 2, 2))`` for thick slices along the first axis, caps
    the features (320 in 3-D) and trains with deep supervision: :meth:`deep_outputs` adds a 1×1
    logits head on every decoder level but the lowest, at
    :attr:`deep_supervision_scales`.

    Çiçek, Abdulkadir, Lienkamp, Brox, Ronneberger: "3D U-Net: learning dense volumetric
    segmentation from sparse annotation", MICCAI 2016. Isensee, Jaeger, Kohl, Petersen,
    Maier-Hein: "nnU-Net: a self-configuring method for deep learning-based biomedical image
    segmentation", Nature Methods 2021.

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet``.
        base_features: features at full resolution (network_arg, default 16).
        depth: number of down-samplings (network_arg, default 3); windows must be multiples
            of ``2**depth`` (the instance's ``window_divisor``).
        norm: ``batch``, ``instance``, ``group`` or ``none`` (network_arg, default ``batch``).
        pool_sizes: the pooling factor of each axis at each level, one tuple of ``spatial_dims``
            factors (1 or 2) per level, ``depth`` of them (network_arg, default ``None``: 2 on
            every axis). Each axis of a window must then be a multiple of the product of its
            factors: ``window_divisor`` is that product per axis.
        max_features: the most features of any level (network_arg, default ``None``: no cap).
        deep_supervision: create the logits heads of :meth:`deep_outputs` (network_arg, default
            ``False``; ``call`` returns the full-resolution logits either way).

    Raises:
        ValueError: for invalid values (naming the argument, the expected form and the value).

    Example:
        >>> net = UNet(2, spatial_dims=3, base_features=8, depth=3)  # doctest: +SKIP
        >>> net(np.zeros((2, 64, 64, 64, 1), "float32")).shape          # doctest: +SKIP
        TensorShape([2, 64, 64, 64, 2])
        >>> net = UNet(2, depth=2, pool_sizes=((1, 2, 2), (2, 2, 2)), deep_supervision=True)  # doctest: +SKIP
        >>> net.window_divisor, net.deep_supervision_scales                                    # doctest: +SKIP
        ((2, 4, 4), [(1, 1, 1), (1, 2, 2)])
    """

    network_name = "unet"
    window_divisor = 8  # for the default depth 3; instances use 2**depth, or the product of pool_sizes

    def __init__(
        self,
        num_classes: int,
        spatial_dims: int = 3,
        *,
        base_features: int = 16,
        depth: int = 3,
        norm: str = "batch",
        pool_sizes: Sequence[Sequence[int]] | None = None,
        max_features: int | None = None,
        deep_supervision: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes, spatial_dims, **kwargs)
        self.base_features = self.positive_int("base_features", base_features)
        self.depth = self.positive_int("depth", depth)
        self.norm = str(norm).lower()
        self.pool_sizes = self._check_pool_sizes(pool_sizes)
        self.max_features = None if max_features is None else self.positive_int("max_features", max_features)
        if not isinstance(deep_supervision, bool):
            raise ValueError(f"Invalid value for `deep_supervision`. Expected true or false. "
                             f"Received: {deep_supervision!r}.")
        self.deep_supervision = deep_supervision
        if self.pool_sizes is None:
            self.window_divisor = 2**self.depth
            factors: list[int | tuple[int, ...]] = [2] * self.depth
        else:
            self.window_divisor = tuple(math.prod(axis) for axis in zip(*self.pool_sizes))
            factors = list(self.pool_sizes)

        common = {**self.block_kwargs(), "norm": self.norm}
        features = [self.level_features(level) for level in range(self.depth + 1)]

        def double_conv(prefix: str, filters: int) -> list[ConvBlock]:
            return [ConvBlock(filters, kernel_size=3, name=f"{prefix}_conv_{i}", **common) for i in range(2)]

        self.encoder = [double_conv(f"enc_{level}", features[level]) for level in range(self.depth)]
        self.pools = [
            DownSample(self.spatial_dims, mode="max", factor=factors[level], name=f"pool_{level}")
            for level in range(self.depth)
        ]
        self.bottom = double_conv("bottom", features[self.depth])
        self.ups = [
            UpSample(
                features[level],
                mode="transpose",
                factor=factors[level],
                name=f"up_{level}",
                spatial_dims=self.spatial_dims,
                kernel_initializer=self.w_initializer,
                kernel_regularizer=self.w_regularizer,
            )
            for level in range(self.depth)
        ]
        self.decoder = [double_conv(f"dec_{level}", features[level]) for level in range(self.depth)]
        self.head = self.classifier(kernel_size=1)
        if self.deep_supervision:  # only then: checkpoints without deep supervision keep their variables
            self.deep_heads = [self.classifier(kernel_size=1, name=f"deep_head_{level}")
                               for level in range(1, self.depth)]

    def _check_pool_sizes(self, pool_sizes: Any) -> tuple[tuple[int, ...], ...] | None:
        if pool_sizes is None:
            return None
        dims = self.spatial_dims
        levels = list(pool_sizes) if isinstance(pool_sizes, (list, tuple)) else []
        valid = len(levels) == self.depth and all(
            isinstance(level, (list, tuple)) and len(level) == dims
            and all(not isinstance(f, bool) and f in POOL_FACTORS for f in level)
            for level in levels
        )
        if not valid:
            example = ", ".join(["(" + ", ".join(["2"] * dims) + ")"] * self.depth)
            raise ValueError(
                f"Invalid value for `pool_sizes`. Expected one tuple of {dims} pooling factors (1 or 2, one per "
                f"spatial axis) for each of the depth = {self.depth} levels, e.g. ({example}). "
                f"Received: {pool_sizes!r}."
            )
        return tuple(tuple(int(f) for f in level) for level in levels)

    def level_features(self, level: int) -> int:
        """The features of ``level`` (0: full resolution): ``base_features·2^level``, at most ``max_features``."""
        features = self.base_features * 2**level
        return features if self.max_features is None else min(features, self.max_features)

    @property
    def deep_supervision_scales(self) -> list[tuple[int, ...]]:
        """Each output of :meth:`deep_outputs`'s down-sampling factor per axis, full resolution first.

        With ``deep_supervision=True`` one per level but the lowest (nnU-Net's scales), e.g.
        ``[(1, 1, 1), (1, 2, 2), (2, 4, 4)]`` for ``pool_sizes=((1, 2, 2), (2, 2, 2), (2, 2, 2))``;
        else only the full resolution.
        """
        factors = self.pool_sizes or ((2,) * self.spatial_dims,) * self.depth
        scales = [(1,) * self.spatial_dims]
        for level in range(1, self.depth if self.deep_supervision else 1):
            scales.append(tuple(s * f for s, f in zip(scales[-1], factors[level - 1])))
        return scales

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Create every variable (the deep-supervision heads' too), inside this model's name scope."""
        super().build(input_shape)
        if self.deep_supervision:
            for level, head in enumerate(self.deep_heads, start=1):
                head.build((None, *[None] * self.spatial_dims, self.level_features(level)))

    def decoder_features(self, inputs: Any, training: bool | None = None) -> list[Any]:
        """The features of every decoder level, full resolution first (``depth`` tensors)."""
        x = inputs
        skips = []
        for level in range(self.depth):
            for block in self.encoder[level]:
                x = block(x, training=training)
            skips.append(x)
            x = self.pools[level](x)
        for block in self.bottom:
            x = block(x, training=training)
        features = []
        for level in reversed(range(self.depth)):
            x = self.ups[level](x, training=training)
            x = ops.concatenate([skips[level], x], axis=-1)
            for block in self.decoder[level]:
                x = block(x, training=training)
            features.append(x)
        return features[::-1]

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        features = self.decoder_features(inputs, training)
        return self.head(self.dropout(features[0], training), training=training)

    def deep_outputs(self, inputs: Any, training: bool | None = None) -> list[Any]:
        """Float32 logits at every scale of :attr:`deep_supervision_scales`, full resolution first.

        The first is what ``call`` returns; the others come from the 1×1 heads on the lower decoder
        levels, ``(B, *spatial / scale, num_classes)`` each (nnU-Net's deep supervision). A network
        built without ``deep_supervision`` returns the full-resolution logits only.

        Raises:
            ValueError: inputs of the wrong rank, or a window that does not fit (``check_window``).
        """
        self.check_inputs(inputs)
        if not self.built:
            self.build(tuple(inputs.shape))
        features = self.decoder_features(inputs, training)
        logits = [self.head(self.dropout(features[0], training), training=training)]
        if self.deep_supervision:
            logits += [head(x, training=training) for head, x in zip(self.deep_heads, features[1:])]
        return [ops.cast(x, "float32") for x in logits]
