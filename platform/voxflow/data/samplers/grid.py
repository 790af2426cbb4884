"""Sliding-window (grid) sampling of one volume for inference."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from voxflow.data.samplers.grid_layout import as_triple, effective_border, grid_locations

__all__ = ["GridSampler", "grid_locations"]


class GridSampler:
    """Cut one volume into overlapping windows on a regular grid, each exactly once.

    The starts (:attr:`locations`) come from :func:`grid_locations`: per axis a step of
    ``max(w - 2·border, 1)`` and a last window flush with the far edge. Stitch the network's
    outputs back with :class:`~voxflow.data.aggregators.grid.GridAggregator` built with the same
    window shape and border.

    Args:
        volume_shape: ``(X, Y, Z)`` or ``(X, Y, Z, C)`` of the volume to cover.
        window_shape: ``(wx, wy, wz)``, at most the volume shape; an axis of 1 gives 2-D windows.
        border: voxels each output window loses on its interior sides (int or three ints),
            clipped to ``(w - 1) // 2`` per axis.

    Example:
        >>> sampler = GridSampler(volume.shape, (64, 64, 64), border=8)
        >>> for batch in sampler.dataset(volume).batch(4):
        ...     aggregator.add(model(batch["image"]).numpy(), batch["location"].numpy())
    """

    def __init__(
        self, volume_shape: Sequence[int], window_shape: Sequence[int], border: int | Sequence[int] = 0
    ) -> None:
        self.volume_shape = tuple(int(s) for s in volume_shape[:3])
        self.window_shape = as_triple(window_shape, "window shape", minimum=1)
        self.border = effective_border(self.window_shape, border)
        self.locations = grid_locations(self.volume_shape, self.window_shape, self.border)

    def __len__(self) -> int:
        return len(self.locations)

    def dataset(self, volume: np.ndarray, num_parallel_calls: int = 2) -> tf.data.Dataset:
        """The finite dataset of ``{"image": (wx, wy, wz, C) float32, "location": int32 (3,)}``.

        Windows come in the order of :attr:`locations`, each once.

        Raises:
            ValueError: when ``volume``'s spatial shape is not the sampler's ``volume_shape``.
        """
        volume = np.asarray(volume, dtype=np.float32)
        if volume.ndim == 3:
            volume = volume[..., None]
        if volume.ndim != 4 or volume.shape[:3] != self.volume_shape:
            raise ValueError(
                f"Expected a volume of spatial shape {self.volume_shape} (X, Y, Z, C). "
                f"Received shape {volume.shape}."
            )
        # Windows are copied out of the NumPy volume itself: a TensorFlow constant would be a
        # second full-size copy of the volume (it matters at 512³).
        size = (*self.window_shape, volume.shape[3])

        def cut_numpy(location: np.ndarray) -> np.ndarray:
            x, y, z = (int(v) for v in location)
            return np.ascontiguousarray(volume[x:x + size[0], y:y + size[1], z:z + size[2]])

        def cut(location: tf.Tensor) -> dict[str, tf.Tensor]:
            window = tf.numpy_function(cut_numpy, [location], tf.float32, stateful=False)
            window.set_shape(size)
            return {"image": window, "location": tf.cast(location, tf.int32)}

        ds = tf.data.Dataset.from_tensor_slices(self.locations.astype(np.int64))
        ds = ds.map(cut, num_parallel_calls=max(int(num_parallel_calls), 1), deterministic=True)
        return ds.prefetch(tf.data.AUTOTUNE)
