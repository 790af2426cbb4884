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
    """Blend output windows of a sliding-window pass into one volume, in bounded memory.

    Each output window has the input window's size. It is cropped by ``border`` on its
    **interior** sides only: a window face lying on the volume boundary is kept up to the
    boundary, so every voxel is covered whatever the border and the volume needs no padding
    (NiftyNet instead required volume padding ≥ border and left uncovered rims otherwise). The
    border is clipped to ``(w - 1) // 2`` per axis, like :class:`GridSampler` does.

    Where kept parts overlap, the outputs are **blended** (NiftyNet overwrote them):
    ``"constant"`` takes the plain average; ``"gaussian"`` weights each window by
    :func:`gaussian_importance`, favouring window centres. Sums and weights accumulate in
    float64, so windows that agree (e.g. an identity network) reproduce the input exactly.

    Memory: windows must arrive in grid order, i.e. with non-decreasing x start (the order of
    :attr:`GridSampler.locations <voxflow.data.samplers.grid.GridSampler.locations>`; a batch
    is sorted first). The float64 sums and weights then live in a slab only one window thick
    along x: once a window starting at ``x = s`` arrives, every plane before ``s`` is final and
    is written to the float32 output. Besides the output itself, stitching needs
    ``wx × Y × Z × (C + 1) × 8`` bytes, whatever the volume's length along x (a 512³ volume
    with 96³ windows and one channel: 0.75 × the float32 volume; NiftyNet and MONAI keep
    full-size accumulators).

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
        _, y, z = self.volume_shape
        span = self.window_shape[0]
        self._out = np.full((*self.volume_shape, self.num_channels), self.fill_constant, np.float32)
        self._sum = np.zeros((span, y, z, self.num_channels), np.float64)
        self._weight = np.zeros((span, y, z, 1), np.float64)
        self._slab = 0  # x of the slab's first plane; planes before it are final in ``_out``

    def add(self, windows: np.ndarray, locations: np.ndarray) -> None:
        """Accumulate a batch of output windows.

        Args:
            windows: ``(B, wx, wy, wz, C)``; for 2-D windows ``(B, wx, wy, C)`` with the singleton
                axis squeezed is accepted too.
            locations: ``(B, 3)`` window starts, as produced by the grid sampler.

        Raises:
            ValueError: when shapes disagree with the aggregator's, a window leaves the volume, or
                a window starts before planes already written (windows out of grid order).
        """
        windows = self._as_batch(np.asarray(windows))
        locations = np.asarray(locations, dtype=np.int64).reshape(-1, 3)
        if len(locations) != len(windows):
            raise ValueError(f"Got {len(windows)} windows but {len(locations)} locations.")
        for index in np.argsort(locations[:, 0], kind="stable"):
            self._add_one(windows[index], locations[index])

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
        if start[0] < self._slab:
            raise ValueError(
                f"Window start {tuple(int(v) for v in start)} comes after planes x < {self._slab} were "
                "written: add windows in grid order (non-decreasing x start, as GridSampler.locations)."
            )
        self._advance(int(start[0]))
        outer[0] = slice(outer[0].start - self._slab, outer[0].stop - self._slab)
        inner_t, outer_t = tuple(inner), tuple(outer)
        weight = self._importance[inner_t][..., None]
        self._sum[outer_t] += weight * window[inner_t].astype(np.float64)
        self._weight[outer_t] += weight

    def _advance(self, x: int) -> None:
        """Write the final planes ``[slab, x)`` to the output and move the slab to start at ``x``."""
        shift = x - self._slab
        if shift <= 0:
            return
        span = len(self._sum)
        self._write(min(shift, span))
        keep = max(span - shift, 0)
        for plane in range(keep):  # plane by plane: one slice copy of overlapping halves would need a temporary
            self._sum[plane] = self._sum[plane + shift]
            self._weight[plane] = self._weight[plane + shift]
        self._sum[keep:] = 0.0
        self._weight[keep:] = 0.0
        self._slab = x

    def _write(self, planes: int) -> None:
        """Blend the slab's first ``planes`` planes into the output (uncovered voxels keep the fill)."""
        planes = min(planes, self.volume_shape[0] - self._slab)
        for i in range(planes):
            weight = self._weight[i]
            covered = weight[..., 0] > 0
            if covered.all():
                self._out[self._slab + i] = self._sum[i] / weight
            elif covered.any():
                self._out[self._slab + i][covered] = self._sum[i][covered] / weight[covered]

    def result(self) -> np.ndarray:
        """The blended volume ``(X, Y, Z, C)`` float32; uncovered voxels hold ``fill_constant``.

        Returns the aggregator's own output array (no copy). More windows may still be added
        after this call (later in grid order); a later :meth:`result` includes them.
        """
        self._write(len(self._sum))
        return self._out
