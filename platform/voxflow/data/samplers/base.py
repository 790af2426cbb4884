"""The training-window pipeline shared by every random sampler.

A sampler turns preprocessed volumes held in memory into an infinite ``tf.data.Dataset`` of
windows.  Everything on the hot path is a TensorFlow op inside a parallel, order-preserving
``map``; no Python generator is involved::

    counter ─► epoch e ─► shuffled volume order (stateless, keyed on (seed, e))
            ─► each volume repeated ``windows_per_volume`` times
            ─► enumerate (global element counter k)
            ─► map: draw a window start keyed on (seed, k), cut every role   (parallel, ordered)
            ─► shuffle(shuffle_buffer, seed) ─► prefetch

With a seed the stream is bit-identical from run to run on CPU: every random number is drawn
by a stateless op keyed on the seed and the element counter, the ``map`` keeps its order and the
shuffle buffer is seeded.  Without a seed, each call to :meth:`WindowSampler.dataset` picks a fresh
random seed.

Volumes of one role are concatenated into a single flat constant (each volume's start aligned so
that slicing it out shares the buffer instead of copying it); a window is cut by reshaping its
volume and ``tf.slice``-ing it.
"""

from __future__ import annotations

import abc
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from voxflow.errors import DataError
from voxflow.roles import Kind, kinds_of

# Flat offsets are multiples of this many elements (256 bytes of float32), so a volume sliced out
# of the flat constant is aligned and TensorFlow can alias the buffer instead of copying it.
_ALIGN = 64
# Stateless-random keys are (seed, k): window draws use the element counter k >= 0, epoch
# permutations k = -1 - epoch, so the two streams never collide. Seeds are kept to 63 bits.
_SEED_MASK = (1 << 63) - 1


class SamplerError(DataError, ValueError):
    """Volumes cannot be sampled as asked (bad shapes, missing roles, empty sampling maps)."""


def as_window_shape(window_shape: Sequence[int]) -> tuple[int, int, int]:
    """Validate a spatial window shape and return it as a tuple of three positive ints.

    Raises:
        SamplerError: when it does not have three positive integer sizes.
    """
    shape = tuple(int(s) for s in window_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise SamplerError(
            f"Invalid window shape. Expected three positive sizes (x, y, z). Received: {window_shape!r}."
        )
    return shape  # type: ignore[return-value]


def check_volumes(
    volumes: Sequence[Mapping[str, np.ndarray]],
    window_shape: tuple[int, int, int],
    must_fit: bool = True,
    groups: Mapping[str, str] | None = None,
    groups_may_differ: bool = False,
) -> tuple[list[dict[str, np.ndarray]], tuple[str, ...]]:
    """Validate volumes for sampling and return them as float32 arrays with their role names.

    Every volume must hold the same roles (at least one), every role a 4-D ``(X, Y, Z, C)`` array
    with the same channel count as in the other volumes and the spatial shape of the volume's
    other roles — of the other roles of its group when ``groups_may_differ`` (roles of different
    groups, ``groups``: role → group, may then have different shapes) — and (if ``must_fit``) at
    least ``window_shape`` on each axis.

    Raises:
        SamplerError: naming the volume, role and what was expected and received.
    """
    if not volumes:
        raise SamplerError("No volumes to sample from. Expected at least one volume. Received: [].")
    roles = tuple(sorted(volumes[0]))
    if not roles:
        raise SamplerError("Volume 0 has no role: expected at least one map (image, label ...).")
    group_of = {role: (groups or {}).get(role, "subject") for role in roles}
    channels: dict[str, int] = {}
    checked = []
    for index, volume in enumerate(volumes):
        if tuple(sorted(volume)) != roles:
            raise SamplerError(
                f"Volume {index} has roles {sorted(volume)}. Expected the roles of volume 0: {list(roles)}."
            )
        shapes: dict[str, tuple[str, tuple[int, ...]]] = {}  # group (or "" for all) -> (first role, shape)
        arrays = {}
        for role in roles:
            array = np.asarray(volume[role], dtype=np.float32)
            if array.ndim != 4:
                raise SamplerError(
                    f"Volume {index}, role '{role}': expected a 4-D (X, Y, Z, C) array. "
                    f"Received shape {array.shape}."
                )
            first, spatial = shapes.setdefault(group_of[role] if groups_may_differ else "", (role, array.shape[:3]))
            if array.shape[:3] != spatial:
                other_group = group_of[first] != group_of[role]
                raise SamplerError(
                    f"Volume {index}, role '{role}': spatial shape {array.shape[:3]} differs from "
                    + (f"role '{first}' of group '{group_of[first]}' {spatial}; windows are cut at one place in "
                       "every role, so groups on different grids need `window_sampling = resize` (each group "
                       "resized to the window)." if other_group else f"the other roles' {spatial}.")
                )
            if channels.setdefault(role, array.shape[3]) != array.shape[3]:
                raise SamplerError(
                    f"Volume {index}, role '{role}': {array.shape[3]} channels. Expected "
                    f"{channels[role]} like volume 0."
                )
            if must_fit and any(s < w for s, w in zip(array.shape[:3], window_shape)):
                raise SamplerError(
                    f"Volume {index} of spatial shape {array.shape[:3]} is smaller than the window "
                    f"{window_shape}. Pad volumes to at least the window size (volume_padding_size)."
                )
            arrays[role] = array
        checked.append(arrays)
    return checked, roles


def check_values(volumes: Sequence[Mapping[str, np.ndarray]], roles: Sequence[str]) -> dict[str, np.ndarray]:
    """The per-subject ``value`` roles of ``volumes`` stacked as ``(num_volumes, C)`` float32.

    Raises:
        SamplerError: a value that is not a vector, or whose length differs from volume 0's.
    """
    stacked = {}
    for role in roles:
        rows = []
        for index, volume in enumerate(volumes):
            value = np.asarray(volume[role], dtype=np.float32)
            if value.ndim != 1 or (rows and value.shape != rows[0].shape):
                expected = f"{rows[0].shape[0]} values like volume 0" if rows else "a vector (C,)"
                raise SamplerError(f"Volume {index}, role '{role}' (a per-subject value): expected {expected}. "
                                   f"Received shape {value.shape}.")
            rows.append(value)
        stacked[role] = np.stack(rows)
    return stacked


def valid_region(array: np.ndarray, window_shape: tuple[int, int, int]) -> np.ndarray:
    """Crop a ``(X, Y, Z, ...)`` map to the voxels that can be a window centre.

    The centre of a window starting at ``s`` is ``s + w // 2``; the cropped map is indexed by the
    window start, i.e. element ``[i, j, k]`` is the centre of the window starting at
    ``(i, j, k)``.  Its shape is ``X - wx + 1, Y - wy + 1, Z - wz + 1``.
    """
    slices = tuple(
        slice(w // 2, w // 2 + size - w + 1) for size, w in zip(array.shape[:3], window_shape)
    )
    return array[slices]


class WindowSampler(abc.ABC):
    """Base class of training samplers: an infinite, seeded ``tf.data`` pipeline of windows.

    Subclasses implement :meth:`_window`, the pure-TensorFlow function producing one element from
    a volume index and a stateless-random key.

    Args:
        volumes: preprocessed volumes, each a dict ``role -> (X, Y, Z, C) float32``; every role is
            cut at the same place. Shapes may differ between volumes but must be at least
            ``window_shape``.
        window_shape: spatial window size ``(wx, wy, wz)``; a size of 1 on one axis gives 2-D
            windows (slices).
        windows_per_volume: windows drawn each time a volume is visited.
        shuffle_buffer: size of the buffer windows are shuffled through (≤ 1: no shuffling).
        num_parallel_calls: parallel calls of the window-cutting ``map``.
        seed: makes the stream reproducible (bit-identical on CPU); ``None``: random.
        kinds: ``{role: kind}`` (:mod:`voxflow.roles`); ``None`` = the standard kinds of
            ``image``, ``label``, ``weight`` and ``sampler``. Samplers that treat maps differently
            by kind (the resize sampler, the balanced sampler's class map) read it.
        sampling_role: the weight map that steers the weighted and balanced samplers.
        groups: ``{role: group}``; roles of different groups may have different shapes only for
            samplers that resize (default: one group).
        foreground_oversampling: share of windows a cropping sampler centres on a foreground voxel
            of the label role (:mod:`voxflow.data.samplers.foreground`); 0 = off.

    Roles of kind ``value`` (``(C,)`` vectors, one per volume) are not cut: every window of a
    volume carries its volume's value.

    Raises:
        SamplerError: when the volumes or the window shape are invalid.
    """

    _volumes_must_fit = True
    #: Whether roles of different groups may have different spatial shapes (samplers that resize).
    _groups_may_differ = False
    #: Whether the constructor takes ``subjects``: the volumes' preprocessed subjects (``id``,
    #: ``geometry``), or None when volumes are streamed (the CSV location sampler needs them).
    takes_subjects = False

    def __init__(
        self,
        volumes: Sequence[Mapping[str, np.ndarray]],
        window_shape: tuple[int, int, int],
        windows_per_volume: int = 1,
        shuffle_buffer: int = 5,
        num_parallel_calls: int = 2,
        seed: int | None = None,
        kinds: Mapping[str, Kind] | None = None,
        sampling_role: str = "sampler",
        groups: Mapping[str, str] | None = None,
        foreground_oversampling: float = 0.0,
    ) -> None:
        self.window_shape = as_window_shape(window_shape)
        self.foreground_oversampling = float(foreground_oversampling)
        if int(windows_per_volume) < 1:
            raise SamplerError(
                f"Invalid windows_per_volume. Expected a positive integer. Received: {windows_per_volume!r}."
            )
        self.windows_per_volume = int(windows_per_volume)
        self.shuffle_buffer = int(shuffle_buffer)
        self.num_parallel_calls = max(int(num_parallel_calls), 1)
        self.seed = None if seed is None else int(seed)
        names = sorted(volumes[0]) if volumes else []
        try:
            every_kind = kinds_of(names, kinds)
        except ValueError as err:
            raise SamplerError(f"Invalid sampler roles: {err}.") from None
        self.value_roles = tuple(name for name in names if every_kind[name] is Kind.VALUE)
        maps = [{role: array for role, array in volume.items() if role not in self.value_roles} for volume in volumes]
        arrays, self.roles = check_volumes(maps, self.window_shape, self._volumes_must_fit, groups,
                                           self._groups_may_differ)
        self.kinds = {role: every_kind[role] for role in self.roles}
        self.groups = {role: (groups or {}).get(role, "subject") for role in self.roles}
        values = check_values(volumes, self.value_roles)
        self._values = {role: tf.constant(stack) for role, stack in values.items()}
        self.value_sizes = {role: stack.shape[1] for role, stack in values.items()}
        self.sampling_role = sampling_role
        self.num_volumes = len(arrays)
        self.volume_shapes = [a[self.roles[0]].shape[:3] for a in arrays]
        self.channels = {role: arrays[0][role].shape[3] for role in self.roles}
        self._prepare(arrays)

    @abc.abstractmethod
    def _prepare(self, volumes: list[dict[str, np.ndarray]]) -> None:
        """Build the constants :meth:`_window` reads (called once by ``__init__``)."""

    @abc.abstractmethod
    def _window(self, volume_index: tf.Tensor, key: tf.Tensor) -> dict[str, tf.Tensor]:
        """Return one element ``{role: window, "location": int32 (4,)}`` using TF ops only.

        Args:
            volume_index: int32 scalar.
            key: int64 ``(2,)`` stateless-random seed unique to this element.
        """

    @classmethod
    def config_kwargs(cls, cfg: Any) -> dict[str, Any]:
        """Extra constructor arguments this sampler takes from the config (its own keys), e.g. the
        selective sampler's label rules; the application's builder passes them. Default: none."""
        return {}

    def element(self, volume_index: tf.Tensor, key: tf.Tensor) -> dict[str, tf.Tensor]:
        """One element: the window of :meth:`_window` and the volume's per-subject values, uncut."""
        element = self._window(volume_index, key)
        element.update({role: tf.gather(stack, volume_index) for role, stack in self._values.items()})
        return element

    def _visits_per_volume(self) -> int:
        return self.windows_per_volume

    @property
    def element_spec(self) -> dict[str, tf.TensorSpec]:
        """The ``tf.TensorSpec`` of one element of :meth:`dataset`."""
        spec = {
            role: tf.TensorSpec((*self.window_shape, c), tf.float32)
            for role, c in self.channels.items()
        }
        spec.update({role: tf.TensorSpec((size,), tf.float32) for role, size in self.value_sizes.items()})
        spec["location"] = tf.TensorSpec((4,), tf.int32)
        return spec

    def dataset(self) -> tf.data.Dataset:
        """Return the infinite, unbatched dataset of ``{role: window, "location": (4,)}``.

        ``location`` is ``(volume_index, x0, y0, z0)``, the volume and the window's first voxel.
        With a seed, every call returns the same stream; without one, each call draws a fresh seed.
        """
        seed = self.seed if self.seed is not None else secrets.randbits(62)
        seed_t = tf.constant(seed & _SEED_MASK, tf.int64)
        repeats = self._visits_per_volume()
        num_volumes = self.num_volumes

        def epoch_visits(epoch: tf.Tensor) -> tf.data.Dataset:
            key = tf.stack([seed_t, -1 - epoch])
            order = tf.argsort(tf.random.stateless_uniform([num_volumes], seed=key, dtype=tf.float64))
            order = tf.repeat(tf.cast(order, tf.int32), repeats)
            return tf.data.Dataset.from_tensor_slices(order)

        def make_element(counter: tf.Tensor, volume_index: tf.Tensor) -> dict[str, tf.Tensor]:
            return self.element(volume_index, tf.stack([seed_t, counter]))

        ds = tf.data.Dataset.counter().flat_map(epoch_visits)
        ds = ds.apply(tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY))
        ds = ds.enumerate()
        ds = ds.map(make_element, num_parallel_calls=self.num_parallel_calls, deterministic=True)
        if self.shuffle_buffer > 1:
            ds = ds.shuffle(self.shuffle_buffer, seed=seed % (1 << 31))
        return ds.prefetch(tf.data.AUTOTUNE)


class CroppingSampler(WindowSampler):
    """A sampler that cuts windows out of the volumes at starts drawn by :meth:`_draw_start`.

    The volumes of each role are packed into one flat constant; cutting a window reshapes its
    volume (no copy) and slices the window, for every role at the same location.
    """

    def _prepare(self, volumes: list[dict[str, np.ndarray]]) -> None:
        sizes = [int(np.prod(v[self.roles[0]].shape[:3])) for v in volumes]
        offsets = np.zeros(len(volumes), np.int64)
        total = 0
        for i, size in enumerate(sizes):
            offsets[i] = total
            total += -(-size // _ALIGN) * _ALIGN
        shapes = np.array(self.volume_shapes, np.int64)
        # Per role, lookup tables of the flat begin / size of each volume ((n, 1) so one gather
        # gives a slice argument) and its 4-D shape: few ops on the hot path.
        self._flat: dict[str, tf.Tensor] = {}
        self._flat_begin: dict[str, tf.Tensor] = {}
        self._flat_size: dict[str, tf.Tensor] = {}
        self._shape_4d: dict[str, tf.Tensor] = {}
        for role in self.roles:
            c = self.channels[role]
            flat = np.zeros(total * c, np.float32)
            for offset, size, volume in zip(offsets, sizes, volumes):
                flat[offset * c : (offset + size) * c] = volume[role].ravel()
            self._flat[role] = tf.constant(flat)
            self._flat_begin[role] = tf.constant(offsets[:, None] * c)
            self._flat_size[role] = tf.constant(np.array(sizes, np.int64)[:, None] * c)
            self._shape_4d[role] = tf.constant(np.concatenate([shapes, np.full((len(sizes), 1), c)], 1))
        self._foreground = None
        if self.foreground_oversampling > 0:
            from voxflow.data.samplers.foreground import ForegroundTable  # noqa: PLC0415

            labels = [role for role in self.roles if self.kinds[role] is Kind.LABEL]
            if not labels:
                raise SamplerError(f"foreground_oversampling = {self.foreground_oversampling:g} needs a label map "
                                   f"among the sampled roles; received {list(self.roles)}.")
            self._foreground = ForegroundTable([v[labels[0]] for v in volumes], self.window_shape,
                                               self.foreground_oversampling)
        self._prepare_draws(volumes)

    def _prepare_draws(self, volumes: list[dict[str, np.ndarray]]) -> None:
        """Hook for subclasses: build the constants :meth:`_draw_start` needs."""

    @abc.abstractmethod
    def _draw_start(self, volume_index: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
        """Return the window start ``(x0, y0, z0)`` as int64 ``(3,)``, drawn with TF ops."""

    def _window(self, volume_index: tf.Tensor, key: tf.Tensor) -> dict[str, tf.Tensor]:
        start = self._draw_start(volume_index, key)
        if self._foreground is not None:
            start = self._foreground.start(volume_index, key, start)
        element = self.cut(volume_index, start)
        index = tf.reshape(tf.cast(volume_index, tf.int64), [1])
        element["location"] = tf.cast(tf.concat([index, start], 0), tf.int32)
        return element

    def cut(self, volume_index: tf.Tensor, start: tf.Tensor) -> dict[str, tf.Tensor]:
        """Cut the window starting at ``start`` (int64 ``(3,)``) from every role of a volume."""
        begin = tf.concat([start, tf.zeros([1], tf.int64)], 0)
        window = {}
        for role, flat in self._flat.items():
            c = self.channels[role]
            volume = tf.reshape(
                tf.slice(flat, self._flat_begin[role][volume_index], self._flat_size[role][volume_index]),
                self._shape_4d[role][volume_index],
            )
            window[role] = tf.slice(volume, begin, tf.constant([*self.window_shape, c], tf.int64))
            window[role].set_shape((*self.window_shape, c))
        return window

    def _valid_start_counts(self) -> np.ndarray:
        """Number of valid window starts per axis and volume, ``(num_volumes, 3)``."""
        return np.array(self.volume_shapes, np.int64) - np.array(self.window_shape, np.int64) + 1


def uniform_index(key: tf.Tensor, count: tf.Tensor, offset: int = 0) -> tf.Tensor:
    """Draw integers uniformly in ``[0, count)`` (any int shape), keyed on a stateless seed.

    ``offset`` selects an independent stream derived from ``key``.
    """
    count = tf.cast(count, tf.int64)
    sub_key = tf.random.experimental.stateless_fold_in(key, offset) if offset else key
    u = tf.random.stateless_uniform(tf.shape(count), seed=sub_key, dtype=tf.float64)
    drawn = tf.cast(tf.floor(u * tf.cast(count, tf.float64)), tf.int64)
    return tf.minimum(drawn, count - 1)
