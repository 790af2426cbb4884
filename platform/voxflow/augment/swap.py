"""Random swap: exchange pairs of random cubic patches (context restoration, Chen et al. 2019)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla

from voxflow.augment.base import MAP_KEYS, RandomTransform, per_sample


@tf.function(jit_compile=True, reduce_retracing=True)
def _swap(volume: tf.Tensor, corners: tf.Tensor, patch: tuple[int, int, int]) -> tf.Tensor:
    """Swap patches of one ``(X, Y, Z, C)`` volume at ``corners`` ``(I, 2, 3)``, in order (in place under XLA)."""
    size = [*patch, volume.shape[-1]]
    zero = tf.zeros([1], tf.int32)
    for i in tf.range(tf.shape(corners)[0]):
        first = tf.concat([corners[i, 0], zero], 0)
        second = tf.concat([corners[i, 1], zero], 0)
        one = tf.slice(volume, first, size)
        two = tf.slice(volume, second, size)
        volume = xla.dynamic_update_slice(volume, two, first)
        volume = xla.dynamic_update_slice(volume, one, second)
    return volume


class RandomSwap(RandomTransform):
    """Swap ``num_iterations`` pairs of cubes of edge ``patch_size`` at uniform random places.

    The swaps run in sequence (a later pair may overlap an earlier one). Applied to the label,
    weight and sampler maps too unless ``include_labels`` is false (TorchIO swaps images only).
    Parameters: ``corners`` ``(B, I, 2, 3)`` int. 2-D windows use patches of size 1 on the flat axis.
    """

    spatial = True

    def __init__(self, patch_size: Any = 15, num_iterations: int = 100, include_labels: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.patch_size = tuple(int(v) for v in patch_size) if isinstance(patch_size, (tuple, list)) \
            else (int(patch_size),) * 3
        self.num_iterations = int(num_iterations)
        self.include_labels = bool(include_labels)

    def _patch(self, shape: Any) -> tuple[int, int, int]:
        """The patch edges, at most the window's (1 on the flat axis of 2-D windows)."""
        return tuple(min(self.patch_size[a], int(shape[1 + a])) for a in range(3))

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        patch = self._patch(shape)
        room = tf.constant([shape[1 + a] - patch[a] + 1 for a in range(3)], tf.float32)
        unit = per_sample(seeds, 1, lambda s: tf.random.stateless_uniform([self.num_iterations, 2, 3], s))
        return {"corners": tf.cast(tf.floor(unit * room), tf.int32)}

    def apply(self, batch: dict[str, tf.Tensor], params: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        out = dict(batch)
        patch = self._patch(batch["image"].shape)
        keys = MAP_KEYS if self.include_labels else ("image",)
        for key in keys:
            if key not in batch:
                continue
            volume = tf.cast(batch[key], tf.float32)
            swapped = tf.map_fn(lambda args: _swap(args[0], args[1], patch), (volume, params["corners"]),
                                fn_output_signature=tf.TensorSpec(volume.shape[1:], tf.float32))
            out[key] = tf.where(tf.reshape(params["apply"], [-1, 1, 1, 1, 1]), swapped, volume)
        return out

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(patch_size=self.patch_size, num_iterations=self.num_iterations,
                      include_labels=self.include_labels)
        return config
