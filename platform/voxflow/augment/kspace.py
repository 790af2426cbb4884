"""MRI k-space artifacts: motion, ghosting and spikes, computed with ``tf.signal`` FFTs.

Motion and ghosting modify k-space along one axis only, so one-dimensional FFTs along that axis
give exactly the result of TorchIO's full three-dimensional FFTs (the transforms along the other
axes cancel with their inverses) at a fraction of the cost. A spike adds one k-space coefficient,
whose inverse transform is a plane wave added in image space. The real part of the inverse is kept.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from voxflow.augment.affine import sampling_matrix
from voxflow.augment.base import IntensityTransform, as_range, nonnegative_range, randint, uniform
from voxflow.augment.warp import INTERPOLATION_ORDER, affine_warp, check_interpolations


def _axis_last(image: tf.Tensor, axis: int) -> tuple[Any, Any]:
    """Functions from ``(B, X, Y, Z, C)`` to ``(B, C, …, axis)`` (spatial ``axis`` last) and back; no copy if C = 1."""
    if axis == 2 and image.shape[-1] == 1:  # (B, X, Y, Z, 1): the last spatial axis is already innermost
        return (lambda x: tf.expand_dims(tf.squeeze(x, -1), 1)), (lambda x: tf.expand_dims(tf.squeeze(x, 1), -1))
    perm = [0, 4, 1, 2, 3]
    perm.remove(axis + 1)
    perm.append(axis + 1)
    inverse = np.argsort(perm).tolist()
    return (lambda x: tf.transpose(x, perm)), (lambda x: tf.transpose(x, inverse))


def _shifted_index(size: int) -> np.ndarray:
    """Position of each unshifted frequency ``k`` in the ``fftshift``-ed spectrum."""
    return (np.arange(size) + size // 2) % size


@tf.function(jit_compile=True, reduce_retracing=True)
def _add_outer(image: tf.Tensor, left: tf.Tensor, right: tf.Tensor, terms: int, apply: tf.Tensor) -> tf.Tensor:
    """``image + Σ_k left[..., k] ⊗ right[:, k]`` in one pass over the ``(B, X·Y, Z·C)`` view of ``image``
    (``image`` itself for the samples where ``apply`` ``(B,)`` is false).

    ``left`` is ``(B, X·Y, K)``, ``right`` ``(B, K, Z·C)``, ``K = terms`` (a Python int: shapes of
    arguments may be relaxed to unknown by ``reduce_retracing``); the flat view lets XLA vectorise.
    """
    shape = tf.shape(image)
    total = tf.reshape(image, [shape[0], shape[1] * shape[2], shape[3] * shape[4]])
    flat = total
    for k in range(terms):
        total = total + left[:, :, k:k + 1] * right[:, k:k + 1, :]
    return tf.reshape(tf.where(tf.reshape(apply, [-1, 1, 1]), total, flat), shape)


@tf.function(jit_compile=True, reduce_retracing=True)
def _add_where(image: tf.Tensor, change: tf.Tensor, apply: tf.Tensor) -> tf.Tensor:
    """``image + change`` for the samples where ``apply`` ``(B,)`` holds, ``image`` itself elsewhere (one pass)."""
    return tf.where(tf.reshape(apply, [-1, 1, 1, 1, 1]), image + change, image)


@tf.function(jit_compile=True, reduce_retracing=True)
def _mix(spectra: list[tf.Tensor], masks: list[tf.Tensor]) -> tf.Tensor:
    """``Σ_t masks[t] · spectra[t]`` (real masks, complex spectra) in one pass (graph mode: one per op)."""
    total = None
    for spectrum, mask in zip(spectra, masks, strict=True):
        term = spectrum * tf.complex(mask, tf.zeros_like(mask))
        total = term if total is None else total + term
    return total


class RandomMotion(IntensityTransform):
    """Motion during acquisition (TorchIO's ``RandomMotion``, after Shaw et al. 2019).

    ``T = num_transforms`` rigid movements with angles ``U(-a, a)`` degrees and shifts ``U(-b, b)`` mm
    per axis (about the window's centre) happen at times ``t_i = i / (T + 1) + U(-δ, δ)``,
    ``δ = perturbation / (T + 1)``, as TorchIO draws them. K-space along the last axis of size > 1
    (centred order, ``N`` planes) is cut at ``floor(N · t_i)``: segment ``i`` holds the image after
    movement ``i``, except that the still image fills the segment holding the centre of k-space and
    the image that segment would have shown takes the first one (TorchIO's ``sort_spectra``): the
    result keeps the still image's contrast and position, so it stays aligned with its label.
    The moved images are resampled with ``image_interpolation`` (``linear``, ``cubic`` or
    ``nearest``). Parameters: ``degrees``, ``translation`` ``(B, T, 3)``, ``times`` ``(B, T)``.
    """

    def __init__(self, degrees: Any = 10.0, translation: Any = 10.0, num_transforms: int = 2,
                 image_interpolation: str = "linear", perturbation: float = 0.3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_interpolations(image_interpolation)
        self.image_interpolation = image_interpolation
        self.degrees = as_range(degrees, "degrees")
        self.translation = as_range(translation, "translation")
        self.num_transforms = int(num_transforms)
        if self.num_transforms < 1:
            raise ValueError(f"num_transforms must be >= 1, got {num_transforms!r}")
        self.perturbation = float(perturbation)
        if not 0.0 <= self.perturbation <= 0.5:  # beyond 1/2 the times could cross and leave [0, 1)
            raise ValueError(f"perturbation must be between 0 and 0.5, got {perturbation!r}")

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        t = self.num_transforms
        flat = tf.constant([0.0 if shape[1 + a] == 1 else 1.0 for a in range(3)])
        degrees = uniform(seeds, 1, (t, 3), *self.degrees)
        if any(shape[1 + a] == 1 for a in range(3)):  # 2-D: in-plane rotation only
            degrees = degrees * (1.0 - flat)
        translation = uniform(seeds, 2, (t, 3), *self.translation) * flat
        step = 1.0 / (t + 1)
        jitter = uniform(seeds, 3, (t,), -step * self.perturbation, step * self.perturbation)
        times = tf.constant([step * (i + 1) for i in range(t)], tf.float32)[None] + jitter  # sorted
        return {"degrees": degrees, "translation": translation, "times": times}

    def apply_image(self, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        return image + self._artifact(image, params)

    def apply_where(self, image: tf.Tensor, params: dict[str, tf.Tensor], apply: tf.Tensor) -> tf.Tensor:
        # the still image is part of the sum: samples not drawn to change keep it in the same pass
        return _add_where(image, self._artifact(image, params), apply)

    def _artifact(self, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """The change of ``image`` under the k-space mixing.

        The masks sum to one at every frequency, so the result is the still image plus, for each
        movement ``t``, its band of ``moved_t - image``: one FFT fewer than transforming every image,
        and exactly the image when nothing moves.
        """
        axis = max(a for a in range(3) if image.shape[a + 1] != 1)
        size = int(image.shape[axis + 1])
        position = tf.constant(_shifted_index(size), tf.float32)  # (size,)
        times = params["times"]  # (B, T), sorted
        bounds = tf.floor(times * size)  # TorchIO's int(N · t)
        segment = tf.reduce_sum(tf.cast(position[None, :, None] >= bounds[:, None, :], tf.int32), axis=-1)
        # the segment the still image fills: the one holding the centre (first time past 1/2)
        centre = tf.reduce_sum(tf.cast(times <= 0.5, tf.int32), axis=-1, keepdims=True)  # (B, 1)
        spatial = tf.shape(image)[1:4]
        # The real part of ifft(m · fft(v)) for a real v and a real mask m is irfft(h · rfft(v)) with the
        # symmetric half mask h[k] = (m[k] + m[-k]) / 2: half the spectrum, no complex input, same result.
        mirror = tf.constant((-np.arange(size)) % size, tf.int32)
        half = size // 2 + 1
        to_last, back = _axis_last(image, axis)
        spectra, masks = [], []
        for index in range(self.num_transforms):  # the warps are independent: they may run side by side
            move = {"degrees": params["degrees"][:, index], "translation": params["translation"][:, index],
                    "scales": tf.ones_like(params["degrees"][:, index])}
            change = affine_warp(image, sampling_matrix(move, spatial, self.spacing),
                                 INTERPOLATION_ORDER[self.image_interpolation], subtract=True)
            # movement index + 1 fills its own segment, or the first if its own holds the centre
            filled = tf.where(tf.equal(centre, index + 1), 0, index + 1)  # (B, 1)
            mask = tf.cast(tf.equal(segment, filled), tf.float32)  # (B, size)
            masks.append(tf.reshape(0.5 * (mask + tf.gather(mask, mirror, axis=1))[:, :half], [-1, 1, 1, 1, half]))
            spectra.append(tf.signal.rfft(to_last(change)))
        return back(tf.signal.irfft(_mix(spectra, masks), [size]))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(degrees=self.degrees, translation=self.translation, num_transforms=self.num_transforms,
                      image_interpolation=self.image_interpolation, perturbation=self.perturbation)
        return config


def _count_range(value: Any, name: str) -> tuple[int, int]:
    """A range of counts as TorchIO reads it: ``d`` → ``U{0..d}``; ``(a, b)`` → ``U{a..b}``, whole numbers."""
    low, high = nonnegative_range(value, name)
    if int(low) != low or int(high) != high:
        raise ValueError(f"{name} must be whole numbers, got {value!r}")
    return int(low), int(high)


def _dft_tables(size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """``cos`` and ``sin`` of ``2π j k / size`` for ``j, k < size``, float32 ``(size, size)``."""
    angles = 2.0 * np.pi * np.outer(np.arange(size), np.arange(size)) / size
    return tf.constant(np.cos(angles), tf.float32), tf.constant(np.sin(angles), tf.float32)


class RandomGhosting(IntensityTransform):
    """Ghosts along a phase-encoding axis (TorchIO's ``RandomGhosting``, its ranges and defaults).

    Per sample: ``n ~ U{a..b}`` (``num_ghosts``; one number ``d`` means ``U{0..d}``), an axis drawn
    from ``axes``, ``s ~ U(c, d)`` (``intensity``; one number ``d`` means ``U(0, d)``) and
    ``r ~ U(e, f)`` (``restore``; one number ``f`` means ``U(0, f)``; ``None``: ``r = 0``). Every
    ``n``-th plane of centred k-space along that axis (``N`` planes, centre ``N // 2``) is
    multiplied by ``1 - s``, except the ``2 · (round(r N) // 2)`` planes from ``N // 2 - round(r N) // 2``
    (TorchIO's window) and the central plane, which is always kept (TorchIO loses it when
    ``round(r N) < 2``). ``n = 0`` or ``s = 0`` leave the image as it is. Parameters:
    ``num_ghosts``, ``axis`` ``(B,)`` int, ``intensity``, ``restore`` ``(B,)``.
    """

    def __init__(self, num_ghosts: Any = (4, 10), axes: Any = (0, 1, 2), intensity: Any = (0.5, 1.0),
                 restore: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_ghosts = _count_range(num_ghosts, "num_ghosts")
        self.axes = (axes,) if isinstance(axes, int) else tuple(int(a) for a in axes)
        if not self.axes or any(a not in (0, 1, 2) for a in self.axes):
            raise ValueError(f"axes must be among 0, 1, 2, got {axes!r}")
        self.intensity = nonnegative_range(intensity, "intensity")
        self.restore = None if restore is None else nonnegative_range(restore, "restore", maximum=1.0)

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        usable = [a for a in self.axes if shape[1 + a] != 1] or [max(a for a in range(3) if shape[1 + a] != 1)]
        choice = randint(seeds, 2, (), 0, len(usable) - 1)
        return {"num_ghosts": randint(seeds, 1, (), *self.num_ghosts),
                "axis": tf.gather(tf.constant(usable, tf.int32), choice),
                "intensity": uniform(seeds, 3, (), *self.intensity),
                "restore": uniform(seeds, 4, (), *(self.restore or (0.0, 0.0)))}

    @staticmethod
    def _ghost(volume: tf.Tensor, axis: int, ghosts: tf.Tensor, intensity: tf.Tensor, restore: tf.Tensor) -> tf.Tensor:
        size = int(volume.shape[axis])
        position = tf.constant(_shifted_index(size), tf.int32)
        centre = size // 2
        half = tf.cast(tf.round(restore * size), tf.int32) // 2  # NumPy's round (half to even), as TorchIO
        kept = tf.logical_or(tf.logical_and(position >= centre - half, position < centre + half),
                             tf.equal(position, centre))
        hit = tf.logical_and(tf.equal(position % tf.maximum(ghosts, 1), 0), tf.logical_not(kept))
        hit = tf.logical_and(hit, ghosts > 0)
        # The real part of ifft(f · fft(v)) along the axis, with f = 1 - s·hit, is v times the real
        # N×N matrix I - s·P, P[j, l] = (1/N) Σ_k hit_k cos(2πk(j - l)/N) = (C·hit·Cᵀ + S·hit·Sᵀ) / N:
        # one matrix product along the axis (no transposed copies, no complex volume), equal to the
        # FFT route up to float rounding.
        cosine, sine = _dft_tables(size)
        weights = tf.cast(hit, tf.float32)[None]
        projection = (tf.matmul(cosine * weights, cosine, transpose_b=True)
                      + tf.matmul(sine * weights, sine, transpose_b=True)) / size
        matrix = tf.eye(size) - intensity * projection
        if axis == 2 and volume.shape[-1] == 1:  # the innermost axis: a plain product, no transposes
            return tf.reshape(tf.matmul(tf.reshape(volume, [-1, size]), matrix, transpose_b=True), tf.shape(volume))
        return tf.einsum(("ij,jyzc->iyzc", "ij,xjzc->xizc", "ij,xyjc->xyic")[axis], matrix, volume)

    def apply_image(self, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        def one(args: tuple[tf.Tensor, ...]) -> tf.Tensor:
            volume, axis, ghosts, intensity, restore = args
            branches = [lambda a=a: self._ghost(volume, a, ghosts, intensity, restore) if volume.shape[a] != 1
                        else volume for a in range(3)]
            return tf.switch_case(axis, branches)

        return tf.map_fn(one, (image, params["axis"], params["num_ghosts"], params["intensity"], params["restore"]),
                         fn_output_signature=tf.TensorSpec(image.shape[1:], tf.float32))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(num_ghosts=self.num_ghosts, axes=self.axes, intensity=self.intensity, restore=self.restore)
        return config


class RandomSpike(IntensityTransform):
    """Spikes in k-space: herringbone stripes (TorchIO's ``RandomSpike``).

    ``n ~ U{a..b}`` (``num_spikes``; one number ``d`` means ``U{0..d}``, as TorchIO reads it)
    positions ``~ U[0, 1)^3`` of the centred spectrum each get ``r · |F(0)|`` added (``|F(0)| = |Σ x|``,
    the spectrum's maximum for non-negative images, computed without an FFT), with one
    ``r ~ U(a, b)`` per sample (``intensity``; one value ``a`` means ``U(-a, a)``); the image changes
    by the inverse FFT of those coefficients (a plane wave each). TorchIO scales each later spike by
    the maximum of a spectrum that already holds the earlier ones (so with ``r > 1`` they grow as
    ``r^k``); here every spike is ``r · |F(0)|``. Parameters: ``positions`` ``(B, S, 3)``,
    ``intensity`` ``(B, S)`` (``r`` for the drawn spikes, 0 for the others).

    The plane waves are added in image space in one pass compiled with XLA: ``cos(a_i + b_j + c_k)``
    is expanded into 1-D cosines and sines, so neither an FFT nor per-voxel trigonometry is needed.
    """

    def __init__(self, num_spikes: Any = 1, intensity: Any = (1.0, 3.0), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_spikes = _count_range(num_spikes, "num_spikes")
        self.intensity = as_range(intensity, "intensity")

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        most = self.num_spikes[1]
        count = randint(seeds, 3, (), *self.num_spikes)
        active = tf.cast(tf.range(most)[None] < count[:, None], tf.float32)
        return {"positions": uniform(seeds, 1, (most, 3), 0.0, 1.0),
                "intensity": uniform(seeds, 2, (1,), *self.intensity) * active}

    def apply_image(self, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        return self.apply_where(image, params, tf.ones(tf.shape(image)[:1], tf.bool))

    def apply_where(self, image: tf.Tensor, params: dict[str, tf.Tensor], apply: tf.Tensor) -> tf.Tensor:
        if self.num_spikes[1] == 0:  # num_spikes = 0: never a spike
            return image
        # the choice between spiked and kept samples is made in the compiled pass: no separate select
        intensity = params["intensity"]
        sizes = [int(n) for n in image.shape[1:4]]
        # |F(0)| in graph mode: TensorFlow's reduction kernel is ~10x faster than XLA's on the CPU
        peak = tf.abs(tf.reduce_sum(image, axis=[1, 2, 3]))  # (B, C)
        left, right = [], []
        for spike in range(self.num_spikes[1]):
            cosines, sines = [], []
            for axis, size in enumerate(sizes):
                shifted = tf.floor(params["positions"][:, spike, axis] * size)  # (B,)
                frequency = tf.math.floormod(shifted - size // 2, size)
                # k·n reduced modulo the size first (exact in float32), so the angle stays in [0, 2π)
                turns = tf.math.floormod(frequency[:, None] * tf.range(size, dtype=tf.float32)[None], size)
                angle = (2.0 * math.pi / size) * turns  # (B, size)
                cosines.append(tf.cos(angle))
                sines.append(tf.sin(angle))
            # cos(a + b + c) = cos(a + b) cos c - sin(a + b) sin c: two (B, X·Y) planes, two (B, Z·C) rows
            (cx, cy, cz), (sx, sy, sz) = cosines, sines
            amplitude = intensity[:, spike, None] * peak / float(np.prod(sizes))  # (B, C)
            left += [tf.reshape(cx[:, :, None] * cy[:, None, :] - sx[:, :, None] * sy[:, None, :], [-1, sizes[0] * sizes[1]]),
                     -tf.reshape(sx[:, :, None] * cy[:, None, :] + cx[:, :, None] * sy[:, None, :], [-1, sizes[0] * sizes[1]])]
            right += [tf.reshape(wave[:, :, None] * amplitude[:, None, :], [tf.shape(wave)[0], -1])
                      for wave in (cz, sz)]
        spiked = _add_outer(image, tf.stack(left, axis=-1), tf.stack(right, axis=1), len(left), apply)
        return tf.ensure_shape(spiked, image.shape)  # the compiled function's may be relaxed

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(num_spikes=self.num_spikes, intensity=self.intensity)
        return config
