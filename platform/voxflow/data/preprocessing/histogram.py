"""Histogram standardisation (Nyúl, Udupa & Zhang 2000, "New variants of a method of MRI scale
standardization", IEEE TMI 19(2)).

Each image is described by intensity landmarks: the lower cutoff percentile, the 10, 20, 25,
30, 40, 50, 60, 70, 75, 80, 90th percentiles and the upper cutoff percentile (13 values). During
training every image's landmarks are mapped linearly so that the cutoffs land on 0 and 100, and
the mapped landmarks are averaged into a *reference* (standard scale). An image is standardised
by the piecewise-linear map sending its landmarks onto the reference, using the subset chosen by
``norm_type``:

* ``percentile``: cutoffs + 10, 20, 30, 40, 50, 60, 70, 80, 90 (11 landmarks);
* ``quartile``: cutoffs + 25, 50, 75;
* ``median``: cutoffs + 50.

Outside the cutoffs the first/last segment is extended linearly; equal landmarks (a flat
background) get slope 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

NORM_TYPES = ("percentile", "quartile", "median")
INNER_PERCENTILES = (10.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 70.0, 75.0, 80.0, 90.0)
_SUBSETS = {
    "percentile": (0, 1, 2, 4, 5, 6, 7, 8, 10, 11, 12),
    "quartile": (0, 3, 6, 9, 12),
    "median": (0, 6, 12),
}
STANDARD_SCALE = (0.0, 100.0)


def cutoff_percentiles(
    cutoff: Sequence[float], norm_type: str = "percentile"
) -> tuple[float, float]:
    """Lower/upper cutoffs as percentiles, clamped outside the inner landmarks used.

    Args:
        cutoff: two values, fractions (``0.01, 0.99``) or percentiles (``1, 99``) when one
            exceeds 1.
        norm_type: one of :data:`NORM_TYPES`.

    Returns:
        ``(low, high)`` percentiles with ``low`` below and ``high`` above every inner landmark
        the norm type uses (quartile: <= 24 / >= 76, otherwise <= 9 / >= 91).
    """
    if norm_type not in NORM_TYPES:
        raise ValueError(f"unknown norm_type {norm_type!r}; expected one of {NORM_TYPES}")
    low, high = (float(c) for c in cutoff)
    if max(low, high) <= 1.0:
        low, high = low * 100.0, high * 100.0
    if norm_type == "quartile":
        return min(max(low, 0.0), 24.0), max(min(high, 100.0), 76.0)
    if norm_type == "median":
        return min(max(low, 0.0), 49.0), max(min(high, 100.0), 51.0)
    return min(max(low, 0.0), 9.0), max(min(high, 100.0), 91.0)


def landmark_percentiles(cutoff: Sequence[float], norm_type: str = "percentile") -> np.ndarray:
    """The 13 landmark percentiles: low cutoff, the 11 inner percentiles, high cutoff."""
    low, high = cutoff_percentiles(cutoff, norm_type)
    return np.array((low, *INNER_PERCENTILES, high), dtype=np.float64)


def image_landmarks(values: np.ndarray, percentiles: np.ndarray) -> np.ndarray:
    """The intensity landmarks (13 float64) of ``values`` (any shape, e.g. the foreground)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("no intensity to compute landmarks from (empty foreground?)")
    return np.percentile(values, percentiles)


def to_standard_scale(landmarks: np.ndarray) -> np.ndarray:
    """Maps landmarks linearly so that the cutoffs land on :data:`STANDARD_SCALE`."""
    low, high = landmarks[0], landmarks[-1]
    s1, s2 = STANDARD_SCALE
    if high <= low:
        return np.full_like(landmarks, s1)
    return s1 + (landmarks - low) * (s2 - s1) / (high - low)


def learn_reference(all_landmarks: Iterable[np.ndarray]) -> np.ndarray:
    """The reference landmarks: the mean of every image's landmarks on the standard scale.

    Args:
        all_landmarks: 13 landmarks per training image (one channel of one section).

    Returns:
        13 non-decreasing reference landmarks.
    """
    mapped = [to_standard_scale(np.asarray(lm, dtype=np.float64)) for lm in all_landmarks]
    if not mapped:
        raise ValueError("no image to learn histogram landmarks from")
    return np.maximum.accumulate(np.mean(mapped, axis=0))


def piecewise_linear(
    values: np.ndarray, source: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """Maps ``values`` by the piecewise-linear function sending ``source`` to ``target``.

    ``source`` must be non-decreasing; segments of zero length get slope 0 and the first/last
    segments are extended beyond the ends.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    width = np.diff(source)
    slope = np.divide(np.diff(target), width, out=np.zeros_like(width), where=width > 0)
    segment = np.clip(np.searchsorted(source, values, side="right") - 1, 0, len(source) - 2)
    return target[segment] + (values - source[segment]) * slope[segment]


def standardise(
    volume: np.ndarray,
    reference: np.ndarray,
    percentiles: np.ndarray,
    norm_type: str = "percentile",
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Standardises one 3-D channel onto the reference landmarks.

    Args:
        volume: ``(X, Y, Z)`` intensities.
        reference: the 13 learnt reference landmarks.
        percentiles: the 13 landmark percentiles (see :func:`landmark_percentiles`).
        norm_type: which landmark subset to use.
        mask: boolean ``(X, Y, Z)``; landmarks are computed inside it (whole volume if None).

    Returns:
        ``float32`` standardised volume (the whole volume is mapped).
    """
    subset = list(_SUBSETS[norm_type])
    inside = volume if mask is None else volume[mask]
    source = image_landmarks(inside, percentiles)
    mapped = piecewise_linear(volume.astype(np.float64), source[subset], reference[subset])
    return mapped.astype(np.float32)
