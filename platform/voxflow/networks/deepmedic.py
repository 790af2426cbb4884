"""DeepMedic: the two-pathway multi-scale CNN of Kamnitsas et al. 2017, with VALID convolutions.

One input window feeds two pathways of VALID 3×3(×3) convolutions: the *normal* pathway sees the
window's centre at full resolution, the *context* pathway the whole window sub-sampled by
``d_factor``. The output is smaller than the window and centred in it: with ``d_factor`` 3 and 8
convolutions, an axis of ``n`` voxels (a multiple of 3, at least 51) gives ``n − 48`` (57³ → 9³,
105³ → 57³; NiftyNet's "label = (image/3 − 16)·3").

Also here: :class:`ValidConvBlock` and :func:`cropping_layer`, the VALID-convolution pieces
``unet_2d`` shares.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from voxflow.layers import ConvBlock
from voxflow.layers.factories import check_spatial_dims, upsampling_layer
from voxflow.networks.base import SegmentationNet
from voxflow.networks.window import WindowRule

FEATURES = (30, 30, 40, 40, 40, 40, 50, 50)
FC_FEATURES = (150, 150)
D_FACTOR = 3

_CROPPING = {2: keras.layers.Cropping2D, 3: keras.layers.Cropping3D}


def cropping_layer(spatial_dims: int, border: int, name: str) -> keras.layers.Layer:
    """A weightless layer removing ``border`` voxels from both ends of every spatial axis."""
    return _CROPPING[check_spatial_dims(spatial_dims)](cropping=int(border), name=name)


@keras.saving.register_keras_serializable(package="voxflow")
class ValidConvBlock(ConvBlock):
    """A ``ConvBlock`` whose convolution is VALID-padded: each axis loses ``dilation·(kernel_size − 1)``
    voxels, and normalisation statistics never see padded voxels.

    Args:
        filters: output channels.
        spatial_dims: 2 or 3.
        **kwargs: every other ``ConvBlock`` argument (``strides`` must stay 1, ``transpose`` False).
    """

    def __init__(self, filters: int, spatial_dims: int = 3, **kwargs: Any) -> None:
        super().__init__(filters, spatial_dims, **kwargs)
        if self.strides != 1 or self.transpose:
            raise ValueError("ValidConvBlock supports strides=1 and transpose=False only.")
        self.conv.padding = "valid"  # ConvBlock builds SAME convolutions; Keras reads this at call time


def deepmedic_rule(d_factor: int, num_convs: int) -> WindowRule:
    """DeepMedic's windows: multiples of ``d_factor`` whose sub-sampled size outlives ``num_convs``
    VALID 3-wide convolutions; the output loses ``num_convs·d_factor`` voxels on each side."""
    return WindowRule(start=d_factor * (2 * num_convs + 1), step=d_factor, shrink=2 * num_convs * d_factor)


@keras.saving.register_keras_serializable(package="voxflow")
class DeepMedic(SegmentationNet):
    """DeepMedic: a full-resolution and a sub-sampled context pathway, joined by 1×1 convolutions.

    - Normal pathway: the window's centre (``len(features)·(d_factor − 1)`` voxels cropped from
      each side), then one VALID 3×3(×3) ConvBlock (conv → norm → act) per entry of ``features``.
    - Context pathway: the whole window sub-sampled by ``d_factor`` (the centre voxel of every
      ``d_factor``-wide block, NiftyNet's ``CONSTANT`` down-sampling), the same convolutions with
      their own weights, then every voxel repeated ``d_factor`` times per axis. Its output voxels
      lie exactly over the normal pathway's, so both have the same size and centre.
    - Both concatenated, a 1×1 ConvBlock per entry of ``fc_features``, dropout (``keep_prob``)
      and a 1×1 classifier.

    Window rule: every axis a multiple of ``d_factor`` and at least ``d_factor·(2·len(features)
    + 1)``; the output is ``2·len(features)·d_factor`` voxels shorter per axis, centred (defaults:
    multiples of 3 from 51, 48 shorter). ``output_window`` gives it; ``check_window`` names the
    nearest valid windows. 2-D or 3-D.

    ≠NiftyNet: windows need not be odd (the crop and the block-wise sub-sampling are centred for
    any multiple of ``d_factor``); the classifier has no activation (NiftyNet activated the logits
    too); ``d_factor``, the features and the normalisation are ``network_args``.

    Kamnitsas, Ledig, Newcombe, Simpson, Kane, Menon, Rueckert, Glocker: "Efficient multi-scale 3D
    CNN with fully connected CRF for accurate brain lesion segmentation", Medical Image Analysis
    36, 2017.

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet`` (``acti_func`` defaults to ``prelu``, as in NiftyNet).
        d_factor: the context pathway's sub-sampling factor, odd (network_arg, default 3).
        features: features of each VALID 3×3(×3) convolution of a pathway (network_arg, default
            30, 30, 40, 40, 40, 40, 50, 50).
        fc_features: features of the 1×1 convolutions before the classifier (network_arg,
            default 150, 150; may be empty).
        norm: ``batch``, ``instance``, ``group`` or ``none`` (network_arg, default ``batch``).

    Example:
        >>> net = DeepMedic(2)                                         # doctest: +SKIP
        >>> net.output_window((57, 57, 57))                             # doctest: +SKIP
        (9, 9, 9)
    """

    network_name = "deepmedic"
    window_rule = deepmedic_rule(D_FACTOR, len(FEATURES))
    window_divisor = D_FACTOR

    def __init__(
        self,
        num_classes: int,
        spatial_dims: int = 3,
        acti_func: str = "prelu",
        *,
        d_factor: int = D_FACTOR,
        features: tuple[int, ...] = FEATURES,
        fc_features: tuple[int, ...] = FC_FEATURES,
        norm: str = "batch",
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes, spatial_dims, acti_func=acti_func, **kwargs)
        self.d_factor = self.positive_int("d_factor", d_factor)
        if self.d_factor % 2 == 0:
            raise ValueError(f"Invalid value for `d_factor`. Expected an odd integer >= 1 (the context pathway "
                             f"keeps the centre voxel of each block). Received: {d_factor!r}.")
        self.features = self.positive_ints("features", features)
        self.fc_features = self.positive_ints("fc_features", fc_features, min_length=0)
        self.norm = str(norm).lower()
        num_convs = len(self.features)
        self.window_rule = deepmedic_rule(self.d_factor, num_convs)
        self.window_divisor = self.d_factor

        common = {**self.block_kwargs(), "norm": self.norm}
        self.crop = cropping_layer(self.spatial_dims, num_convs * (self.d_factor - 1), name="normal_crop")
        self.normal_convs = [
            ValidConvBlock(f, kernel_size=3, name=f"normal_conv_{i}", **common) for i, f in enumerate(self.features)
        ]
        self.context_convs = [
            ValidConvBlock(f, kernel_size=3, name=f"context_conv_{i}", **common) for i, f in enumerate(self.features)
        ]
        self.upsample = upsampling_layer(self.spatial_dims, self.d_factor, name="context_upsample")
        self.fc_convs = [ConvBlock(f, kernel_size=1, name=f"fc_{i}", **common) for i, f in enumerate(self.fc_features)]
        self.head = self.classifier(kernel_size=1)

    def subsample(self, inputs: Any) -> Any:
        """The centre voxel of every ``d_factor``-wide block along each spatial axis."""
        offset = (self.d_factor - 1) // 2
        return inputs[(slice(None), *[slice(offset, None, self.d_factor)] * self.spatial_dims, slice(None))]

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        normal = self.crop(inputs)
        context = self.subsample(inputs)
        for normal_conv, context_conv in zip(self.normal_convs, self.context_convs):
            normal = normal_conv(normal, training=training)
            context = context_conv(context, training=training)
        x = ops.concatenate([normal, self.upsample(context)], axis=-1)
        for block in self.fc_convs:
            x = block(x, training=training)
        return self.head(self.dropout(x, training), training=training)
