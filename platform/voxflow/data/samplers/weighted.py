"""Windows whose centre is drawn with probability proportional to a sampling map."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from voxflow.data.samplers.base import CroppingSampler, SamplerError, valid_region


class WeightedSampler(CroppingSampler):
    """Windows centred on voxels drawn with probability ∝ the sampling map (``sampling_role``).

    The centre of a window starting at ``s`` is ``s + w // 2``. Only centres whose window lies
    inside the volume are candidates; among them voxel ``v`` is drawn with probability
    ``map[v] / sum(map)``, so a zero-weight voxel is never a centre. The map must have one
    channel, be non-negative and finite, and have a positive value in every volume's candidate
    region. Other arguments are those of :class:`~voxflow.data.samplers.base.WindowSampler`.

    Implementation: the positive candidate weights of all volumes are stored once as a global
    float64 cumulative sum; a draw is one ``tf.searchsorted`` inside the volume's range.

    Raises:
        SamplerError: (a ``ValueError``) when the sampling map is missing, has several
            channels, holds negative or non-finite values, or is all zero where centres can lie.
    """

    def _prepare_draws(self, volumes: list[dict[str, np.ndarray]]) -> None:
        role = self.sampling_role
        if role not in self.roles:
            raise SamplerError(
                f"The weighted sampler needs a '{role}' role (the sampling-weight map). "
                f"Received roles: {list(self.roles)}."
            )
        if self.channels[role] != 1:
            raise SamplerError(f"The '{role}' map must have one channel. Received {self.channels[role]}.")
        indices, cumulative, first, last = [], [], [], []
        running, count = 0.0, 0
        for index, volume in enumerate(volumes):
            weights = valid_region(volume[role][..., 0], self.window_shape).ravel()
            if not np.all(np.isfinite(weights)) or weights.min() < 0:
                raise SamplerError(
                    f"Volume {index}: the '{role}' map must be finite and non-negative. "
                    f"Received values in [{np.nanmin(weights)}, {np.nanmax(weights)}]."
                )
            positive = np.flatnonzero(weights > 0)
            if positive.size == 0:
                raise SamplerError(
                    f"Volume {index}: the '{role}' map is zero everywhere a window of "
                    f"{self.window_shape} can be centred; no window can be drawn from it."
                )
            sums = running + np.cumsum(weights[positive], dtype=np.float64)
            indices.append(positive.astype(np.int64))
            cumulative.append(sums)
            first.append(count)
            last.append(count + positive.size - 1)
            running = float(sums[-1])
            count += positive.size
        cdf = np.concatenate(cumulative)
        self._cdf = tf.constant(cdf, tf.float64)
        self._candidates = tf.constant(np.concatenate(indices), tf.int64)
        self._first = tf.constant(first, tf.int64)
        self._last = tf.constant(last, tf.int64)
        base = np.array([0.0] + [cdf[i] for i in last[:-1]], np.float64)
        self._base = tf.constant(base, tf.float64)
        self._total = tf.constant(cdf[last] - base, tf.float64)
        self._start_counts = tf.constant(self._valid_start_counts())

    def _draw_start(self, volume_index: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
        u = tf.random.stateless_uniform([1], seed=key, dtype=tf.float64)
        target = self._base[volume_index] + u * self._total[volume_index]
        position = tf.searchsorted(self._cdf, target, side="right", out_type=tf.int64)[0]
        position = tf.clip_by_value(position, self._first[volume_index], self._last[volume_index])
        flat_start = self._candidates[position]
        return tf.unravel_index(flat_start, self._start_counts[volume_index])
