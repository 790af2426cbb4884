"""Random swap: exchange pairs of random cubic patches (context restoration, Chen et al. 2019)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla

from voxflow.augment.base import RandomTransform, per_sample


@tf.function(jit_compile=True)  # traced per shape: the patches' static sizes include the channels
def _swap(volume: tf.Tensor, corners: tf.Tensor, patch: tuple[int, int, int]) -> tf.Tensor:
    """Swap patches of a ``(B, X, Y, Z, C)`` batch at ``corners`` ``(B, I, 2, 3)``, in order.

    Pair ``i`` of sample ``b`` reads both patches, writes the first into the second place, then the
    second into the first (where the places overlap, the second patch's values are kept, as in
    TorchIO's ``_swap``). The two patches of the next pair
    are read at the end of each step and carried in the loop: when a patch is read inside the step
    that overwrites the volume, XLA must copy the whole volume twice per step to keep the read
    valid; carried patches let every update happen in place, so the call costs one copy of the
    batch plus the patch voxels. ``xla.dynamic_slice``, not ``tf.slice``: XLA treats the begin of a
    ``tf.slice`` as a compile-time constant, so new corners would recompile the function every call.
    """
    size = [1, *patch, volume.shape[-1]]
    pairs = tf.shape(corners)[1]
    total = tf.shape(corners)[0] * pairs

    def start(step: tf.Tensor, which: int) -> tf.Tensor:
        step = tf.minimum(step, total - 1)  # the read after the last pair repeats it, unused
        sample = step // pairs
        return tf.concat([[sample], corners[sample, step % pairs, which], [0]], 0)

    one = xla.dynamic_slice(volume, start(0, 0), size)
    two = xla.dynamic_slice(volume, start(0, 1), size)
    for step in tf.range(total):
        volume = xla.dynamic_update_slice(volume, one, start(step, 1))
        volume = xla.dynamic_update_slice(volume, two, start(step, 0))
        one = xla.dynamic_slice(volume, start(step + 1, 0), size)
        two = xla.dynamic_slice(volume, start(step + 1, 1), size)
    return volume


class RandomSwap(RandomTransform):
    """Swap ``num_iterations`` pairs of cubes of edge ``patch_size`` at uniform random places.

    The swaps run in sequence (a later pair may overlap an earlier one; within a pair, the second
    patch's values are kept where the two places overlap, as in TorchIO). Corners are uniform over
    every place a patch fits (TorchIO's never reach the last one). Applied to the label, weight and
    sampler maps too unless ``include_labels`` is false (TorchIO swaps images only). Parameters:
    ``corners`` ``(B, I, 2, 3)`` int. 2-D windows use patches of size 1 on the flat axis.
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
        patch = self._patch(self.reference(batch).shape)
        keys = self.map_keys(batch) if self.include_labels else self.intensity_keys
        corners = params["corners"]
        # a sample not drawn to change swaps each first patch with itself: no change, no extra pass
        kept = tf.stack([corners[:, :, 0], corners[:, :, 0]], axis=2)
        corners = tf.where(tf.reshape(params["apply"], [-1, 1, 1, 1]), corners, kept)
        for key in keys:
            if key in batch:
                volume = tf.cast(batch[key], tf.float32)
                out[key] = tf.ensure_shape(_swap(volume, corners, patch), volume.shape)
        return out

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(patch_size=self.patch_size, num_iterations=self.num_iterations,
                      include_labels=self.include_labels)
        return config
