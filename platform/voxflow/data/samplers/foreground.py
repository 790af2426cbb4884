"""Foreground oversampling (``[NETWORK] foreground_oversampling``), nnU-Net's ``oversample_foreground_percent``.

With probability ``p`` a training window is centred on a foreground voxel instead of where the
sampler would put it: a class is drawn uniformly among the foreground classes (label > 0) present
in the volume, then one of that class's voxels uniformly (nnU-Net: a random class present, then a
random voxel of it). The window is then shifted, if needed, to lie inside the volume (the voxel
stays inside the window). A volume without foreground keeps the sampler's window.

nnU-Net forces the last third of each batch; voxflow draws per window with probability ``p``
(MONAI's ``RandCropByPosNegLabel`` convention), which gives the same share on average and keeps
windows independent of their place in a batch. Like nnU-Net, each class keeps at most
:data:`MAX_POSITIONS` voxel positions per volume, drawn once with a fixed seed: the table stays
small for large volumes.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

#: Voxel positions kept per class and volume (nnU-Net keeps 10 000 per class and case).
MAX_POSITIONS = 10_000
_STREAM = 7919  # the key offset of the oversampling draws (independent of the sampler's own)


class ForegroundTable:
    """The foreground voxels of every volume, by class, and the draw that uses them.

    Args:
        labels: each volume's label map ``(X, Y, Z)`` or ``(X, Y, Z, 1)`` (class indices).
        window_shape: the window cut around a drawn voxel.
        probability: the share of windows centred on foreground.
    """

    def __init__(self, labels: list[np.ndarray], window_shape: tuple[int, int, int], probability: float) -> None:
        self.probability = float(probability)
        rng = np.random.default_rng(0)
        positions, group_first, group_count, volume_first, volume_groups = [], [], [], [], []
        total = groups = 0
        for label in labels:
            values = np.rint(np.asarray(label)[..., 0] if np.asarray(label).ndim == 4 else label).astype(np.int64)
            volume_first.append(groups)
            count = 0
            for value in np.unique(values[values > 0]):
                flat = np.flatnonzero(values == value)
                if flat.size > MAX_POSITIONS:
                    flat = np.sort(rng.choice(flat, MAX_POSITIONS, replace=False))
                positions.append(np.stack(np.unravel_index(flat, values.shape), axis=1))
                group_first.append(total)
                group_count.append(flat.size)
                total += flat.size
                groups += 1
                count += 1
            volume_groups.append(count)
        empty = np.zeros((0, 3), np.int64)
        self._positions = tf.constant(np.concatenate(positions) if positions else empty, tf.int64)
        self._group_first = tf.constant(np.array(group_first or [0], np.int64))
        self._group_count = tf.constant(np.array(group_count or [1], np.int64))
        self._volume_first = tf.constant(np.array(volume_first, np.int64))
        self._volume_groups = tf.constant(np.array(volume_groups, np.int64))
        self._half = tf.constant(np.array(window_shape, np.int64) // 2)
        self._shapes = tf.constant(np.array([np.shape(label)[:3] for label in labels], np.int64))
        self._window = tf.constant(np.array(window_shape, np.int64))

    def start(self, volume_index: tf.Tensor, key: tf.Tensor, start: tf.Tensor) -> tf.Tensor:
        """``start`` (the sampler's), or with probability ``p`` the start of a window centred on a
        foreground voxel of the volume (if it has any)."""
        sub_key = tf.random.experimental.stateless_fold_in(key, _STREAM)
        u = tf.random.stateless_uniform([3], seed=sub_key, dtype=tf.float64)
        classes = self._volume_groups[volume_index]
        use = tf.logical_and(u[0] < self.probability, classes > 0)

        def centred() -> tf.Tensor:
            group = self._volume_first[volume_index] + tf.minimum(
                tf.cast(tf.floor(u[1] * tf.cast(classes, tf.float64)), tf.int64), classes - 1)
            count = self._group_count[group]
            index = self._group_first[group] + tf.minimum(
                tf.cast(tf.floor(u[2] * tf.cast(count, tf.float64)), tf.int64), count - 1)
            voxel = self._positions[index]
            highest = self._shapes[volume_index] - self._window
            return tf.clip_by_value(voxel - self._half, tf.zeros_like(highest), highest)

        return tf.cond(use, centred, lambda: tf.cast(start, tf.int64))
