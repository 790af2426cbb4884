"""The base of every augmentation layer: sample parameters, record them, apply them.

A layer takes a batch dict of ``(B, X, Y, Z, C)`` maps or a bare image tensor. Which entries are
maps, and how each is treated, comes from their kinds (:mod:`voxflow.roles`), given as ``maps``
(``{key: kind}``; by default ``"image"`` intensity, ``"label"`` label, ``"weight"`` and
``"sampler"`` weight); anything else (``"seed"``, ``"location"``) passes through. Spatial layers
move every map; intensity layers change the ``intensity_keys`` (by default every intensity map).
Random
numbers come from stateless ops keyed on one seed pair per sample: the batch's ``"seed"`` entry
(``(B, 2)`` integers, which the segmentation application attaches to each window) or, without one,
the layer's :class:`keras.random.SeedGenerator`. So a seeded layer gives bit-identical output for
the same batch, every replica of a ``tf.distribute`` step draws its own samples' parameters, and no
variable is needed inside the compiled step.

Example:
    >>> layer = RandomGamma(log_gamma=0.3, p=0.5, seed=1)             # doctest: +SKIP
    >>> params = layer.sample(batch)                                   # doctest: +SKIP
    >>> out = layer.apply(batch, params)   # == layer(batch) when the seeds are the same
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from voxflow.roles import Kind, kinds_of, of_kind


def as_range(value: Any, name: str, around: float = 0.0, minimum: float | None = None) -> tuple[float, float]:
    """TorchIO's convention: ``a`` → ``(around - a, around + a)``; ``(a, b)`` → itself.

    Raises:
        ValueError: not one or two numbers, ``a > b``, or below ``minimum``.
    """
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(values) == 1:
        low, high = around - abs(float(values[0])), around + abs(float(values[0]))
    elif len(values) == 2:
        low, high = float(values[0]), float(values[1])
    else:
        raise ValueError(f"{name} must be one number or two, got {value!r}")
    if low > high:
        raise ValueError(f"{name} must be (low, high) with low <= high, got {value!r}")
    if minimum is not None and low < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return low, high


def nonnegative_range(value: Any, name: str, maximum: float | None = None) -> tuple[float, float]:
    """TorchIO's ranges of quantities that cannot be negative: ``d`` → ``(0, d)``; ``(a, b)`` → itself,
    ``0 <= a <= b`` (``<= maximum`` if given)."""
    low, high = as_range(value if isinstance(value, (tuple, list)) else (0.0, value), name, minimum=0.0)
    if maximum is not None and high > maximum:
        raise ValueError(f"{name} must be <= {maximum:g}, got {value!r}")
    return low, high


def axis_ranges(value: Any, name: str, around: float = 0.0) -> tuple[tuple[float, float], ...]:
    """One, two or six numbers → one ``(low, high)`` per spatial axis."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(values) == 6:
        return tuple(as_range(values[2 * i: 2 * i + 2], name) for i in range(3))
    return (as_range(values, name, around),) * 3


def fold(seeds: tf.Tensor, salt: int) -> tf.Tensor:
    """Derive an independent ``(B, 2)`` seed per sample for draw number ``salt``.

    Stateless ops hash their seed pair (Philox), so shifting the first word gives a new stream.
    """
    return tf.cast(seeds, tf.int64) + tf.constant([salt * 7919 + 1, 0], tf.int64)


def per_sample(seeds: tf.Tensor, salt: int, draw: Callable[[tf.Tensor], tf.Tensor],
               dtype: tf.DType = tf.float32) -> tf.Tensor:
    """Stack ``draw(seed)`` over the batch, each sample with its own seed pair."""
    return tf.map_fn(draw, fold(seeds, salt), fn_output_signature=dtype)


def uniform(seeds: tf.Tensor, salt: int, shape: Sequence[int], low: Any, high: Any) -> tf.Tensor:
    """``(B, *shape)`` float32 draws from U(low, high) (bounds broadcast against ``shape``)."""
    unit = per_sample(seeds, salt, lambda s: tf.random.stateless_uniform(list(shape), s))
    low = tf.constant(low, tf.float32)
    return low + (tf.constant(high, tf.float32) - low) * unit


def randint(seeds: tf.Tensor, salt: int, shape: Sequence[int], low: int, high: int) -> tf.Tensor:
    """``(B, *shape)`` int32 draws from the integers ``low..high`` inclusive."""
    return per_sample(seeds, salt, lambda s: tf.random.stateless_uniform(
        list(shape), s, minval=low, maxval=high + 1, dtype=tf.int32), tf.int32)


def select(apply: tf.Tensor, new: tf.Tensor, old: tf.Tensor) -> tf.Tensor:
    """Per-sample choice between ``new`` and ``old`` (``apply`` is ``(B,)`` bool)."""
    mask = tf.reshape(apply, [-1] + [1] * (len(new.shape) - 1))
    return tf.where(mask, new, old)


def mirrored_index(index: Any, size: int) -> np.ndarray:
    """Voxel indices mirrored into ``[0, size)`` the way ``tf.pad(mode="SYMMETRIC")`` extends an axis:
    ``… 1 0 | 0 1 … size-1 | size-1 …``, repeating for reaches beyond one size."""
    index = np.asarray(index) % (2 * size)
    return np.where(index >= size, 2 * size - 1 - index, index)


def flat_axes(shape: Sequence[int | None]) -> tuple[bool, bool, bool]:
    """Which spatial axes of a ``(B, X, Y, Z, C)`` shape have size 1 (2-D windows)."""
    return tuple(shape[1 + i] == 1 for i in range(3))


class RandomTransform(keras.layers.Layer):
    """Base of the augmentation layers (not part of any model: nothing here is checkpointed).

    Subclasses implement :meth:`sample_params` and :meth:`apply`; :meth:`call` runs both and keeps
    the parameters in :attr:`last_params` (``{"apply": (B,) bool, ...}``, one row per sample).

    Args:
        p: probability that a sample is transformed.
        seed: seed of the layer's own generator, used when the batch has no ``"seed"`` entry.
        spacing: voxel size in mm of the windows (mm-valued arguments are converted with it).
        maps: ``{batch key: kind}`` of the batch's maps (see the module docstring).
        intensity_keys: the maps intensity transforms change; ``None`` = every intensity map.
    """

    #: Whether the layer moves voxels (then it is applied to every map, whatever its kind).
    spatial = False

    def __init__(self, p: float = 1.0, seed: int | None = None,
                 spacing: Sequence[float] = (1.0, 1.0, 1.0), maps: dict[str, Kind | str] | None = None,
                 intensity_keys: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.maps = kinds_of(maps if maps is not None else ("image", "label", "weight", "sampler"), maps)
        self.intensity_keys = tuple(of_kind(self.maps, Kind.INTENSITY) if intensity_keys is None else intensity_keys)
        unknown = [key for key in self.intensity_keys if key not in self.maps]
        if unknown or not self.maps:
            raise ValueError(f"intensity_keys {unknown} are not among the maps {list(self.maps)}" if unknown
                             else "maps must name at least one map")
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p!r}")
        self.p = float(p)
        self.seed = seed
        self.spacing = tuple(float(s) for s in spacing)
        if len(self.spacing) != 3:
            raise ValueError(f"spacing must have three values, got {spacing!r}")
        self._generator = keras.random.SeedGenerator(seed)
        self.last_params: dict[str, tf.Tensor] | None = None

    # ------------------------------------------------------------------ to override
    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        """Draw this layer's parameters for a batch of ``shape`` (``(B, X, Y, Z, C)``)."""
        raise NotImplementedError

    def apply(self, batch: dict[str, tf.Tensor], params: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Transform ``batch`` with given parameters (deterministic)."""
        raise NotImplementedError

    def margin(self, window: Sequence[int]) -> tuple[int, int, int]:
        """Voxels needed around ``window`` on each side so that the warp never samples outside."""
        return (0, 0, 0)

    # ------------------------------------------------------------------ shared
    def map_keys(self, batch: dict[str, tf.Tensor]) -> list[str]:
        """The maps present in ``batch``, in the order of :attr:`maps`."""
        return [key for key in self.maps if key in batch]

    def reference(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """The map whose shape parameters are drawn for: the first intensity map present, else the
        first map."""
        keys = [k for k in self.intensity_keys if k in batch] or self.map_keys(batch)
        if not keys:
            raise ValueError(f"the batch holds none of the maps {list(self.maps)}; it has {sorted(batch)}")
        return batch[keys[0]]

    def seeds(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """The batch's ``(B, 2)`` seeds, or fresh ones from the layer's generator."""
        if "seed" in batch:
            return tf.cast(batch["seed"], tf.int64)
        state = tf.cast(self._generator.next(), tf.int64)
        size = tf.shape(self.reference(batch), out_type=tf.int64)[0]
        return tf.stack([tf.fill([size], state[0]), state[1] * 1000003 + tf.range(size)], axis=1)

    def sample(self, batch: dict[str, tf.Tensor] | tf.Tensor) -> dict[str, tf.Tensor]:
        """Draw parameters for ``batch``, including the per-sample ``apply`` flags."""
        batch = self._as_batch(batch)
        seeds = self.seeds(batch)
        params = self._draw(self.reference(batch).shape, seeds)
        params["apply"] = uniform(seeds, 0, (), 0.0, 1.0) < self.p
        return params

    def _draw(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        """The parameters of :meth:`sample` but ``apply``: one draw per sample."""
        return self.sample_params(shape, seeds)

    def call(self, inputs: dict[str, tf.Tensor] | tf.Tensor, training: bool | None = True) -> Any:
        batch = self._as_batch(inputs)
        if training is False:
            return inputs
        params = self.sample(batch)
        self.last_params = params
        out = self.apply(batch, params)
        return out if isinstance(inputs, dict) else out[self._bare_key()]

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(p=self.p, seed=self.seed, spacing=self.spacing,
                      maps={key: kind.value for key, kind in self.maps.items()}, intensity_keys=self.intensity_keys)
        return config

    def _bare_key(self) -> str:
        """The key a bare tensor stands for: the first intensity map (else the first map)."""
        return (self.intensity_keys or tuple(self.maps))[0]

    def _as_batch(self, inputs: dict[str, tf.Tensor] | tf.Tensor) -> dict[str, tf.Tensor]:
        batch = dict(inputs) if isinstance(inputs, dict) else {self._bare_key(): inputs}
        for key in self.map_keys(batch):
            batch[key] = tf.convert_to_tensor(batch[key])
            if batch[key].shape.rank == 4:  # (B, X, Y, C): a 2-D batch gets a singleton Z axis
                raise ValueError("augmentation layers take (B, X, Y, Z, C) batches; give 2-D images as (B, X, Y, 1, C)")
        return batch


class IntensityTransform(RandomTransform):
    """A transform of image intensities only: ``apply_image`` on the samples drawn to change.

    Element-wise subclasses set ``jit = True``: XLA fuses their ops into one pass over the image.
    Subclasses that choose between changed and kept samples inside their own compiled pass (no
    separate select pass) override :meth:`apply_where`.

    Args:
        per_channel: draw the parameters again for every channel (every modality of a multi-modal
            window), as TorchIO does for each image of a subject; by default one draw serves all
            channels, as MONAI's array transforms do. Whether a sample changes (``p``) is still
            decided once per sample. The parameters then have one row per sample and channel
            (sample-major); channel ``c`` of sample ``b`` uses seeds ``(s0, s1 · C + c)``.
        **kwargs: ``p``, ``seed``, ``spacing`` (see :class:`RandomTransform`).
    """

    jit = False
    #: Whether ``per_channel`` is offered (not for layers TorchIO draws once per subject).
    per_channel_allowed = True

    def __init__(self, per_channel: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if per_channel and not self.per_channel_allowed:
            raise ValueError(f"{type(self).__name__} draws once per sample: per_channel is not offered")
        self.per_channel = bool(per_channel)

    def _draw(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        if not self.per_channel:
            return self.sample_params(shape, seeds)
        # every channel a sample of its own, sample-major, with seeds (s0, s1 · C + c)
        channels = int(shape[-1])
        repeated = tf.repeat(seeds, channels, axis=0)
        channel = tf.tile(tf.range(channels, dtype=tf.int64), tf.shape(seeds, out_type=tf.int64)[:1])
        rows = tf.stack([repeated[:, 0], repeated[:, 1] * channels + channel], axis=1)
        flat = tf.TensorShape([None if shape[0] is None else shape[0] * channels, *shape[1:4], 1])
        return self.sample_params(flat, rows)

    def apply_image(self, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """Return the transformed ``(B, X, Y, Z, C)`` image (every sample)."""
        raise NotImplementedError

    def apply_where(self, image: tf.Tensor, params: dict[str, tf.Tensor], apply: tf.Tensor) -> tf.Tensor:
        """The transformed float32 ``image`` for the samples where ``apply`` ``(B,)`` holds, the image
        itself (bit for bit) elsewhere."""
        if not self.jit:
            return select(apply, self.apply_image(image, params), image)
        if getattr(self, "_compiled", None) is None:
            # traced once per window shape (XLA compiles per shape anyway): with reduce_retracing
            # a second shape would reach apply_image as unknown, and some need static sizes
            self._compiled = tf.function(
                lambda x, q, a: select(a, self.apply_image(x, q), x), jit_compile=True)
        return self._compiled(image, params, apply)

    def apply(self, batch: dict[str, tf.Tensor], params: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Change every intensity map of ``batch`` present with the same parameters."""
        out = dict(batch)
        for key in self.intensity_keys:
            if key in batch:
                out[key] = self._apply_one(tf.cast(batch[key], tf.float32), params)
        return out

    def _apply_one(self, image: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        if self.per_channel and image.shape[-1] != 1:
            # every channel a sample of its own, (B·C, X, Y, Z, 1) in sample-major order, and back
            channels = int(image.shape[-1])
            stacked = tf.expand_dims(tf.reshape(tf.transpose(image, [0, 4, 1, 2, 3]), [-1, *image.shape[1:4]]), -1)
            changed = self.apply_where(stacked, params, tf.repeat(params["apply"], channels))
            changed = tf.reshape(changed, [-1, channels, *image.shape[1:4]])
            return tf.ensure_shape(tf.transpose(changed, [0, 2, 3, 4, 1]), image.shape)
        # compiled helpers may relax their output shape (reduce_retracing): the next layer gets it static
        return tf.ensure_shape(self.apply_where(image, params, params["apply"]), image.shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(per_channel=self.per_channel)
        return config
