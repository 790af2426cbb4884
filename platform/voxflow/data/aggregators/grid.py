"""Stitching sliding-window outputs back into a volume, blending overlaps.

NumPy only. Pairs with :class:`~voxflow.data.samplers.grid.GridSampler`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from voxflow.data.samplers.grid_layout import as_triple, effective_border

BLENDINGS = ("gaussian", "constant")
_SIGMA_SCALE = 0.125
_MIN_WEIGHT = 1e-3


def gaussian_importance(window_shape: Sequence[int], border: Sequence[int]) -> np.ndarray:
    """Blending weights over a window: a Gaussian on the cropped window, float64, max 1.

    Centred on the window's centre with ``sigma = 0.125 × (w - 2·border)`` per axis (MONAI's
    ``sigma_scale`` applied to the kept part of the window), clipped below at ``1e-3`` so that no
    covered voxel has zero weight.
    """
    profiles = []
    for w, b in zip(window_shape, border):
        sigma = _SIGMA_SCALE * (w - 2 * b)
        x = np.arange(w, dtype=np.float64) - (w - 1) / 2.0
        profiles.append(np.exp(-0.5 * (x / sigma) ** 2))
    weights = profiles[0][:, None, None] * profiles[1][None, :, None] * profiles[2][None, None, :]
    return np.maximum(weights / weights.max(), _MIN_WEIGHT)


class GridAggregator:
    """Blend output windows of a sliding-window pass into one volume.

    Each output window has the input window's size. It is cropped by ``border`` on its
    **interior** sides only: a window face lying on the volume boundary is kept up to the
    boundary, so every voxel is covered whatever the border and the volume needs no padding
    (NiftyNet instead required volume padding ≥ border and left uncovered rims otherwise). The
    border is clipped to ``(w - 1) // 2`` per axis, like :class:`GridSampler` does.

    Where kept parts overlap, the outputs are **blended** (NiftyNet overwrote them):
    ``"constant"`` takes the plain average; ``"gaussian"`` weights each window by
    :func:`gaussian_importance`, favouring window centres. Sums and weights accumulate in
    float64, so windows that agree (e.g. an identity network) reproduce the input exactly.
    Memory: one float64 ``(X, Y, Z, C)`` sum and one float64 ``(X, Y, Z, 1)`` weight volume.

    Args:
        volume_shape: ``(X, Y, Z)`` of the output (extra entries are ignored).
        num_channels: channels ``C`` of the network output.
        window_shape: ``(wx, wy, wz)`` of the windows.
        border: voxels dropped from each interior side (int or three ints).
        blending: ``"gaussian"`` or ``"constant"``.
        fill_constant: value of voxels no window covered (cannot happen with grid locations).

    Example:
        >>> agg = GridAggregator((X, Y, Z), 2, (64, 64, 64), border=8)
        >>> agg.add(probabilities, locations)       # (B, 64, 64, 64, 2), (B, 3)
        >>> volume = agg.result()                    # (X, Y, Z, 2) float32
    """

    def __init__(
        self,
        volume_shape: Sequence[int],
        num_channels: int,
        window_shape: Sequence[int],
        border: int | Sequence[int] = 0,
        blending: str = "gaussian",
        fill_constant: float = 0.0,
    ) -> None:
        if blending not in BLENDINGS:
            raise ValueError(
                f"Invalid blending. Expected one of: {', '.join(BLENDINGS)}. Received: {blending!r}."
            )
        self.volume_shape = tuple(int(s) for s in volume_shape[:3])
        self.num_channels = int(num_channels)
        self.window_shape = as_triple(window_shape, "window shape", minimum=1)
        if any(w > s for s, w in zip(self.volume_shape, self.window_shape)):
            raise ValueError(f"The window {self.window_shape} must fit in the volume {self.volume_shape}.")
        self.border = effective_border(self.window_shape, border)
        self.blending = blending
        self.fill_constant = float(fill_constant)
        if blending == "gaussian":
            self._importance = gaussian_importance(self.window_shape, self.border)
        else:
            self._importance = np.ones(self.window_shape, np.float64)
        self._sum = np.zeros((*self.volume_shape, self.num_channels), np.float64)
        self._weight = np.zeros((*self.volume_shape, 1), np.float64)

    def add(self, windows: np.ndarray, locations: np.ndarray) -> None:
        """Accumulate a batch of output windows.

        Args:
            windows: ``(B, wx, wy, wz, C)``; for 2-D windows ``(B, wx, wy, C)`` with the singleton
                axis squeezed is accepted too.
            locations: ``(B, 3)`` window starts, as produced by the grid sampler.

        Raises:
            ValueError: when shapes disagree with the aggregator's or a window leaves the volume.
        """
        windows = self._as_batch(np.asarray(windows))
        locations = np.asarray(locations, dtype=np.int64).reshape(-1, 3)
        if len(locations) != len(windows):
            raise ValueError(f"Got {len(windows)} windows but {len(locations)} locations.")
        for window, start in zip(windows, locations):
            self._add_one(window, start)

    def _as_batch(self, windows: np.ndarray) -> np.ndarray:
        expected = (*self.window_shape, self.num_channels)
        singleton = [a for a, w in enumerate(self.window_shape) if w == 1]
        if windows.ndim == 4 and len(singleton) == 1:
            windows = np.expand_dims(windows, 1 + singleton[0])
        if windows.ndim != 5 or windows.shape[1:] != expected:
            raise ValueError(
                f"Expected windows of shape (B, {', '.join(map(str, expected))}). "
                f"Received shape {windows.shape}."
            )
        return windows

    def _add_one(self, window: np.ndarray, start: np.ndarray) -> None:
        inner, outer = [], []
        for axis, (s, w, b, size) in enumerate(
            zip(start, self.window_shape, self.border, self.volume_shape)
        ):
            if s < 0 or s + w > size:
                raise ValueError(
                    f"Window start {tuple(int(v) for v in start)} puts a window of {self.window_shape} "
                    f"outside the volume {self.volume_shape} (axis {axis})."
                )
            low = 0 if s == 0 else b
            high = w if s + w == size else w - b
            inner.append(slice(low, high))
            outer.append(slice(s + low, s + high))
        inner_t, outer_t = tuple(inner), tuple(outer)
        weight = self._importance[inner_t][..., None]
        self._sum[outer_t] += weight * window[inner_t].astype(np.float64)
        self._weight[outer_t] += weight

    def result(self) -> np.ndarray:
        """The blended volume ``(X, Y, Z, C)`` float32; uncovered voxels hold ``fill_constant``.

        Computed one x-slab at a time, so it needs no third full-size float64 volume.
        """
        out = np.empty(self._sum.shape, np.float32)
        for x in range(self.volume_shape[0]):
            weight = self._weight[x]
            covered = weight > 0
            value = np.divide(self._sum[x], weight, out=np.zeros_like(self._sum[x]), where=covered)
            out[x] = np.where(covered, value, self.fill_constant)
        return out

    def coverage(self) -> np.ndarray:
        """Accumulated blending weight per voxel, ``(X, Y, Z, 1)`` float64 (0 = not covered)."""
        return self._weight.copy()
