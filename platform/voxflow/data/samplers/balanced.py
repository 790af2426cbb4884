"""Windows centred on each class of a discrete map with equal probability."""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from voxflow.data.samplers.base import CroppingSampler, SamplerError, uniform_index, valid_region
from voxflow.roles import Kind

_LOG = logging.getLogger(__name__)
_MANY_CLASSES = 500


class BalancedSampler(CroppingSampler):
    """Windows whose centre class is uniform over the classes present in the volume.

    The class map is the sampling map (``sampling_role``) if present, else the first label role
    (one channel, discrete values). For each draw a class is picked uniformly among those present where a window can be
    centred (centre of a window starting at ``s`` is ``s + w // 2``), then a voxel of that class
    uniformly: ``P(v) = 1 / (#classes × #voxels of v's class)``. A class covering 0.1 % of the
    volume is therefore drawn as often as the background. Other arguments are those of
    :class:`~voxflow.data.samplers.base.WindowSampler`.

    Raises:
        SamplerError: (a ``ValueError``) when neither a sampling map nor a label role is given or
            the map has several channels.
    """

    def _prepare_draws(self, volumes: list[dict[str, np.ndarray]]) -> None:
        labels = [name for name in self.roles if self.kinds[name] is Kind.LABEL]
        role = self.sampling_role if self.sampling_role in self.roles else (labels[0] if labels else None)
        if role is None:
            raise SamplerError(
                f"The balanced sampler needs a '{self.sampling_role}' role or a label role (a discrete class "
                f"map). Received roles: {list(self.roles)}."
            )
        if self.channels[role] != 1:
            raise SamplerError(f"The '{role}' map must have one channel. Received {self.channels[role]}.")
        voxels, class_start, class_count, first_class, num_classes = [], [], [], [], []
        position = 0
        for index, volume in enumerate(volumes):
            values = valid_region(volume[role][..., 0], self.window_shape).ravel()
            classes, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
            if classes.size > _MANY_CLASSES:
                _LOG.warning(
                    "Volume %d: the '%s' map has %d distinct values; the balanced sampler treats "
                    "each as a class. Is it a discrete map?", index, role, classes.size
                )
            first_class.append(len(class_start))
            num_classes.append(classes.size)
            class_start.extend(position + np.concatenate([[0], np.cumsum(counts)[:-1]]))
            class_count.extend(counts)
            voxels.append(np.argsort(inverse, kind="stable").astype(np.int64))
            position += values.size
        self._voxels = tf.constant(np.concatenate(voxels), tf.int64)
        self._class_start = tf.constant(np.array(class_start, np.int64))
        self._class_count = tf.constant(np.array(class_count, np.int64))
        self._first_class = tf.constant(first_class, tf.int64)
        self._num_classes = tf.constant(num_classes, tf.int64)
        self._start_counts = tf.constant(self._valid_start_counts())

    def _draw_start(self, volume_index: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
        slot = self._first_class[volume_index] + uniform_index(key, self._num_classes[volume_index])
        voxel = uniform_index(key, self._class_count[slot], offset=1)
        flat_start = self._voxels[self._class_start[slot] + voxel]
        return tf.unravel_index(flat_start, self._start_counts[volume_index])
