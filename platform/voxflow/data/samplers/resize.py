"""Whole volumes resized to the window: one window per volume visit."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from voxflow.data.aggregators.resize import resize_volume
from voxflow.data.samplers.base import WindowSampler
from voxflow.roles import Kind


class ResizeSampler(WindowSampler):
    """Each visit of a volume yields the whole volume resized to the window shape.

    Label maps are resized by nearest neighbour, intensity and weight maps linearly, with
    :func:`~voxflow.data.aggregators.resize.resize_volume` (invert it with
    :class:`~voxflow.data.aggregators.resize.ResizeAggregator`). Resizing is deterministic, so the
    windows are computed once at construction; the dataset visits volumes in a shuffled order,
    one window per visit (``windows_per_volume`` is ignored), ``location = (index, 0, 0, 0)``.
    Volumes only need at least one voxel per axis, and roles of different groups may have different
    shapes (each is resized to the window on its own). Other arguments are those of
    :class:`~voxflow.data.samplers.base.WindowSampler`.
    """

    _volumes_must_fit = False
    _groups_may_differ = True

    def _visits_per_volume(self) -> int:
        return 1

    def interp_order(self, role: str) -> int:
        """Interpolation order for a role: 0 (nearest) for a label map, else 1 (linear)."""
        return 0 if self.kinds[role] is Kind.LABEL else 1

    def _prepare(self, volumes: list[dict[str, np.ndarray]]) -> None:
        self._windows = {
            role: tf.constant(
                np.stack([resize_volume(v[role], self.window_shape, self.interp_order(role)) for v in volumes])
            )
            for role in self.roles
        }

    def _window(self, volume_index: tf.Tensor, key: tf.Tensor) -> dict[str, tf.Tensor]:
        element = {role: tf.gather(stack, volume_index) for role, stack in self._windows.items()}
        index = tf.reshape(tf.cast(volume_index, tf.int32), [1])
        element["location"] = tf.concat([index, tf.zeros([3], tf.int32)], 0)
        return element
