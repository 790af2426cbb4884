"""Resizing whole volumes to a window and back (the ``resize`` sampler and its inverse).

Both directions use the same separable interpolation with half-voxel-centred grids (voxel ``i``
of an axis of size ``n`` covers ``[i, i + 1) · N / n`` of an axis of size ``N``), the convention of
``tf.image.resize`` with ``half_pixel_centers``: linear (order 1) for intensities and maps,
nearest (order 0) for labels. Resizing to the same shape is the identity, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def resize_volume(array: np.ndarray, shape: Sequence[int], order: int = 1) -> np.ndarray:
    """Resize the three spatial axes of ``(X, Y, Z, ...)`` to ``shape``.

    Args:
        array: the volume; trailing axes (channels) are carried along.
        shape: the target spatial shape ``(X', Y', Z')``.
        order: 1 for linear interpolation, 0 for nearest neighbour (labels).

    Returns:
        ``(X', Y', Z', ...)`` array of ``array``'s dtype (float64 input stays float64).

    Raises:
        ValueError: for an order other than 0 or 1 or a shape that is not three positive sizes.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"Expected a spatial shape of three positive sizes. Received: {shape}.")
    if order not in (0, 1):
        raise ValueError(f"Expected interpolation order 0 (nearest) or 1 (linear). Received: {order}.")
    out = np.asarray(array)
    dtype = out.dtype
    for axis, size in enumerate(shape):
        if out.shape[axis] == size:
            continue
        out = _resize_axis(out, axis, size, order)
    return out.astype(dtype, copy=False)


def _resize_axis(array: np.ndarray, axis: int, size: int, order: int) -> np.ndarray:
    n = array.shape[axis]
    position = (np.arange(size, dtype=np.float64) + 0.5) * (n / size) - 0.5
    if order == 0:
        index = np.clip(np.floor(position + 0.5), 0, n - 1).astype(np.int64)
        return np.take(array, index, axis=axis)
    position = np.clip(position, 0.0, n - 1.0)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    frac = (position - low).reshape([-1 if a == axis else 1 for a in range(array.ndim)])
    lower = np.take(array, low, axis=axis).astype(np.float64)
    upper = np.take(array, high, axis=axis).astype(np.float64)
    return lower + frac * (upper - lower)


class ResizeAggregator:
    """Resize one network output (a whole-volume window) back to the volume's spatial shape.

    The inverse of :class:`~voxflow.data.samplers.resize.ResizeSampler`: each window holds a
    whole volume resized to the window shape; :meth:`add` resizes it back with the same
    interpolation convention.

    Args:
        volume_shape: spatial shape ``(X, Y, Z)`` of the volume (extra entries are ignored).
        interp_order: 1 (linear) for probabilities / intensities, 0 (nearest) for labels.

    Example:
        >>> agg = ResizeAggregator((160, 192, 160), interp_order=1)
        >>> agg.add(prediction)            # (1, wx, wy, wz, C) or (wx, wy, wz, C)
        >>> volume = agg.result()          # (160, 192, 160, C) float32
    """

    def __init__(self, volume_shape: Sequence[int], interp_order: int = 1) -> None:
        self.volume_shape = tuple(int(s) for s in volume_shape[:3])
        self.interp_order = int(interp_order)
        self._result: np.ndarray | None = None

    def add(self, windows: np.ndarray, locations: np.ndarray | None = None) -> None:
        """Take the window of this volume; ``locations`` (all zero for resize) is ignored.

        Raises:
            ValueError: when more than one window is given.
        """
        windows = np.asarray(windows)
        if windows.ndim == 5:
            if windows.shape[0] != 1:
                raise ValueError(
                    f"ResizeAggregator takes one window per volume. Received a batch of {windows.shape[0]}."
                )
            windows = windows[0]
        if windows.ndim != 4:
            raise ValueError(f"Expected a (wx, wy, wz, C) window. Received shape {windows.shape}.")
        self._result = resize_volume(windows.astype(np.float64), self.volume_shape, self.interp_order)

    def result(self) -> np.ndarray:
        """The resized volume ``(X, Y, Z, C)`` float32.

        Raises:
            ValueError: when no window was added.
        """
        if self._result is None:
            raise ValueError("ResizeAggregator.result() called before add().")
        return self._result.astype(np.float32)
