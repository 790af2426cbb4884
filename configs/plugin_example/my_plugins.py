"""A complete voxflow plugin module: a network, a loss, an optimiser, a sampler and an application.

Nothing here is installed: ``config.ini`` in this folder names these objects by dotted path
(``my_plugins.DilatedNet``, ``my_plugins.focal_dice_loss``, ``my_plugins.adamw``; the sampler
would be ``[NETWORK] window_sampling = my_plugins.CentredSampler``), and voxflow
imports this module from the config's own folder when the run starts. The application is picked
on the command line::

    net_segment train -c configs/plugin_example/config.ini --max_iter 2
    net_run train -a my_plugins.ReportingSegmentation -c configs/plugin_example/config.ini --max_iter 2

See docs/plugins.md for the contract of each kind of plugin.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from voxflow.applications.segmentation import SegmentationApplication
from voxflow.data.samplers.base import CroppingSampler, uniform_index
from voxflow.layers import ConvBlock
from voxflow.networks.base import SegmentationNet


# --------------------------------------------------------------------------------------- network
class DilatedNet(SegmentationNet):
    """Two 3×3(×3) convolutions, the second dilated, their features concatenated, then a classifier.

    ``network_args = features=8, dilation=2`` in ``[NETWORK]`` sets the keyword-only arguments.
    No down-sampling, so any window size works (``window_divisor = 1``).

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: passed
            by the application from ``[NETWORK]`` (see ``SegmentationNet``).
        features: feature maps of each convolution.
        dilation: dilation rate of the second convolution.
    """

    network_name = "dilated_net"
    window_divisor = 1

    def __init__(self, num_classes: int, spatial_dims: int = 3, *, features: int = 8, dilation: int = 2,
                 **kwargs: Any) -> None:
        super().__init__(num_classes, spatial_dims, **kwargs)
        self.features = int(features)
        self.dilation = int(dilation)
        common = self.block_kwargs()
        self.local = ConvBlock(self.features, kernel_size=3, norm="none", name="local", **common)
        self.context = ConvBlock(self.features, kernel_size=3, dilation=self.dilation, norm="none",
                                 name="context", **common)
        self.head = self.classifier(kernel_size=1)

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        local = self.local(inputs, training=training)
        context = self.context(local, training=training)
        features = keras.ops.concatenate([local, context], axis=-1)
        return self.head(self.dropout(features, training), training=training)


# ------------------------------------------------------------------------------------------ loss
def focal_dice_loss(labels: tf.Tensor, logits: tf.Tensor, weight: tf.Tensor | None = None) -> tf.Tensor:
    """Focal cross-entropy (γ = 2) plus (1 − mean soft Dice over classes and batch).

    Args:
        labels: class indices ``(B, ..., 1)`` (float or int holding integers).
        logits: scores ``(B, ..., K)``.
        weight: optional voxel weights broadcastable to ``labels``.

    Returns:
        A scalar float32 tensor, ``>= 0``.
    """
    logits = tf.cast(logits, tf.float32)
    num_classes = tf.shape(logits)[-1]
    labels = tf.cast(tf.reshape(labels, tf.shape(logits)[:-1]), tf.int32)
    one_hot = tf.one_hot(labels, num_classes, dtype=tf.float32)
    probs = tf.nn.softmax(logits, axis=-1)
    voxel_weight = tf.ones_like(probs[..., 0]) if weight is None else tf.reshape(
        tf.cast(weight, tf.float32), tf.shape(probs)[:-1])
    p_true = tf.reduce_sum(one_hot * probs, axis=-1)
    focal = -((1.0 - p_true) ** 2) * tf.math.log(tf.maximum(p_true, 1e-7))
    focal = tf.reduce_sum(focal * voxel_weight) / tf.maximum(tf.reduce_sum(voxel_weight), 1e-7)
    spatial = tf.range(1, tf.rank(probs) - 1)
    w = voxel_weight[..., None]
    intersection = tf.reduce_sum(w * one_hot * probs, axis=spatial)
    total = tf.reduce_sum(w * (one_hot + probs), axis=spatial)
    dice = (2.0 * intersection + 1e-5) / (total + 1e-5)
    return focal + 1.0 - tf.reduce_mean(dice)


# ------------------------------------------------------------------------------------- optimiser
def adamw(lr: float) -> keras.optimizers.Optimizer:
    """AdamW with weight decay 1e-4; an optimiser plugin takes the learning rate and returns a Keras optimiser."""
    return keras.optimizers.AdamW(learning_rate=lr, weight_decay=1e-4)


# --------------------------------------------------------------------------------------- sampler
class CentredSampler(CroppingSampler):
    """Windows near the middle of each volume: the start is the central one ± ``JITTER`` voxels.

    A sampler draws window starts with TensorFlow ops only (it runs inside ``tf.data``); the
    base class cuts every role at that start and adds the ``location``.
    """

    JITTER = 4

    def _prepare_draws(self, volumes: list) -> None:
        self._counts = tf.constant(self._valid_start_counts())  # valid starts per axis, per volume

    def _draw_start(self, volume_index: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
        counts = self._counts[volume_index]
        jitter = uniform_index(key, tf.fill([3], tf.constant(2 * self.JITTER + 1, tf.int64))) - self.JITTER
        return tf.clip_by_value((counts - 1) // 2 + jitter, 0, counts - 1)


# ----------------------------------------------------------------------------------- application
class ReportingSegmentation(SegmentationApplication):
    """The segmentation application with one change: the training report names the network.

    An application plugin subclasses an application (or implements the same methods, see
    docs/plugins.md) and keeps ``SECTION``, which names the config section it reads.
    """

    SECTION = "SEGMENTATION"

    @classmethod
    def report(cls, action: str, result: dict) -> str:
        """The base report plus one line saying which application ran."""
        return super().report(action, result) + f"\n[{cls.__name__}] {action} finished"
