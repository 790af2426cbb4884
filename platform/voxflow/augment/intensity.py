"""Random intensity transforms of images: bias field, gamma, Gaussian noise, scaling and shift.

They change the intensity maps (``intensity_keys``, by default every map of kind intensity) only;
label and weight maps pass through untouched.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from voxflow.augment.base import IntensityTransform, as_range, nonnegative_range, per_sample, uniform


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


#: Polynomial (increasing powers) of ``log2(1 + t)`` on ``[0, 1)``: ``t · q(t)``, a Chebyshev fit of
#: ``q``, so ``log2 1 = 0`` exactly; max error 3.1e-7 evaluated in float32.
_LOG2_1P = (0.0, 1.4426947832107544, -0.7213107347488403, 0.4800737500190735, -0.35345467925071716,
            0.25617966055870056, -0.1555999219417572, 0.0637875646352768, -0.012370634824037552)
#: Polynomial of ``2**f`` on ``[0, 1)``: ``1 + f · q(f)``, so ``2**0 = 1`` exactly; max relative error 2.8e-7.
_EXP2 = (1.0, 0.693147599697113, 0.24020686745643616, 0.05565866455435753, 0.009196802042424679,
         0.0017896649660542607)


def _polynomial(coefficients: tuple[float, ...], x: tf.Tensor) -> tf.Tensor:
    total = tf.constant(coefficients[-1], tf.float32)
    for c in coefficients[-2::-1]:
        total = total * x + c
    return total


def _log2_of_bits(bits: tf.Tensor) -> tf.Tensor:
    """``log2`` of the positive normal float32 numbers whose bits are ``bits`` (int32): the exponent
    read from the bits plus :data:`_LOG2_1P` of the mantissa."""
    exponent = tf.cast(tf.bitwise.right_shift(bits, 23) - 127, tf.float32)
    mantissa = tf.bitcast(tf.bitwise.bitwise_or(tf.bitwise.bitwise_and(bits, 0x7FFFFF), 0x3F800000), tf.float32)
    return exponent + _polynomial(_LOG2_1P, mantissa - 1.0)


def signed_power(x: tf.Tensor, gamma: tf.Tensor) -> tf.Tensor:
    """``sign(x) · |x| ** gamma`` of a float32 tensor for ``gamma > 0``: 0 and -0 stay themselves,
    ±inf and NaN pass through, results below the normal range are flushed to zero (subnormal inputs
    count as 0, as TensorFlow's CPU kernels and XLA flush them anyway).

    ``2 ** (gamma · log2 |x|)`` with the exponent read from the float's bits and both the logarithm
    of the mantissa and the power of two of the fraction by polynomials; the sign is the input's
    sign bit, put back with one integer operation. As accurate as ``exp(gamma · log |x|)``
    (relative error ~1e-6, from rounding ``gamma · log2 |x|`` to float32) and, compiled by XLA for
    the CPU, all vector arithmetic in one pass: ~1.4× faster than ``exp`` and ``log``, which are
    ~3× faster than XLA's ``pow``.
    """
    bits = tf.bitcast(x, tf.int32)
    magnitude = tf.bitwise.bitwise_and(bits, 0x7FFFFFFF)
    sign = tf.bitwise.bitwise_xor(bits, magnitude)
    # clipped, y = 128 makes the bits of infinity (overflow) and y < -126 a power of two of 0 (underflow)
    y = tf.clip_by_value(gamma * _log2_of_bits(magnitude), -127.0, 128.0)
    whole = tf.floor(y)
    power_of_two = tf.bitcast(tf.bitwise.left_shift(tf.cast(whole, tf.int32) + 127, 23), tf.float32)
    power = power_of_two * _polynomial(_EXP2, y - whole)
    normal = tf.logical_and(magnitude >= 0x00800000, magnitude < 0x7F800000)
    special = tf.where(magnitude < 0x00800000, 0.0, tf.bitcast(magnitude, tf.float32))  # 0; inf, NaN
    return tf.bitcast(tf.bitwise.bitwise_or(tf.bitcast(tf.where(normal, power, special), tf.int32), sign), tf.float32)


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
        return signed_power(image, tf.reshape(params["gamma"], [-1, 1, 1, 1, 1]))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(log_gamma=self.log_gamma)
        return config


#: Polynomial of ``cos(√s)`` on ``[0, (π/2)²]`` (Chebyshev fit, max error 9.1e-8 in float32).
_COS_OF_SQUARE = (1.0, -0.5, 0.0416666679084301, -0.0013888884568586946, 2.4801040126476437e-05,
                  -2.75246833325582e-07, 1.990768438986379e-09)


def _mix32(x: tf.Tensor) -> tf.Tensor:
    """A 32-bit integer mixer (xor-shift-multiply, constants of Wellons' "lowbias32"): every input bit
    flips each output bit with probability close to 1/2."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
    x = x * tf.constant(0x7FEB352D, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(15, tf.uint32)))
    x = x * tf.constant(0x846CA68B, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))


def _standard_normal(words: tf.Tensor) -> tf.Tensor:
    """One standard normal float32 value per random 32-bit word (uint32), by the first output of
    Box-Muller, ``sqrt(-2 ln u) · cos θ``, whose marginal distribution is the standard normal.

    The top 20 bits give ``u = (k + ½) / 2^20`` (so ``|n| < 5.4``; float32 uniforms reach 5.6),
    its logarithm read from the float's exponent plus a polynomial of the mantissa; the low 12 bits
    the angle ``θ = (a + ½) · 2π / 4096``: its quadrant from two bits, its cosine (or the sine, a
    cosine of the reflected angle) from one polynomial, its sign from the quadrant. The midpoint
    rule over a smooth periodic integrand is accurate to far below float32, so the values are
    normal. No table and no transcendental function of XLA's: all vector arithmetic.
    """
    # 2k + 1 (21 bits, exact in float32) = u · 2^21
    odd = tf.cast(tf.bitwise.bitwise_or(tf.bitwise.right_shift(words, tf.constant(11, tf.uint32)),
                                        tf.constant(1, tf.uint32)), tf.int32)
    log2_u = _log2_of_bits(tf.bitcast(tf.cast(odd, tf.float32), tf.int32)) - 21.0
    radius = tf.sqrt((-2.0 * math.log(2.0)) * log2_u)
    angle = tf.cast(tf.bitwise.bitwise_and(words, tf.constant(4095, tf.uint32)), tf.int32)
    quadrant = tf.bitwise.right_shift(angle, 10)
    # within odd quadrants cos(π/2·q + x) is ±sin x = ±cos(π/2 - x): the position counted backwards
    position = tf.bitwise.bitwise_xor(tf.bitwise.bitwise_and(angle, 1023), tf.bitwise.bitwise_and(quadrant, 1) * 1023)
    x = (tf.cast(position, tf.float32) + 0.5) * (math.pi / 2048)
    cosine = _polynomial(_COS_OF_SQUARE, x * x)
    negative = tf.bitwise.left_shift(tf.bitwise.bitwise_and(quadrant + 1, 2), 30)  # quadrants 1 and 2
    return radius * tf.bitcast(tf.bitwise.bitwise_xor(tf.bitcast(cosine, tf.int32), negative), tf.float32)


@tf.function(jit_compile=True, reduce_retracing=True)
def _add_normal(image: tf.Tensor, seeds: tf.Tensor, mean: tf.Tensor, std: tf.Tensor, apply: tf.Tensor) -> tf.Tensor:
    """``image + mean + std · n``, ``n`` standard normal drawn from one ``(2,)`` seed per sample;
    ``image`` itself for the samples where ``apply`` ``(B,)`` is false (selected in the same pass).

    One random 32-bit word per value, counter-based: word ``i`` is ``mix(mix(i ^ k1) + k2)`` with
    ``mix`` a 32-bit integer mixer (xor-shift, multiply; "lowbias32") and the keys ``k1, k2`` two
    Philox words drawn from the sample's seed; :func:`_standard_normal` turns it into a value. Every
    voxel computes its own value from its own index, so XLA makes one vectorised pass: Philox words
    for every pair of values took ~8 ms at 192³, and pairing the two Box-Muller outputs (cosines in
    one half of the window, sines in the other) made XLA select between the halves voxel by voxel,
    ~6 ms more than this whole pass. The values pass Kolmogorov-Smirnov tests against the normal
    distribution on millions of values, with no correlation between neighbours or samples.
    """
    shape = tf.shape(image)
    count = tf.reduce_prod(shape[1:])
    keys = tf.map_fn(lambda s: tf.random.stateless_uniform([2], s, minval=None, maxval=None, dtype=tf.uint32,
                                                           alg="philox"), seeds, fn_output_signature=tf.uint32)
    counter = tf.cast(tf.range(count, dtype=tf.int32), tf.uint32)[None]
    words = _mix32(_mix32(tf.bitwise.bitwise_xor(counter, keys[:, :1])) + keys[:, 1:])  # (B, N)
    scale = tf.reshape(std, [-1, 1, 1, 1, 1])
    noisy = image + tf.reshape(mean, [-1, 1, 1, 1, 1]) + scale * tf.reshape(_standard_normal(words), shape)
    return tf.where(tf.reshape(apply, [-1, 1, 1, 1, 1]), noisy, image)


class RandomNoise(IntensityTransform):
    """Add Gaussian noise ``N(μ, σ²)`` with ``μ ~ U(-a, a)`` and ``σ ~ U(0, b)`` (TorchIO's ``RandomNoise``).

    Pairs give ``U(a, b)``. Parameters: ``mean``, ``std`` ``(B,)`` and ``noise_seed`` ``(B, 2)``,
    which regenerates the same noise.
    """

    def __init__(self, mean: Any = 0.0, std: Any = (0.0, 0.25), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mean = as_range(mean, "mean")
        self.std = nonnegative_range(std, "std")

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        noise_seed = per_sample(seeds, 3, lambda s: tf.random.stateless_uniform(
            [2], s, minval=None, maxval=None, dtype=tf.int64), tf.int64)
        return {"mean": uniform(seeds, 1, (), *self.mean), "std": uniform(seeds, 2, (), *self.std),
                "noise_seed": noise_seed}

    @classmethod
    def noise(cls, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """Standard normal noise shaped like ``image``, regenerated from ``params["noise_seed"]``."""
        zeros = tf.zeros_like(image, tf.float32)
        ones = tf.ones_like(params["noise_seed"][:, 0], tf.float32)
        everywhere = tf.ones_like(ones, tf.bool)
        return tf.ensure_shape(_add_normal(zeros, params["noise_seed"], 0.0 * ones, ones, everywhere), image.shape)

    def apply_image(self, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.ensure_shape(self.apply_where(image, params, tf.ones_like(params["mean"], tf.bool)), image.shape)

    def apply_where(self, image: tf.Tensor, params: dict[str, tf.Tensor], apply: tf.Tensor) -> tf.Tensor:
        # the choice between noisy and kept samples is made in the compiled pass: no separate select
        return _add_normal(image, params["noise_seed"], params["mean"], params["std"], apply)

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
