"""Uniform random windows: every valid window start is equally likely."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from voxflow.data.samplers.base import CroppingSampler, uniform_index


class UniformSampler(CroppingSampler):
    """Windows whose start is uniform over all starts that keep the window inside the volume.

    On an axis of size ``S`` and window ``w`` the start ``x0`` is uniform on ``0 … S - w``,
    independently per axis, so every window position is equally likely (a "random crop").
    Arguments are those of :class:`~voxflow.data.samplers.base.WindowSampler`.

    Example:
        >>> sampler = UniformSampler([{"image": image, "label": label}], (64, 64, 64),
        ...                          windows_per_volume=4, seed=0)
        >>> batch = next(iter(sampler.dataset().batch(2)))   # {"image", "label", "location"}
    """

    def _prepare_draws(self, volumes: list[dict[str, np.ndarray]]) -> None:
        self._start_counts = tf.constant(self._valid_start_counts())

    def _draw_start(self, volume_index: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
        return uniform_index(key, self._start_counts[volume_index])
