"""Where sliding windows go: the grid of window starts shared by the grid sampler and aggregator.

NumPy only (no TensorFlow), so the aggregator can use it without importing TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def as_triple(value: int | Sequence[int], name: str, minimum: int = 0) -> tuple[int, int, int]:
    """An int (same on every axis) or three ints, as a tuple of three ints ``>= minimum``.

    Raises:
        ValueError: when it is neither, or too small.
    """
    values = (int(value),) * 3 if np.isscalar(value) else tuple(int(v) for v in value)
    if len(values) != 3 or min(values) < minimum:
        raise ValueError(
            f"Invalid {name}. Expected one or three integers >= {minimum}. Received: {value!r}."
        )
    return values  # type: ignore[return-value]


def effective_border(
    window_shape: Sequence[int], border: int | Sequence[int]
) -> tuple[int, int, int]:
    """The border actually cropped from each side of a window: ``min(border, (w - 1) // 2)``.

    Clipping keeps at least one voxel of every window, so a 2-D window's singleton axis always
    gets border 0 whatever the configured border.
    """
    window = as_triple(window_shape, "window shape", minimum=1)
    border = as_triple(border, "border")
    return tuple(min(b, (w - 1) // 2) for b, w in zip(border, window))  # type: ignore[return-value]


def axis_starts(size: int, window: int, border: int) -> np.ndarray:
    """Window starts on one axis: ``0, step, 2·step, …`` while the window fits, and ``size - window``.

    ``step = max(window - 2·border, 1)`` (with the border already clipped by
    :func:`effective_border`); duplicates are removed and the starts sorted.
    """
    step = max(window - 2 * border, 1)
    return np.unique(np.append(np.arange(0, size - window + 1, step), size - window)).astype(np.int64)


def grid_locations(
    volume_shape: Sequence[int], window_shape: Sequence[int], border: int | Sequence[int]
) -> np.ndarray:
    """All window starts of a sliding-window pass over a volume, ``(N, 3)`` int64.

    Per axis the starts are those of :func:`axis_starts`; all axes are combined (meshgrid, x
    slowest). Cropping every window by ``border`` on its interior sides leaves a cover of the
    whole volume.

    Args:
        volume_shape: ``(X, Y, Z)`` (extra entries, e.g. channels, are ignored).
        window_shape: ``(wx, wy, wz)``, at most the volume shape.
        border: voxels dropped from each interior side of an output window (int or three ints).

    Raises:
        ValueError: when the window does not fit in the volume.

    Example:
        >>> grid_locations((10, 4, 1), (4, 4, 1), 1).tolist()
        [[0, 0, 0], [2, 0, 0], [4, 0, 0], [6, 0, 0]]
    """
    shape = tuple(int(s) for s in volume_shape[:3])
    window = as_triple(window_shape, "window shape", minimum=1)
    if len(shape) != 3 or any(w < 1 or w > s for s, w in zip(shape, window)):
        raise ValueError(
            f"The window {window} must fit in the volume {shape} (pad the volume to the window size)."
        )
    border = effective_border(window, border)
    axes = [axis_starts(s, w, b) for s, w, b in zip(shape, window, border)]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)
