"""Exact nearest-surfel distances by a narrow-band column search, with a k-d tree for the rest.

Two surfaces being compared mostly lie close to each other, so instead of a distance transform of a
whole volume, the search works in two steps on the other surface's corner map:

1. Along one axis ``x`` (the finest-spaced one), every corner of the grid gets the distance in
   voxels to the nearest surface corner on its own ``x`` line, capped at :data:`BAND_RADIUS` (a few
   vectorised min-plus passes with doubling shifts, 1, 2, 4, …, in ``uint8``).
2. Every surfel then reads that line distance ``g`` at the integer offsets ``(j, k)`` of the other
   axes (columns of a disk of radius :data:`BAND_RADIUS` × the finest spacing), taken in order of
   the column's own length ``|(0, j, k)|``. The candidate of a column is the offset ``(±g, j, k)``;
   a surfel is done as soon as its best candidate is no longer than the next column's length (no
   later column can hold a nearer corner) and within the cap.

This looks up a 2-D disk instead of a 3-D ball of offsets (about ``4/3 · r / s_x`` times fewer
lookups for a distance ``r``). Surfels not settled within the band, or once a lookup budget is spent
(far-apart surfaces), are measured with a k-d tree (``scipy.spatial.cKDTree``) over the other
surface, which is exact too. Each distance is ``sqrt(Σ (Δi · s)²)`` of an integer offset ``Δ``
over the axes in their original order, the same expression the other methods use.

Besides the distances, each surfel gets an integer ``key`` that orders the distances (ties share
ranks of equal value), so an area-weighted percentile is a ``bincount`` instead of a sort.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.spatial import cKDTree

BAND_RADIUS = 31.0
"""Radius of the column search in units of the finest voxel spacing (at most 127)."""

TOLERANCE_RADIUS = 10.0
"""Largest surface-Dice tolerance (× the finest spacing) answered by the offset-ball scan."""

LOOKUP_BUDGET = 64
"""Column lookups per surfel (of both surfaces) before the rest goes to the k-d tree."""

_BLOCK = 1 << 18  # lookups per vectorised step (points × offsets)


def _length(offsets: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``sqrt(Σ (Δ · s)²)`` over the last axis, the expression every method shares."""
    delta = offsets.astype(np.float64) * scale
    return np.sqrt((delta * delta).sum(axis=-1))


@functools.lru_cache(maxsize=32)
def column_table(spacing: tuple[float, ...], radius: float) -> tuple:
    """Columns of the band and the rank of every ``(column, line distance)`` candidate.

    Returns:
        ``(axis, cap, columns, ranks, done, values)``: the line axis; the line-distance cap ``C``
        (``g == C``: no corner within ``C − 1``); the ``(n, ndim)`` column offsets (0 on ``axis``)
        sorted by length; ``(n, C + 1)`` int32 ranks of ``|(g, column)|`` in ``values`` (``g == C``:
        ``len(values)``, no hit); per column index ``c`` (and ``n`` for the end), the largest rank a
        surfel may hold after columns ``< c`` to be settled; the sorted distinct lengths.
    """
    scale = np.asarray(spacing, dtype=np.float64)
    axis = int(np.argmin(scale))
    step = scale[axis]
    reach_line = int(radius)  # line distances up to this are searched (the doubling covers C − 1)
    cap = 1
    while cap - 1 < reach_line:
        cap *= 2
    extent = radius * step
    ranges = [np.zeros(1, dtype=np.int64) if a == axis else np.arange(-int(extent / s) - 1, int(extent / s) + 2)
              for a, s in enumerate(spacing)]
    columns = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, len(spacing))
    base = _length(columns, scale)
    keep = base <= extent
    columns, base = columns[keep], base[keep]
    order = np.argsort(base, kind="stable")
    columns, base = columns[order], base[order]
    candidates = np.repeat(columns[:, None, :], cap, axis=1)
    candidates[:, :, axis] = np.arange(cap)
    lengths = _length(candidates, scale)  # (n, cap)
    values, inverse = np.unique(lengths, return_inverse=True)
    ranks = np.full((len(columns), cap + 1), len(values), dtype=np.int32)
    ranks[:, :cap] = inverse.reshape(lengths.shape)
    # settled after columns < c: best <= |next column| (later columns are no nearer) and, at the
    # end, <= the band's extent. Line hits beyond the cap are unknown but no nearer than C · s_x,
    # which exceeds the extent (C > radius), so they never beat a settled best.
    bounds = np.append(base, extent)
    done = (np.searchsorted(values, bounds, side="right") - 1).astype(np.int32)
    for array in (columns, ranks, done, values):
        array.flags.writeable = False
    return axis, cap, columns, ranks, done, values


def line_distances(border: np.ndarray, axis: int, cap: int) -> np.ndarray:
    """Voxels from each corner to the nearest ``True`` of ``border`` on its line along ``axis``, capped at ``cap``.

    Min-plus passes with shifts 1, 2, 4, …, ``cap / 2`` (each from behind, then from ahead using the
    values just updated, which only adds longer paths): afterwards every distance below ``cap`` is
    exact (any ``|i| < cap`` is a sum of distinct shifts of one sign) and the rest equal ``cap``.
    """
    dtype = np.uint8 if cap <= 128 else np.uint16
    g = (~border).view(np.uint8) * np.asarray(cap, dtype=dtype)
    buffer = np.empty_like(g)
    n = border.shape[axis]
    shift = 1
    while shift < cap and shift < n:
        head = tuple(slice(None, -shift) if a == axis else slice(None) for a in range(border.ndim))
        tail = tuple(slice(shift, None) if a == axis else slice(None) for a in range(border.ndim))
        step = buffer[head]
        np.add(g[head], dtype(shift), out=step)
        np.minimum(g[tail], step, out=g[tail])
        np.add(g[tail], dtype(shift), out=step)
        np.minimum(g[head], step, out=g[head])
        shift *= 2
    return g


class Directed:
    """One direction's distances: values in mm, ordering keys and the value of each key."""

    __slots__ = ("distances", "keys", "values")

    def __init__(self, distances: np.ndarray, keys: np.ndarray, values: np.ndarray):
        self.distances, self.keys, self.values = distances, keys, values

    def weighted_percentile(self, areas: np.ndarray, q: float) -> float:
        """First distance (in sorted order) whose cumulated area share reaches ``q`` / 100."""
        weights = np.bincount(self.keys, weights=areas, minlength=len(self.values))
        present = np.flatnonzero(np.bincount(self.keys, minlength=len(self.values)))
        cumulated = np.cumsum(weights[present])
        index = int(np.searchsorted(cumulated / cumulated[-1], q / 100.0))
        return float(self.values[present[min(index, len(present) - 1)]])


def nearest_distances(a_border: np.ndarray, b_border: np.ndarray,
                      spacing: tuple[float, ...]) -> tuple[Directed, Directed]:
    """``(A→B, B→A)`` nearest-surfel distances, one per surfel in ``np.argwhere`` order.

    Args:
        a_border: boolean corner map of surface A (2-D or 3-D).
        b_border: boolean corner map of surface B, same shape; both non-empty.
        spacing: mm per voxel along each axis.
    """
    spacing = tuple(float(s) for s in spacing)
    axis, cap, columns, ranks, done, values = column_table(spacing, float(BAND_RADIUS))
    pad = [(0, 0) if a == axis else (int(np.abs(columns[:, a]).max()),) * 2 for a in range(a_border.ndim)]
    shape = tuple(s + p + q for s, (p, q) in zip(a_border.shape, pad, strict=True))
    strides = np.array([int(np.prod(shape[a + 1:])) for a in range(len(shape))], dtype=np.int64)
    index = np.int32 if int(np.prod(shape)) < 2**31 else np.int64  # int32 lookups are about twice as fast
    flat_columns = (columns @ strides).astype(index)
    a_points, b_points = (np.flatnonzero(np.pad(border, pad)).astype(index) for border in (a_border, b_border))
    budget = LOOKUP_BUDGET * (len(a_points) + len(b_points))
    results = []
    for points, border, targets in ((a_points, b_border, b_points), (b_points, a_border, a_points)):
        lines = np.pad(line_distances(border, axis, cap), pad, constant_values=cap).reshape(-1)
        keys, remaining, spent = _column_scan(points, lines, flat_columns, ranks, done, budget)
        budget = max(budget - spent, 0)
        results.append(_finish(keys, remaining, points, targets, values, shape, spacing))
    return results[0], results[1]


def _column_scan(points: np.ndarray, lines: np.ndarray, flat_columns: np.ndarray, ranks: np.ndarray,
                 done: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Rank of the nearest candidate per point; the points not settled (no hit, or budget spent); lookups spent."""
    width = ranks.shape[1]
    flat_ranks = ranks.reshape(-1)
    keys = np.zeros(len(points), dtype=np.int64)
    remaining = np.arange(len(points))
    position = points
    best = np.full(len(points), np.iinfo(np.int32).max, dtype=np.int32)
    start, spent = 0, 0
    while remaining.size and start < len(flat_columns) and spent < budget:
        count = max(1, min(len(flat_columns) - start, _BLOCK // remaining.size))
        block = flat_columns[start:start + count]
        # ndarray.take: about twice as fast as fancy indexing for these gathers
        if count == 1:
            found = flat_ranks.take(lines.take(position + block[0]) + np.int32(start * width))
        else:
            # (columns, points) layout: the minimum over columns is an elementwise pass per row
            line = lines.take(np.add(block[:, None], position[None, :]))
            found = flat_ranks.take(line + np.arange(start * width, (start + count) * width, width,
                                                     dtype=np.int32)[:, None])
            found = found.min(axis=0)
        np.minimum(best, found, out=best)
        spent += remaining.size * count
        start += count
        settled = best <= done[start]
        keys[remaining[settled]] = best[settled]
        keep = ~settled
        remaining, position, best = remaining[keep], position[keep], best[keep]
    return keys, remaining, spent


def _finish(keys: np.ndarray, remaining: np.ndarray, points: np.ndarray, targets: np.ndarray,
            values: np.ndarray, shape: tuple[int, ...], spacing: tuple[float, ...]) -> Directed:
    """Distances of the settled points; the rest by a k-d tree over the target surface (exact)."""
    distances = values[np.minimum(keys, len(values) - 1)]
    if not remaining.size:
        return Directed(distances, keys, values)
    scale = np.asarray(spacing, dtype=np.float64)
    source = np.stack(np.unravel_index(points[remaining], shape), axis=1)
    others = np.stack(np.unravel_index(targets, shape), axis=1)
    tree = cKDTree(others * scale, balanced_tree=False, compact_nodes=False)
    nearest = tree.query(source * scale, workers=-1)[1]
    far = _length(source - others[nearest], scale)
    order = np.argsort(far, kind="stable")
    rank = np.empty(len(far), dtype=np.int64)
    rank[order] = np.arange(len(far))
    distances[remaining] = far
    keys[remaining] = len(values) + rank
    return Directed(distances, keys, np.concatenate([values, far[order]]))


def _unmatched(points: np.ndarray, lookup: np.ndarray, flat_offsets: np.ndarray) -> np.ndarray:
    """Indices of the points for which no offset lands on a ``True`` of ``lookup``."""
    remaining = np.arange(len(points))
    position = points
    start = 0
    while remaining.size and start < len(flat_offsets):
        count = max(1, min(len(flat_offsets) - start, _BLOCK // remaining.size))
        block = flat_offsets[start:start + count]
        found = lookup.take(np.add(block[:, None], position[None, :])).any(axis=0)
        missing = ~found
        remaining, position = remaining[missing], position[missing]
        start += count
    return remaining


def within_tolerance(a_border: np.ndarray, b_border: np.ndarray, spacing: tuple[float, ...],
                     tolerance: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Whether each surfel of A (B) lies within ``tolerance`` mm of B (A), in ``np.argwhere`` order.

    Equal to ``d <= tolerance`` of the exact distances (same offset lengths), but only scans the
    offsets up to the tolerance. ``None`` when that ball is too large to be worth it.
    """
    scale = np.asarray(spacing, dtype=np.float64)
    if not np.isfinite(tolerance) or tolerance > TOLERANCE_RADIUS * float(scale.min()):
        return None
    reach = tuple(int(max(tolerance, 0.0) / s) + 1 for s in spacing)
    axes = [np.arange(-m, m + 1) for m in reach]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(spacing))
    delta = grid.astype(np.float64) * scale
    lengths = np.sqrt((delta * delta).sum(axis=1))
    grid = grid[np.argsort(lengths, kind="stable")][np.sort(lengths) <= tolerance]
    pad = [(m, m) for m in reach]
    a_grid, b_grid = np.pad(a_border, pad), np.pad(b_border, pad)
    strides = np.array([int(np.prod(a_grid.shape[axis + 1:])) for axis in range(a_grid.ndim)], dtype=np.int64)
    index = np.int32 if a_grid.size < 2**31 else np.int64
    flat_offsets = (grid.astype(np.int64) @ strides).astype(index)
    a_points, b_points = np.flatnonzero(a_grid).astype(index), np.flatnonzero(b_grid).astype(index)
    flags = []
    for points, target in ((a_points, b_grid), (b_points, a_grid)):
        inside = np.ones(len(points), dtype=bool)
        inside[_unmatched(points, target.reshape(-1), flat_offsets)] = False
        flags.append(inside)
    return flags[0], flags[1]


