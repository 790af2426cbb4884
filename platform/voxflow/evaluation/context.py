"""One mask pair with lazily shared intermediate results, and the decorator built on it.

Every built-in metric is a plain function ``metric(ref, seg, spacing=None, **params) -> float``.
Internally it reads counts or surface distances from a :class:`MaskPair`, so an evaluator that
computes many metrics of one label builds the pair once and calls ``metric.compute(pair, ...)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from voxflow.evaluation.masks import as_mask_pair, as_spacing


class MaskPair:
    """A reference and a segmentation mask of one shape, their spacing and cached statistics.

    Attributes:
        ref: boolean reference mask.
        seg: boolean segmentation mask.
        spacing: mm per voxel along each axis.
    """

    def __init__(self, ref: np.ndarray, seg: np.ndarray, spacing: tuple[float, ...] | None = None):
        """Check shapes and spacing (ValueError on mismatch)."""
        self.ref, self.seg = as_mask_pair(ref, seg)
        self.spacing = as_spacing(spacing, self.ref.ndim)
        self._counts: tuple[int, int, int, int] | None = None
        self._surfaces: Any = None

    @property
    def counts(self) -> tuple[int, int, int, int]:
        """``(tp, fp, fn, tn)`` voxel counts."""
        if self._counts is None:
            tp = int(np.count_nonzero(self.ref & self.seg))
            n_ref, n_seg = int(np.count_nonzero(self.ref)), int(np.count_nonzero(self.seg))
            fp, fn = n_seg - tp, n_ref - tp
            self._counts = (tp, fp, fn, self.ref.size - tp - fp - fn)
        return self._counts

    @property
    def surfaces(self) -> Any:
        """The pair's :class:`~voxflow.evaluation.surface_distance.SurfaceDistances`."""
        if self._surfaces is None:
            from voxflow.evaluation.surface_distance import SurfaceDistances  # noqa: PLC0415

            self._surfaces = SurfaceDistances(self.ref, self.seg, self.spacing)
        return self._surfaces


def pair_metric(compute: Callable[..., float]) -> Callable[..., float]:
    """Turn ``compute(pair, **params)`` into ``metric(ref, seg, spacing=None, **params)``.

    The returned function keeps ``compute`` as its ``compute`` attribute.
    """

    @functools.wraps(compute)
    def metric(ref: np.ndarray, seg: np.ndarray, spacing: tuple[float, ...] | None = None,
               **params: Any) -> float:
        return float(compute(MaskPair(ref, seg, spacing), **params))

    metric.compute = compute  # type: ignore[attr-defined]
    return metric


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when the denominator is 0."""
    return float(numerator) / denominator if denominator else float("nan")
