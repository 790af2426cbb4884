"""ScaleNet: Fidon et al.'s scalable multimodal network, any number of input modalities.

Every modality (input channel) goes through the same "backend" branch — shared weights — and the
branches are merged by their average (or maximum) over the modalities, so the network takes any
number of modalities in any order. A HighRes3DNet "frontend" segments the merged features.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import ops

from voxflow.layers import ConvBlock
from voxflow.layers.factories import check_option
from voxflow.networks.highres3dnet import HighRes3DNet

MERGES = ("average", "max")


@keras.saving.register_keras_serializable(package="voxflow")
class ScaleNet(HighRes3DNet):
    """ScaleNet: a shared per-modality backend, a merge over modalities, a HighRes3DNet frontend.

    Backend, applied to each input channel alone with the same weights: a 3×3(×3) ConvBlock
    (conv → norm → act) with ``features`` features, then ``backend_units`` residual HighRes
    blocks (pre-activation norm → act → conv with kernels 3 and 1, plus the identity). Merge: the
    mean (``average``) or maximum (``max``) over the modalities. Frontend: the whole
    ``HighRes3DNet`` (its first conv, nine dilated residual units, 1×1 conv with 80 features,
    classifier). Permuting the modalities leaves the output unchanged, and a model trained on
    four modalities runs on three. Any window (``window_divisor`` 1); 2-D or 3-D.

    ≠NiftyNet: NiftyNet's ``scalenet`` gave every modality its own first convolution and mixed
    modalities inside its backend blocks, so it was tied to the modality count and order of
    training; voxflow follows the paper's shared-weight branches.

    Fidon, Li, Garcia-Peraza-Herrera, Ekanayake, Kitchen, Ourselin, Vercauteren: "Scalable
    multimodal convolutional networks for brain tumour segmentation", MICCAI 2017.

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet`` (``acti_func`` defaults to ``prelu``, as in NiftyNet).
        features: features of the per-modality backend (network_arg, default 16).
        backend_units: residual blocks in the backend (network_arg, default 1).
        merge: ``average`` or ``max`` over the modalities (network_arg, default ``average``).
        norm: ``batch``, ``instance``, ``group`` or ``none`` (network_arg, default ``batch``).
    """

    network_name = "scalenet"
    window_divisor = 1

    def __init__(
        self,
        num_classes: int,
        spatial_dims: int = 3,
        acti_func: str = "prelu",
        *,
        features: int = 16,
        backend_units: int = 1,
        merge: str = "average",
        norm: str = "batch",
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes, spatial_dims, acti_func=acti_func, norm=norm, **kwargs)
        self.features = self.positive_int("features", features)
        self.backend_units = self.positive_int("backend_units", backend_units)
        self.merge = check_option("merge", merge, MERGES)

        common = {**self.block_kwargs(), "norm": self.norm}
        self.backend_conv = ConvBlock(self.features, kernel_size=3, name="backend_conv", **common)
        self.backend_blocks = [
            [
                ConvBlock(self.features, kernel_size=kernel, preactivation=True, name=f"backend_res_{unit}_{i}",
                          **common)
                for i, kernel in enumerate((3, 1))
            ]
            for unit in range(self.backend_units)
        ]

    def backend(self, inputs: Any, training: bool | None) -> Any:
        """The shared branch on every modality: ``(B, *S, M)`` → ``(B, M, *S, features)``."""
        spatial = [inputs.shape[1 + i] if inputs.shape[1 + i] is not None else tf.shape(inputs)[1 + i]
                   for i in range(self.spatial_dims)]
        modalities = int(inputs.shape[-1])
        x = ops.moveaxis(inputs, -1, 1)  # (B, M, *S)
        x = tf.reshape(x, [-1, *spatial, 1])  # every modality a separate batch item
        x = self.backend_conv(x, training=training)
        for block in self.backend_blocks:
            residual = x
            for conv in block:
                x = conv(x, training=training)
            x = x + residual
        return tf.reshape(x, [-1, modalities, *spatial, self.features])

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        branches = self.backend(inputs, training)
        merged = ops.mean(branches, axis=1) if self.merge == "average" else ops.max(branches, axis=1)
        return super().forward(merged, training=training)
