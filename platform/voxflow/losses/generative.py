"""Losses of generative models: the VAE's negative evidence lower bound and the GAN's adversarial losses.

**VAE** (NiftyNet's ``VariationalLowerBound``): per window, the Gaussian negative log-likelihood of the
image under the decoded per-voxel means and log-variances, summed over voxels,

    ½ Σ [log 2π + log σ² + (x − μ)² / σ²],

(or the Bernoulli one, −Σ [x log μ + (1 − x) log(1 − μ)], which has no variance to learn),

and the KL divergence of the posterior N(m, s²) from the prior N(0, I), summed over the code,

    ½ Σ [m² + s² − log s² − 1];

each averaged over the batch. Their sum is the negative ELBO.

**GAN** (``[GAN] loss``): the discriminator returns logits.

=================  ==========================================  =====================================
loss               discriminator minimises                     generator minimises
=================  ==========================================  =====================================
``cross_entropy``  CE(real, ``real_label``) + CE(fake, 0)       CE(fake, 1) (non-saturating; NiftyNet)
``least_squares``  ½ (D(real) − ``real_label``)² + ½ D(fake)²  ½ (D(fake) − 1)² (LSGAN, Mao 2017)
``wasserstein``    D(fake) − D(real) (+ the gradient penalty)  −D(fake) (WGAN-GP, Gulrajani 2017)
=================  ==========================================  =====================================

``real_label`` < 1 is one-sided label smoothing (NiftyNet used 0.9); it is ignored by ``wasserstein``.
"""

from __future__ import annotations

import math
from typing import Any

import tensorflow as tf

GAN_LOSSES = ("cross_entropy", "least_squares", "wasserstein")
_LOG_2PI = math.log(2.0 * math.pi)


def _per_sample_sum(values: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def gaussian_nll(images: Any, means: Any, logvars: Any) -> tf.Tensor:
    """The per-voxel Gaussian negative log-likelihood, summed over each window, averaged over the batch."""
    images, means, logvars = (tf.cast(t, tf.float32) for t in (images, means, logvars))
    terms = 0.5 * (_LOG_2PI + logvars + tf.square(images - means) * tf.exp(-logvars))
    return tf.reduce_mean(_per_sample_sum(terms))


def bernoulli_nll(images: Any, means: Any, eps: float = 1e-6) -> tf.Tensor:
    """The per-voxel Bernoulli (binary cross-entropy) negative log-likelihood of images in [0, 1] under the
    decoded means, summed over each window, averaged over the batch (MONAI's VAE tutorial's BCE)."""
    images, means = tf.cast(images, tf.float32), tf.clip_by_value(tf.cast(means, tf.float32), eps, 1.0 - eps)
    terms = -(images * tf.math.log(means) + (1.0 - images) * tf.math.log(1.0 - means))
    return tf.reduce_mean(_per_sample_sum(terms))


def kl_divergence(mean: Any, logvar: Any) -> tf.Tensor:
    """KL(N(mean, exp(logvar)) ‖ N(0, I)), summed over the code, averaged over the batch."""
    mean, logvar = tf.cast(mean, tf.float32), tf.cast(logvar, tf.float32)
    return tf.reduce_mean(_per_sample_sum(0.5 * (tf.square(mean) + tf.exp(logvar) - logvar - 1.0)))


def variational_lower_bound(labels: Any, logits: Any, weight: Any = None) -> tf.Tensor:
    """NiftyNet's ``VariationalLowerBound`` in the loss signature: ``labels`` the images in [0, 1],
    ``logits`` the VAE's outputs (``data_mean``, ``data_logvar``, ``posterior_mean``,
    ``posterior_logvar``); the negative ELBO, :func:`gaussian_nll` + :func:`kl_divergence` (``weight``
    is not used). ``net_autoencoder`` shows the two terms apart."""
    return (gaussian_nll(labels, logits["data_mean"], logits["data_logvar"])
            + kl_divergence(logits["posterior_mean"], logits["posterior_logvar"]))


def discriminator_loss(kind: str, real_logits: Any, fake_logits: Any, real_label: float = 1.0) -> tf.Tensor:
    """The discriminator's loss of a batch (see the module docstring; without the gradient penalty)."""
    real, fake = tf.cast(real_logits, tf.float32), tf.cast(fake_logits, tf.float32)
    if kind == "cross_entropy":
        return (tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(real), real_label),
                                                                       logits=real))
                + tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(fake), logits=fake)))
    if kind == "least_squares":
        return 0.5 * tf.reduce_mean(tf.square(real - real_label)) + 0.5 * tf.reduce_mean(tf.square(fake))
    if kind == "wasserstein":
        return tf.reduce_mean(fake) - tf.reduce_mean(real)
    raise ValueError(f"unknown GAN loss {kind!r}; expected one of {', '.join(GAN_LOSSES)}")


def generator_loss(kind: str, fake_logits: Any) -> tf.Tensor:
    """The generator's loss of a batch (see the module docstring)."""
    fake = tf.cast(fake_logits, tf.float32)
    if kind == "cross_entropy":
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(fake), logits=fake))
    if kind == "least_squares":
        return 0.5 * tf.reduce_mean(tf.square(fake - 1.0))
    if kind == "wasserstein":
        return -tf.reduce_mean(fake)
    raise ValueError(f"unknown GAN loss {kind!r}; expected one of {', '.join(GAN_LOSSES)}")


def gradient_penalty(discriminator: Any, real: Any, fake: Any, conditioning: Any = None,
                     seed: Any = None) -> tf.Tensor:
    """WGAN-GP's penalty: the mean of (‖∇D(x̂)‖ − 1)² at random points x̂ between real and generated images."""
    real, fake = tf.cast(real, tf.float32), tf.cast(fake, tf.float32)
    shape = tf.concat([tf.shape(real)[:1], tf.ones([tf.rank(real) - 1], tf.int32)], axis=0)
    alpha = tf.random.stateless_uniform(shape, seed=seed) if seed is not None else tf.random.uniform(shape)
    mixed = real + alpha * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        logits = discriminator(mixed, conditioning, training=True)
    grads = tape.gradient(logits, mixed)
    norms = tf.sqrt(_per_sample_sum(tf.square(grads)) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))
