"""A toy GAN: a generator learns N(3, 0.5) from noise, against a discriminator (adversarial step)."""

import keras
import numpy as np
import tensorflow as tf

from voxflow.applications.base import Application
from voxflow.config import Key
from voxflow.config.values import IntType


def mlp(name):
    return keras.Sequential([keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)], name=name)


class ToyGan(Application):
    SECTION = "TOYGAN"
    STEP = "adversarial"
    KEYS = (Key("d_steps", IntType(1), 2, "discriminator updates per generator update"),)

    def prepare(self):
        rng = np.random.default_rng(0)
        self.real = rng.normal(3.0, 0.5, (4096, 1)).astype(np.float32)
        self.noise = rng.normal(0.0, 1.0, (4096, 4)).astype(np.float32)

    def training_dataset(self, worker):
        return tf.data.Dataset.from_tensor_slices({"real": self.real, "noise": self.noise}).repeat()

    def build_models(self):
        generator, discriminator = mlp("generator"), mlp("discriminator")
        generator(np.zeros((1, 4), np.float32))
        discriminator(np.zeros((1, 1), np.float32))
        return {"generator": generator, "discriminator": discriminator}

    def forward(self, models, batch, training):
        return models["generator"](batch["noise"], training=training)

    def discriminator_steps(self):
        return int(self.cfg.app.d_steps)

    def discriminator_losses(self, models, batch):
        fake = tf.stop_gradient(models["generator"](batch["noise"], training=True))
        real_logits = models["discriminator"](batch["real"], training=True)
        fake_logits = models["discriminator"](fake, training=True)
        bce = tf.nn.sigmoid_cross_entropy_with_logits
        return {"d_loss": tf.reduce_mean(bce(tf.ones_like(real_logits), real_logits))
                + tf.reduce_mean(bce(tf.zeros_like(fake_logits), fake_logits))}

    def generator_losses(self, models, batch):
        logits = models["discriminator"](models["generator"](batch["noise"], training=True), training=True)
        return {"g_loss": tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.ones_like(logits), logits))}
