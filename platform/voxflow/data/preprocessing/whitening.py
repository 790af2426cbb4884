"""Whitening: zero mean and unit standard deviation per channel (NiftyNet's mean/var layer), with
each volume's statistics or, per input section, the dataset's (``fixed_whitening``) after an
``intensity_clip`` — nnU-Net's CT scheme, which ``net_segment plan`` writes for CT channels."""

from __future__ import annotations

import numpy as np

MIN_STD = 1e-5


def whitening_stats(volume: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(means, stds)`` of ``(X, Y, Z, C)`` intensities inside ``mask`` (boolean
    ``(X, Y, Z, C)``, or ``None`` for the whole volume); stds are at least 1e-5."""
    means, stds = [], []
    for channel in range(volume.shape[-1]):
        values = volume[..., channel]
        inside = values if mask is None else values[mask[..., channel]]
        means.append(float(np.mean(inside, dtype=np.float64)))
        stds.append(max(float(np.std(inside, dtype=np.float64)), MIN_STD))
    return np.asarray(means), np.asarray(stds)


def whiten(volume: np.ndarray, mask: np.ndarray | None = None,
           stats: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """``(I - mean) / max(std, 1e-5)`` per channel, statistics taken inside ``mask``.

    Args:
        volume: ``(X, Y, Z, C)`` intensities.
        mask: boolean ``(X, Y, Z, C)`` foreground, or ``None`` for the whole volume.
        stats: ``(means, stds)`` to use instead (:func:`whitening_stats` of another volume).

    Returns:
        The whitened ``float32`` volume (the whole volume is transformed).
    """
    means, stds = whitening_stats(volume, mask) if stats is None else stats
    out = np.empty(volume.shape, dtype=np.float32)
    for channel in range(volume.shape[-1]):
        # Python floats, so float32 volumes are computed in float32 (as NumPy does with weak scalars)
        out[..., channel] = (volume[..., channel] - float(means[channel])) / float(stds[channel])
    return out


def clip_channels(volume: np.ndarray, clips: list[tuple[float, float] | None]) -> np.ndarray:
    """Each channel clipped to its ``(min, max)`` (``None``: unchanged); a new array."""
    out = np.array(volume, dtype=np.float32, copy=True)
    for channel, bounds in enumerate(clips):
        if bounds is not None:
            np.clip(out[..., channel], bounds[0], bounds[1], out=out[..., channel])
    return out


def with_fixed_stats(stats: tuple[np.ndarray, np.ndarray],
                     fixed: list[tuple[float, float] | None]) -> tuple[np.ndarray, np.ndarray]:
    """``(means, stds)`` with the channels that have dataset statistics (``(mean, std)``) replaced."""
    means, stds = np.array(stats[0], dtype=float), np.array(stats[1], dtype=float)
    for channel, pair in enumerate(fixed):
        if pair is not None:
            means[channel], stds[channel] = float(pair[0]), max(float(pair[1]), MIN_STD)
    return means, stds
