"""A network learns: toynet overfits a tiny two-class 3-D problem."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from voxflow.networks import ToyNet


def test_toynet_overfits_a_tiny_problem():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 8, 8, 8, 1)).astype("float32")
    labels = (images[..., 0] > 0.3).astype("int32")  # a voxel-wise rule a 3×3×3 conv can learn
    net = ToyNet(2, spatial_dims=3)
    optimizer = keras.optimizers.Adam(learning_rate=0.02)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, net(images, training=True))
        grads = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(grads, net.trainable_variables))
        return loss

    losses = [float(step()) for _ in range(50)]
    assert losses[-1] < 0.5 * losses[0], losses[::10]
