"""Whitening: zero mean and unit standard deviation per channel (NiftyNet's mean/var layer)."""

from __future__ import annotations

import numpy as np

MIN_STD = 1e-5


def whiten(volume: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """``(I - mean) / max(std, 1e-5)`` per channel, statistics taken inside ``mask``.

    Args:
        volume: ``(X, Y, Z, C)`` intensities.
        mask: boolean ``(X, Y, Z, C)`` foreground, or ``None`` for the whole volume.

    Returns:
        The whitened ``float32`` volume (the whole volume is transformed).
    """
    out = np.empty(volume.shape, dtype=np.float32)
    for channel in range(volume.shape[-1]):
        values = volume[..., channel]
        inside = values if mask is None else values[mask[..., channel]]
        mean = float(np.mean(inside, dtype=np.float64))
        std = float(np.std(inside, dtype=np.float64))
        out[..., channel] = (values - mean) / max(std, MIN_STD)
    return out
