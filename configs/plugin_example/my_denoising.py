"""A whole application written against voxflow's public contract: denoising MR images.

The network learns the correction that takes an image with Gaussian noise added back to the image
without it (the training data only need clean images; the noise is made on the device). It
runs as any built-in application::

    net_run train     -a my_denoising.Denoising -c configs/plugin_example/denoising.ini
    net_run inference -a my_denoising.Denoising -c configs/plugin_example/denoising.ini

docs/plugins.md walks through it. What the class declares is all that is task-specific; windows,
data, splits, augmentation, the network from ``[NETWORK]``, checkpoints, validation, TensorBoard and
grid inference written back on each input's grid come from ``DenseApplication``.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from voxflow.applications.base import BestRule
from voxflow.applications.dense import DenseApplication
from voxflow.config import Key
from voxflow.config.values import FloatType
from voxflow.roles import Kind, Role


class Denoising(DenseApplication):
    """``[DENOISING]``: ``image`` (the input sections) and ``noise_std``; writes denoised images."""

    SECTION = "DENOISING"
    ALIASES = ("denoising",)
    OUTPUT_NAME = "denoised image"
    ROLES = (Role("image", Kind.INTENSITY, "Input sections of the images to denoise (clean ones to train).",
                  required=True),)
    KEYS = (Key("noise_std", FloatType(0.0), 0.1, "Std of the Gaussian noise added to each training window, in "
                "the units of the (preprocessed) image."),)
    # the application's own defaults for shared keys: a denoised image is written as is
    SHARED_DEFAULTS = {("INFERENCE", "output_postfix"): "_denoised", ("INFERENCE", "output_interp_order"): 1}
    TRAINED_KEYS = (("network", "name"), ("network", "network_args"), ("network", "whitening"),
                    ("network", "normalisation"), ("inputs", "pixdim"), ("inputs", "axcodes"))
    BEST = BestRule("mean_absolute_error", "min")

    def roles_for(self, action: str) -> dict[str, tuple[str, ...]]:
        """The images, for every action."""
        return {"image": tuple(self.cfg.app.image)}

    def output_channels(self) -> int:
        """One output channel per input channel."""
        return self.channels

    def noisy(self, batch: dict) -> tf.Tensor:
        """The batch's images plus Gaussian noise, drawn from a key of each window's place (repeatable)."""
        clean = self.layout.to_network(batch["image"])
        place = tf.cast(batch["location"], tf.int64) * tf.constant([1, 7919, 104729, 1299709], tf.int64)
        key = tf.stack([tf.constant(int(self.cfg.system.seed or 0), tf.int64), tf.reduce_sum(place)])
        return clean + float(self.cfg.app.noise_std) * tf.random.stateless_normal(tf.shape(clean), key)

    def forward(self, models: dict[str, Any], batch: dict, training: bool) -> Any:
        """The noisy windows plus the network's correction of them (it learns the residual, as DnCNN)."""
        noisy = self.noisy(batch)
        return noisy + models["network"](noisy, training=training)

    def predict_windows(self, network: Any, windows: Any) -> Any:
        """Inference: real images plus the network's correction (no noise is added)."""
        return windows + tf.cast(network(windows, training=False), tf.float32)

    def losses(self, batch: dict, outputs: Any) -> dict[str, Any]:
        """Mean absolute difference from the clean image."""
        return {"loss": tf.reduce_mean(tf.abs(outputs - self.layout.to_network(batch["image"])))}

    def validation_metrics(self, batch: dict, outputs: Any) -> dict[str, float]:
        """Mean absolute error after and before denoising."""
        clean = self.layout.to_network(batch["image"])
        return {"mean_absolute_error": float(tf.reduce_mean(tf.abs(outputs - clean))),
                "noisy_mean_absolute_error": float(tf.reduce_mean(tf.abs(self.noisy(batch) - clean)))}

    def summary_images(self, batch: dict, outputs: Any) -> dict[str, Any]:
        """The first window: clean, noisy, denoised."""
        first = [self.layout.from_network(x)[0, ..., 0] for x in (self.layout.to_network(batch["image"]),
                                                                   self.noisy(batch), outputs)]
        return dict(zip(("clean", "noisy", "denoised"), (x.numpy() for x in first)))
