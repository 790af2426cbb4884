"""HolisticNet: Fidon et al.'s multi-scale HighRes3DNet-like network with a score layer per stage.

Four stages of dilated residual units (70 features), the last two at half resolution, each with
its own classifier ("score layer"); the four scores are fused into one output. Designed with the
generalised Wasserstein Dice loss (Fidon et al. 2017). One 2× pooling: windows must be even.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from voxflow.layers import ConvBlock, DownSample, ResidualUnit
from voxflow.layers.factories import upsampling_layer
from voxflow.networks.base import SegmentationNet

# Dilation of the four stages, and the stage before which features are pooled to ½ resolution,
# as in NiftyNet's holistic_net.
STAGE_DILATIONS = (1, 2, 1, 2)
FIRST_HALF_RESOLUTION_STAGE = 2


@keras.saving.register_keras_serializable(package="voxflow")
class ScoreFusion(keras.layers.Layer):
    """Fuse per-stage logits: the log of a learned, per-class convex combination of their softmax.

    ``fused[..., c] = log Σ_s w[s, c] · softmax(scores_s)[..., c]`` with ``w[:, c] =
    softmax(α[:, c])`` over the stages (α starts at 0: the plain average). The softmax of the
    result is that combination renormalised over the classes, so the output is logits whose
    probabilities are a weighted average of the stages' probabilities. Computed stably as a
    log-sum-exp. Call it on the list of per-stage logits, all of one shape.
    """

    def build(self, input_shape: list[tuple[int | None, ...]]) -> None:
        stages, classes = len(input_shape), input_shape[0][-1]
        self.stage_logits = self.add_weight(name="stage_logits", shape=(stages, classes), initializer="zeros")

    def call(self, scores: list[Any]) -> Any:
        log_probs = ops.stack([ops.log_softmax(s, axis=-1) for s in scores], axis=0)
        log_weights = ops.log_softmax(self.stage_logits, axis=0)
        log_weights = ops.reshape(log_weights, (log_weights.shape[0], *[1] * (len(scores[0].shape) - 1), -1))
        return ops.logsumexp(log_probs + ops.cast(log_weights, log_probs.dtype), axis=0)

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
        return tuple(input_shape[0])


@keras.saving.register_keras_serializable(package="voxflow")
class HolisticNet(SegmentationNet):
    """HolisticNet: four dilated residual stages, a score layer after each, fused scores.

    A 3×3(×3) ConvBlock (conv → norm → act) with ``features`` features, then four stages of
    ``units_per_stage`` pre-activation residual units (two 3×3(×3) convs each, ``features``
    features): stage 1 dilation 1, stage 2 dilation 2, 2× average pooling, stage 3 dilation 1,
    stage 4 dilation 2. After each stage a score layer: dropout (``keep_prob``), a 3×3(×3)
    ConvBlock with ``score_features`` features and a 1×1 classifier; the half-resolution scores
    are repeated 2× per axis. :class:`ScoreFusion` merges the four into the logits.

    ≠NiftyNet: the fused output is the log of a learned convex combination of the stages'
    probabilities (logits, as every voxflow network returns) where NiftyNet returned the
    unnormalised weighted sum of probabilities; half-resolution scores are repeated (NiftyNet:
    a per-channel transposed convolution initialised to a repeat for stage 3, and one of kernel 1
    that left every other voxel empty for stage 4); training returns only the fused logits
    (NiftyNet returned all five for a multi-scale loss); score layers end with a plain 1×1
    classifier; dilation uses ``dilation_rate``, so windows need only be even
    (``window_divisor`` 2). NiftyNet pools once, between stages 2 and 3, with average pooling,
    and that is kept.

    Fidon, Li, Garcia-Peraza-Herrera, Ekanayake, Kitchen, Ourselin, Vercauteren: "Generalised
    Wasserstein Dice score for imbalanced multi-class segmentation using holistic convolutional
    networks", MICCAI BrainLes workshop 2017.

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet`` (``acti_func`` defaults to ``elu``, as in NiftyNet).
        features: features of the first conv and of every residual unit (network_arg, default 70).
        score_features: features of each score layer's 3×3(×3) conv (network_arg, default 140).
        units_per_stage: residual units per stage (network_arg, default 3).
        norm: ``batch``, ``instance``, ``group`` or ``none`` (network_arg, default ``batch``).
    """

    network_name = "holisticnet"
    window_divisor = 2

    def __init__(
        self,
        num_classes: int,
        spatial_dims: int = 3,
        acti_func: str = "elu",
        *,
        features: int = 70,
        score_features: int = 140,
        units_per_stage: int = 3,
        norm: str = "batch",
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes, spatial_dims, acti_func=acti_func, **kwargs)
        self.features = self.positive_int("features", features)
        self.score_features = self.positive_int("score_features", score_features)
        self.units_per_stage = self.positive_int("units_per_stage", units_per_stage)
        self.norm = str(norm).lower()

        common = {**self.block_kwargs(), "norm": self.norm}
        self.conv_0 = ConvBlock(self.features, kernel_size=3, name="conv_0", **common)
        self.stages = [
            [
                ResidualUnit(self.features, num_convs=2, kernel_size=3, dilation=dilation, preactivation=True,
                             shortcut="pad", name=f"res_{stage}_{unit}", **common)
                for unit in range(self.units_per_stage)
            ]
            for stage, dilation in enumerate(STAGE_DILATIONS)
        ]
        self.pool = DownSample(self.spatial_dims, mode="avg", factor=2, name="pool")
        self.score_convs = [
            ConvBlock(self.score_features, kernel_size=3, name=f"score_{stage}_conv", **common)
            for stage in range(len(STAGE_DILATIONS))
        ]
        self.score_heads = [
            self.classifier(kernel_size=1, name=f"score_{stage}_head") for stage in range(len(STAGE_DILATIONS))
        ]
        self.upsample = upsampling_layer(self.spatial_dims, 2, name="score_upsample")
        self.fusion = ScoreFusion(name="fusion")

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        x = self.conv_0(inputs, training=training)
        scores = []
        for stage in range(len(STAGE_DILATIONS)):
            half_resolution = stage >= FIRST_HALF_RESOLUTION_STAGE
            if stage == FIRST_HALF_RESOLUTION_STAGE:
                x = self.pool(x)
            for unit in self.stages[stage]:
                x = unit(x, training=training)
            score = self.score_convs[stage](self.dropout(x, training), training=training)
            score = self.score_heads[stage](score, training=training)
            scores.append(self.upsample(score) if half_resolution else score)
        return self.fusion(scores)
