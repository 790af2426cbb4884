"""NiftyNet's selective sampler: windows that contain the labels a rule asks for.

Every admissible window start of every volume is found once, in NumPy, when the sampler is built
(box sums of each label's indicator over all window positions, from a summed-volume table); a draw
is then one ``tf.searchsorted`` (or one uniform index) keyed on the stateless key, like the other
samplers, so the hot path is TensorFlow ops only and a seeded stream repeats.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
from scipy import ndimage

from voxflow.data.samplers.base import CroppingSampler, SamplerError, uniform_index
from voxflow.errors import ConfigError
from voxflow.roles import Kind

#: The [SEGMENTATION] keys of the rule, as NiftyNet's selective-sampling users wrote them.
RULE_KEYS = ("compulsory_labels", "min_numb_labels", "min_sampling_ratio", "proba_connect", "rand_samples")


@dataclass(frozen=True)
class SelectionRule:
    """What a window must contain (NiftyNet's ``Constraint``).

    Attributes:
        compulsory_labels: labels every window must contain.
        min_numb_labels: the least number of labels a window contains, compulsory ones included.
        min_sampling_ratio: the least share of the window's voxels a label needs to count as present.
    """

    compulsory_labels: tuple[int, ...] = (0, 1)
    min_numb_labels: int = 1
    min_sampling_ratio: float = 0.0

    def min_voxels(self, window_shape: Sequence[int]) -> int:
        """Voxels a label needs in a window to count as present: ``max(⌈ratio × window voxels⌉, 1)``."""
        return max(math.ceil(self.min_sampling_ratio * math.prod(window_shape) - 1e-9), 1)

    def describe(self, window_shape: Sequence[int]) -> str:
        """The rule in words, for messages."""
        labels = ", ".join(str(label) for label in self.compulsory_labels) or "none"
        return (f"compulsory_labels = {labels}; min_numb_labels = {self.min_numb_labels}; min_sampling_ratio = "
                f"{self.min_sampling_ratio:g}, i.e. at least {self.min_voxels(window_shape)} voxel(s) of a label "
                f"in a window of {tuple(window_shape)}")


def window_sums(volume: np.ndarray, window_shape: Sequence[int], dtype: Any = np.int32) -> np.ndarray:
    """Sums of ``volume`` (X, Y, Z) over every window position, indexed by the window start.

    Returns:
        An array of shape ``(X - wx + 1, Y - wy + 1, Z - wz + 1)`` (a summed-volume table, eight
        corners per window).
    """
    table = np.zeros(tuple(n + 1 for n in volume.shape), dtype)
    table[1:, 1:, 1:] = volume.astype(dtype).cumsum(0).cumsum(1).cumsum(2)
    wx, wy, wz = window_shape
    return (table[wx:, wy:, wz:] - table[:-wx, wy:, wz:] - table[wx:, :-wy, wz:] - table[wx:, wy:, :-wz]
            + table[:-wx, :-wy, wz:] + table[:-wx, wy:, :-wz] + table[wx:, :-wy, :-wz] - table[:-wx, :-wy, :-wz])


def _near_label(box: tuple[slice, ...], window: Sequence[int],
                counts: Sequence[int]) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """The window starts whose window can overlap ``box`` (a label's bounding box), and the voxels
    those windows cover: ``(start slices, voxel slices)`` per axis."""
    starts, voxels = [], []
    for axis_box, w, count in zip(box, window, counts):
        first, last = max(axis_box.start - w + 1, 0), min(axis_box.stop - 1, count - 1)
        starts.append(slice(first, last + 1))
        voxels.append(slice(first, last + w))
    return tuple(starts), tuple(voxels)


def admissible_windows(labels: np.ndarray, window_shape: Sequence[int], rule: SelectionRule,
                       proba_connect: bool) -> tuple[np.ndarray, np.ndarray | None, str]:
    """The window starts of one volume that satisfy ``rule``, and their sampling weights.

    Args:
        labels: the label map ``(X, Y, Z)`` (rounded to integers).
        window_shape: the window.
        rule: what a window must contain.
        proba_connect: weight the windows so that every connected component of each compulsory
            label other than 0 (the background) carries the same total probability.

    Returns:
        ``(flat starts, weights or None, reason)``: flat indices into the grid of valid starts (C
        order) of the admissible windows, their weights (``None``: uniform) and, when there is
        none, why.
    """
    values = np.rint(labels).astype(np.int64)
    counts = [n - w + 1 for n, w in zip(values.shape, window_shape)]
    needed = rule.min_voxels(window_shape)
    present = np.zeros(counts, np.int32)  # labels present (≥ needed voxels) in each window
    compulsory_ok = np.ones(counts, bool)
    weights = np.ones(counts, np.float64) if proba_connect else None
    classes, index = np.unique(values, return_inverse=True)
    index = index.reshape(values.shape)
    missing = [label for label in rule.compulsory_labels if label not in set(classes.tolist())]
    if missing:
        return np.zeros(0, np.int64), None, f"label(s) {', '.join(map(str, missing))} absent from the volume"
    # With every compulsory label present, a window holds at least that many labels: count the others only if needed.
    count_all = rule.min_numb_labels > len(set(rule.compulsory_labels))
    for position, box in enumerate(ndimage.find_objects(index + 1)):
        label = int(classes[position])
        if not count_all and label not in rule.compulsory_labels:
            continue
        starts, voxels = _near_label(box, window_shape, counts)
        indicator = index[voxels] == position
        inside = window_sums(indicator, window_shape)
        present[starts] += inside >= needed
        if label in rule.compulsory_labels:
            compulsory_ok[starts] &= inside >= needed
            outside = np.ones(counts, bool)
            outside[starts] = False
            compulsory_ok[outside] = False
            if weights is not None and label != 0:
                weights[outside] = 0.0
                weights[starts] *= window_sums(_component_shares(indicator), window_shape, np.float64)
    admissible = compulsory_ok & (present >= rule.min_numb_labels)
    flat = np.flatnonzero(admissible)
    if flat.size == 0:
        if not compulsory_ok.any():
            return flat, None, f"no window holds {needed} voxel(s) of every compulsory label"
        most = int(present[compulsory_ok].max())
        return flat, None, f"the windows holding the compulsory labels hold at most {most} label(s)"
    return flat, (None if weights is None else weights.ravel()[flat]), ""


def _component_shares(indicator: np.ndarray) -> np.ndarray:
    """Each voxel's share of its connected component, ``1 / component size`` (face connectivity)."""
    components, _ = ndimage.label(indicator)
    sizes = np.bincount(components.ravel()).astype(np.float64)
    sizes[0] = np.inf
    return 1.0 / sizes[components]


class SelectiveSampler(CroppingSampler):
    """Windows that contain the labels a rule asks for (``window_sampling = selective``).

    A window is admissible when it contains every label of ``compulsory_labels`` and at least
    ``min_numb_labels`` labels in all (compulsory ones included), a label counting as present with
    at least ``max(⌈min_sampling_ratio × window voxels⌉, 1)`` voxels in the window. Windows are
    drawn uniformly among the admissible ones or, with ``proba_connect``, so that every connected
    component (face connectivity) of each compulsory label other than 0, the background, carries
    the same total probability, whatever its size: a window's weight is the product, over those
    labels, of ``Σ 1 / (size of the component)`` over the label's voxels in the window. Of each
    volume's ``windows_per_volume`` windows per visit, the first ``rand_samples`` are uniform
    windows that ignore the rule. The label map is the first role of kind ``label``; its values are
    those the network learns (after ``label_normalisation``). The rule is checked on the window the
    sampler cuts (with an augmentation margin, the larger fetched window).

    ≠NiftyNet: a volume without an admissible window is an error (NiftyNet printed a line and
    failed later); ``proba_connect`` gives every component the same weight (NiftyNet binned windows
    by their rounded mean component size, left out the largest bin and weighted the background too);
    the rule is exact for every window size (NiftyNet cropped candidates by the first axis only).

    Args:
        volumes, window_shape, windows_per_volume, shuffle_buffer, num_parallel_calls, seed, kinds,
            sampling_role, groups: as :class:`~voxflow.data.samplers.base.WindowSampler`.
        compulsory_labels: labels every window must contain.
        min_numb_labels: the least number of labels in a window.
        min_sampling_ratio: the least share of a window's voxels for a label to count, in ``[0, 1]``.
        proba_connect: weight windows by connected components (see above).
        rand_samples: uniform windows per visit, fewer than ``windows_per_volume``.
        subjects: the volumes' subjects (objects with an ``id``), to name them in messages.

    Raises:
        SamplerError: no label role, an invalid rule, or a volume without an admissible window
            (one line naming the volume and the rule).

    Example:
        >>> sampler = SelectiveSampler(volumes, (32, 32, 32), windows_per_volume=8, seed=0,
        ...                            compulsory_labels=(0, 1), min_sampling_ratio=0.01)
    """

    #: The window builder passes ``subjects`` (their ids name volumes in messages).
    takes_subjects = True

    def __init__(self, volumes: Sequence[Mapping[str, np.ndarray]], window_shape: tuple[int, int, int],
                 windows_per_volume: int = 1, shuffle_buffer: int = 5, num_parallel_calls: int = 2,
                 seed: int | None = None, kinds: Mapping[str, Kind] | None = None, sampling_role: str = "sampler",
                 groups: Mapping[str, str] | None = None, *, compulsory_labels: Sequence[int] = (0, 1),
                 min_numb_labels: int = 1, min_sampling_ratio: float = 0.0, proba_connect: bool = True,
                 rand_samples: int = 0, subjects: Sequence[Any] | None = None) -> None:
        if not 0.0 <= float(min_sampling_ratio) <= 1.0 or int(min_numb_labels) < 0 or int(rand_samples) < 0:
            raise SamplerError(
                "Invalid selective-sampling rule. Expected min_sampling_ratio in [0, 1], min_numb_labels >= 0 and "
                f"rand_samples >= 0. Received: {min_sampling_ratio!r}, {min_numb_labels!r}, {rand_samples!r}.")
        if int(rand_samples) >= max(int(windows_per_volume), 1):
            raise SamplerError(
                f"Invalid rand_samples for the selective sampler. Expected fewer than windows_per_volume "
                f"({windows_per_volume}) so that each visit draws at least one selected window. "
                f"Received: {rand_samples}.")
        self.rule = SelectionRule(tuple(int(label) for label in compulsory_labels), int(min_numb_labels),
                                  float(min_sampling_ratio))
        self.proba_connect = bool(proba_connect)
        self.rand_samples = int(rand_samples)
        self.subject_ids = None if subjects is None else [str(subject.id) for subject in subjects]
        super().__init__(volumes, window_shape, windows_per_volume, shuffle_buffer, num_parallel_calls, seed,
                         kinds, sampling_role, groups)

    @classmethod
    def config_kwargs(cls, cfg: Any) -> dict[str, Any]:
        """The rule from the application section ([SEGMENTATION]: ``compulsory_labels``, ``min_numb_labels``,
        ``min_sampling_ratio``, ``proba_connect``, ``rand_samples``).

        Raises:
            ConfigError: the application section has no such keys, or ``rand_samples`` is not fewer
                than ``[TRAINING] sample_per_volume``.
        """
        app = cfg.app
        if not all(key in app for key in RULE_KEYS):
            raise ConfigError(
                f"window_sampling = selective in [NETWORK] of {cfg.path} needs the selective-sampling keys "
                f"({', '.join(RULE_KEYS)}) in the application section; [{app.section_name}] has none.")
        per_volume = int(cfg.training.sample_per_volume)
        if app.rand_samples >= per_volume:
            raise ConfigError(
                f"Invalid value for `rand_samples` in [{app.section_name}] of {cfg.path}. Expected fewer than "
                f"`sample_per_volume` in [TRAINING] ({per_volume}), so that each visit of a volume draws at least "
                f"one selected window. Received: {app.rand_samples}.")
        return {key: app[key] for key in RULE_KEYS}

    def _volume_name(self, index: int) -> str:
        return f"Volume {index}" + (f" (subject '{self.subject_ids[index]}')" if self.subject_ids else "")

    def _prepare_draws(self, volumes: list[dict[str, np.ndarray]]) -> None:
        labels = [name for name in self.roles if self.kinds[name] is Kind.LABEL]
        if not labels:
            raise SamplerError(f"The selective sampler needs a label role (a discrete class map). "
                               f"Received roles: {list(self.roles)}.")
        role = labels[0]
        if self.channels[role] != 1:
            raise SamplerError(f"The '{role}' map must have one channel. Received {self.channels[role]}.")
        starts, cumulative, first, count, base, total = [], [], [], [], [], []
        position, running = 0, 0.0
        for index, volume in enumerate(volumes):
            flat, weights, reason = admissible_windows(volume[role][..., 0], self.window_shape, self.rule,
                                                       self.proba_connect)
            if flat.size == 0:
                raise SamplerError(
                    f"{self._volume_name(index)} has no window that satisfies the selective rule "
                    f"({self.rule.describe(self.window_shape)}): {reason}. Loosen the rule in [SEGMENTATION] or "
                    "leave the subject out.")
            weights = np.ones(flat.size) if weights is None else weights / weights.sum()  # per volume: no float drift
            sums = running + np.cumsum(weights, dtype=np.float64)
            starts.append(flat)
            cumulative.append(sums)
            first.append(position)
            count.append(flat.size)
            base.append(running)
            total.append(sums[-1] - running)
            position += flat.size
            running = float(sums[-1])
        self._starts = tf.constant(np.concatenate(starts), tf.int64)
        self._cdf = tf.constant(np.concatenate(cumulative), tf.float64)
        self._first = tf.constant(first, tf.int64)
        self._count = tf.constant(count, tf.int64)
        self._base = tf.constant(base, tf.float64)
        self._total = tf.constant(total, tf.float64)
        self._start_counts = tf.constant(self._valid_start_counts())
        self._per_visit = tf.constant(self.windows_per_volume, tf.int64)

    def _draw_start(self, volume_index: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
        # key[1] is the element counter: each visit of a volume draws windows_per_volume consecutive
        # elements, so counter mod windows_per_volume is the window's rank within its visit.
        random_window = key[1] % self._per_visit < self.rand_samples
        counts = self._start_counts[volume_index]
        return tf.cond(random_window, lambda: uniform_index(key, counts),
                       lambda: tf.unravel_index(self._selected_start(volume_index, key), counts))

    def _selected_start(self, volume_index: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
        """The flat start of an admissible window (uniform, or by weight with ``proba_connect``)."""
        first = self._first[volume_index]
        if not self.proba_connect:
            return self._starts[first + uniform_index(key, self._count[volume_index], offset=1)]
        u = tf.random.stateless_uniform([1], seed=tf.random.experimental.stateless_fold_in(key, 1), dtype=tf.float64)
        target = self._base[volume_index] + u * self._total[volume_index]
        position = tf.searchsorted(self._cdf, target, side="right", out_type=tf.int64)[0]
        return self._starts[tf.clip_by_value(position, first, first + self._count[volume_index] - 1)]
