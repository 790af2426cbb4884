"""Random intensity transforms of images: bias field, gamma, Gaussian noise, scaling and shift.

They change ``"image"`` only; label, weight and sampler maps pass through untouched.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from voxflow.augment.base import IntensityTransform, as_range, per_sample, uniform


def _monomials(size: int, order: int) -> np.ndarray:
    """``(size, order + 1)`` powers ``t**i`` of coordinates ``t`` spread over [-1, 1]."""
    t = np.linspace(-1.0, 1.0, size) if size > 1 else np.zeros(1)
    return np.stack([t**i for i in range(order + 1)], axis=1).astype(np.float32)


class RandomBiasField(IntensityTransform):
    """Multiply by a smooth field ``exp(Σ c_ijk x^i y^j z^k)`` over ``i + j + k <= order``.

    Coordinates span [-1, 1] over the window; each coefficient ``c ~ U(-a, a)`` (``coefficients = a``)
    or ``U(a, b)``. The field is positive, so the sign of every voxel is kept (TorchIO's
    ``RandomBiasField``; NiftyNet's ``bias_field_range`` and ``bf_order``). Parameters:
    ``coefficients`` ``(B, order+1, order+1, order+1)`` (zero where ``i + j + k > order``).
    """

    jit = True

    def __init__(self, coefficients: Any = 0.5, order: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.coefficients = as_range(coefficients, "coefficients")
        self.order = int(order)
        if self.order < 0:
            raise ValueError(f"order must be >= 0, got {order!r}")

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        n = self.order + 1
        powers = np.add.outer(np.add.outer(np.arange(n), np.arange(n)), np.arange(n))
        mask = tf.constant((powers <= self.order).astype(np.float32))
        return {"coefficients": uniform(seeds, 1, (n, n, n), *self.coefficients) * mask[None]}

    def field(self, shape: Any, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """The multiplicative ``(B, X, Y, Z, 1)`` field of ``params``."""
        px, py, pz = (tf.constant(_monomials(int(size), self.order)) for size in shape)
        log_field = tf.einsum("xi,yj,zk,bijk->bxyz", px, py, pz, params["coefficients"])
        return tf.exp(log_field)[..., None]

    def apply_image(self, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        return image * self.field(image.shape[1:4], params)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(coefficients=self.coefficients, order=self.order)
        return config


class RandomGamma(IntensityTransform):
    """Power law ``sign(x) |x|^γ`` with ``log γ ~ U(-a, a)`` or ``U(a, b)`` (TorchIO's ``RandomGamma``).

    Parameters: ``gamma`` ``(B,)``.
    """

    jit = True

    def __init__(self, log_gamma: Any = 0.3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log_gamma = as_range(log_gamma, "log_gamma")

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"gamma": tf.exp(uniform(seeds, 1, (), *self.log_gamma))}

    def apply_image(self, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        # |x|^γ as exp(γ log|x|) (0 stays 0 as γ > 0): XLA's CPU pow is ~3x slower than exp and log
        gamma = tf.reshape(params["gamma"], [-1, 1, 1, 1, 1])
        return tf.sign(image) * tf.exp(gamma * tf.math.log(tf.abs(image)))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(log_gamma=self.log_gamma)
        return config


class RandomNoise(IntensityTransform):
    """Add Gaussian noise ``N(μ, σ²)`` with ``μ ~ U(-a, a)`` and ``σ ~ U(0, b)`` (TorchIO's ``RandomNoise``).

    Pairs give ``U(a, b)``. Parameters: ``mean``, ``std`` ``(B,)`` and ``noise_seed`` ``(B, 2)``,
    which regenerates the same noise.
    """

    jit = False  # XLA's random-number generation on CPU is ~15x slower than the TF kernel

    def __init__(self, mean: Any = 0.0, std: Any = (0.0, 0.25), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mean = as_range(mean, "mean")
        self.std = as_range(std if isinstance(std, (tuple, list)) else (0.0, std), "std", minimum=0.0)

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        noise_seed = per_sample(seeds, 3, lambda s: tf.random.stateless_uniform(
            [2], s, minval=None, maxval=None, dtype=tf.int64), tf.int64)
        return {"mean": uniform(seeds, 1, (), *self.mean), "std": uniform(seeds, 2, (), *self.std),
                "noise_seed": noise_seed}

    @staticmethod
    def noise(image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """Standard normal noise shaped like ``image``, regenerated from ``params["noise_seed"]``.

        Box-Muller on stateless uniforms: TensorFlow's uniform kernel is ~2.5x faster than its normal
        one, and one pair of uniforms gives two normal values, so this takes about 60 % of the time of
        ``tf.random.stateless_normal`` (in graph mode; XLA's random numbers on the CPU are far slower).
        """
        shape = tf.shape(image)[1:]
        count = tf.reduce_prod(shape)
        half = (count + 1) // 2
        unit = tf.map_fn(lambda s: tf.random.stateless_uniform([2, half], s), params["noise_seed"],
                         fn_output_signature=tf.float32)  # (B, 2, half)
        radius = tf.sqrt(-2.0 * tf.math.log1p(-unit[:, 0]))  # 1 - u in (0, 1]: finite
        angle = (2.0 * math.pi) * unit[:, 1]
        values = tf.concat([radius * tf.cos(angle), radius * tf.sin(angle)], axis=1)[:, :count]
        return tf.reshape(values, tf.shape(image))

    def apply_image(self, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        noise = self.noise(image, params)
        return image + tf.reshape(params["mean"], [-1, 1, 1, 1, 1]) + tf.reshape(params["std"], [-1, 1, 1, 1, 1]) * noise

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(mean=self.mean, std=self.std)
        return config


class RandomIntensityScale(IntensityTransform):
    """Multiply the image by ``s ~ U(a, b)`` (one factor per sample). Parameters: ``scale`` ``(B,)``."""

    jit = True

    def __init__(self, scale: Any = (0.9, 1.1), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = as_range(scale, "scale", around=1.0)

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"scale": uniform(seeds, 1, (), *self.scale)}

    def apply_image(self, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        return image * tf.reshape(params["scale"], [-1, 1, 1, 1, 1])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(scale=self.scale)
        return config


class RandomIntensityShift(IntensityTransform):
    """Add ``o ~ U(a, b)`` to the image (one offset per sample). Parameters: ``shift`` ``(B,)``."""

    jit = True

    def __init__(self, shift: Any = (-0.1, 0.1), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shift = as_range(shift, "shift")

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"shift": uniform(seeds, 1, (), *self.shift)}

    def apply_image(self, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        return image + tf.reshape(params["shift"], [-1, 1, 1, 1, 1])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(shift=self.shift)
        return config
