"""Volume padding: a fixed margin (``volume_padding_size``) plus enough to reach a minimum shape.

Padding is undone on output by cropping the same widths.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PadWidths = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]


def padding_widths(
    shape: Sequence[int],
    padding_size: Sequence[int] | None = None,
    min_shape: Sequence[int] | None = None,
) -> PadWidths:
    """Per-axis ``(before, after)`` widths.

    Args:
        shape: spatial shape ``(X, Y, Z)`` before padding.
        padding_size: margin added on both sides of each axis (1 to 3 values, last repeated).
        min_shape: after the margin, pad symmetrically (extra voxel after) until each axis is at
            least this size; ``None`` or a value of 1 or less means no requirement.

    Returns:
        ``((bx, ax), (by, ay), (bz, az))``.
    """
    margin = [0, 0, 0]
    if padding_size:
        values = [int(v) for v in padding_size]
        margin = (values + [values[-1]] * 3)[:3]
    if any(m < 0 for m in margin):
        raise ValueError(f"volume_padding_size must be >= 0, got {tuple(padding_size or ())}")
    widths = []
    for axis in range(3):
        before = after = margin[axis]
        size = int(shape[axis]) + before + after
        if min_shape is not None and int(min_shape[axis]) > size:
            missing = int(min_shape[axis]) - size
            before += missing // 2
            after += missing - missing // 2
        widths.append((before, after))
    return tuple(widths)  # type: ignore[return-value]


def pad_array(data: np.ndarray, widths: PadWidths, mode: str = "constant") -> np.ndarray:
    """Pads the spatial axes of ``data`` (X, Y, Z[, C]) with a NumPy pad mode (constant = 0)."""
    if not any(b or a for b, a in widths):
        return data
    full = list(widths) + [(0, 0)] * (data.ndim - 3)
    if mode == "constant":
        return np.pad(data, full, mode="constant", constant_values=0)
    return np.pad(data, full, mode=mode)


def crop_array(data: np.ndarray, widths: PadWidths) -> np.ndarray:
    """Removes the padding added by :func:`pad_array`."""
    slices = tuple(slice(b, data.shape[axis] - a) for axis, (b, a) in enumerate(widths))
    return data[slices]


def padded_affine(affine: np.ndarray, widths: PadWidths) -> np.ndarray:
    """The affine of the padded array (its first voxel lies ``before`` voxels earlier)."""
    shift = np.eye(4)
    shift[:3, 3] = [-b for b, _ in widths]
    return np.asarray(affine, dtype=np.float64) @ shift
