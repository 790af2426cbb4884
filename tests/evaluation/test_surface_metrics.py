"""Surface-distance metrics (surfel-area weighted): hand-computed values, empty masks, brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from voxflow.evaluation.metrics import (
    SurfaceDistances,
    average_surface_distance,
    hausdorff,
    hausdorff95,
    mask_surface,
    surface_dice,
    surface_overlap,
)
from voxflow.evaluation.surfel_table import contour_lengths_2d, surfel_areas_3d

DISTANCES = (hausdorff, hausdorff95, average_surface_distance)


def _box(shape, *slices):
    mask = np.zeros(shape, dtype=bool)
    mask[tuple(slices)] = True
    return mask


def test_single_voxels_anisotropic():
    """Each voxel has 8 equal corner surfels; seg is 2 slices (4 mm) further along z."""
    ref = _box((4, 4, 6), 1, 1, 1)
    seg = _box((4, 4, 6), 1, 1, 3)
    spacing = (1.0, 1.0, 2.0)
    # corners at z = 1, 2 (ref) and 3, 4 (seg): half the surfels are 2 mm away, half 4 mm.
    assert hausdorff(ref, seg, spacing) == pytest.approx(4.0)
    assert hausdorff95(ref, seg, spacing) == pytest.approx(4.0)
    assert hausdorff95(ref, seg, spacing, percentile=50) == pytest.approx(2.0)
    assert average_surface_distance(ref, seg, spacing) == pytest.approx(3.0)
    assert surface_dice(ref, seg, spacing, tolerance=2.0) == pytest.approx(0.5)
    assert surface_dice(ref, seg, spacing, tolerance=1.9) == 0.0
    assert surface_overlap(ref, seg, spacing, tolerance=4.0) == 1.0
    for metric in DISTANCES:
        assert metric(ref, ref, spacing) == 0.0


def test_surfel_areas_sum_to_the_box_surface():
    spacing = (0.5, 1.5, 2.0)
    mask = _box((6, 6, 6), slice(1, 4), slice(1, 3), slice(2, 5))  # 3 x 2 x 3 voxels
    distances = SurfaceDistances(mask, mask, spacing)
    ex, ey, ez = 3 * 0.5, 2 * 1.5, 3 * 2.0
    # marching cubes chamfers edges and corners: the area is below the box's, above 70 % of it
    box_area = 2 * (ex * ey + ey * ez + ex * ez)
    assert 0.7 * box_area < distances.areas[0].sum() < box_area
    assert surfel_areas_3d((1.0, 1.0, 1.0))[255] == 0 and surfel_areas_3d((1.0, 1.0, 1.0))[1] > 0
    assert contour_lengths_2d((1.0, 2.0))[0b1100] == 2.0  # a straight cut across y


def test_weighted_percentile_uses_areas():
    """A percentile counts surface area, not surfels: compare with a direct weighted definition."""
    rng = np.random.default_rng(3)
    ref, seg = rng.random((8, 9, 7)) < 0.4, rng.random((8, 9, 7)) < 0.4
    distances = SurfaceDistances(ref, seg, (0.7, 1.2, 2.5))
    (d_ab, d_ba), (a, b) = distances.directed, distances.areas

    def weighted(d, w, q):
        order = np.argsort(d)
        share = np.cumsum(w[order]) / w.sum()
        return d[order][min(np.searchsorted(share, q / 100), len(d) - 1)]

    assert distances.percentile(90) == pytest.approx(max(weighted(d_ab, a, 90), weighted(d_ba, b, 90)))
    assert distances.average() == pytest.approx((d_ab @ a + d_ba @ b) / (a.sum() + b.sum()))


@pytest.mark.parametrize("metric", DISTANCES)
def test_empty_masks(metric):
    empty = np.zeros((5, 5, 5), dtype=bool)
    full = _box((5, 5, 5), slice(1, 3), slice(1, 3), slice(1, 3))
    assert metric(empty, empty) == 0.0
    assert metric(empty, full) == math.inf
    assert metric(full, empty) == math.inf


def test_empty_masks_surface_dice_and_overlap():
    empty = np.zeros((5, 5), dtype=bool)
    full = _box((5, 5), slice(1, 3), slice(1, 3))
    assert surface_dice(empty, empty) == 1.0 and surface_dice(empty, full) == 0.0 and surface_dice(full, empty) == 0.0
    assert surface_overlap(empty, empty) == 1.0 and surface_overlap(empty, full) == 0.0
    assert math.isnan(surface_overlap(full, empty))


def test_2d_and_singleton_axis():
    ref = _box((10, 10), slice(2, 6), slice(2, 6))
    seg = _box((10, 10), slice(2, 6), slice(2, 9))
    # seg's far edge (corner line y = 9) is 3 corners (1.5 mm) from ref's (y = 6)
    assert hausdorff(ref, seg, (1.0, 0.5)) == pytest.approx(1.5)
    for metric in (*DISTANCES, surface_dice):
        flat = metric(ref, seg, (1.0, 0.5))
        assert metric(ref[..., None], seg[..., None], (1.0, 0.5, 3.0)) == pytest.approx(flat)


def test_mask_surface_helper():
    full = np.ones((5, 5), dtype=bool)
    surface = mask_surface(full)
    assert surface.sum() == 16 and not surface[1:4, 1:4].any()


# ------------------------------------------------- brute force (test-only, all pairs of corners)
def _brute(ref, seg, spacing):
    """Surfels by explicit 2x2(x2) neighbourhoods, distances by all pairs."""
    def corners(mask):
        padded = np.pad(mask, 1)
        points = []
        for corner in itertools.product(*(range(s + 1) for s in mask.shape)):
            block = padded[tuple(slice(c, c + 2) for c in corner)]
            if block.any() and not block.all():
                points.append(corner)
        return np.array(points) * np.asarray(spacing)

    pa, pb = corners(ref), corners(seg)
    d = np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1))
    return d.min(axis=1), d.min(axis=0)


@pytest.mark.parametrize("shape,spacing", [((9, 8), (0.8, 1.7)), ((7, 6, 5), (1.0, 0.6, 2.2))])
def test_matches_brute_force_and_is_symmetric(shape, spacing):
    rng = np.random.default_rng(len(shape))
    for _ in range(3):
        ref, seg = rng.random(shape) < 0.3, rng.random(shape) < 0.3
        d_ab, d_ba = _brute(ref, seg, spacing)
        assert hausdorff(ref, seg, spacing) == pytest.approx(max(d_ab.max(), d_ba.max()))
        kd, edt = SurfaceDistances(ref, seg, spacing), SurfaceDistances(ref, seg, spacing, method="edt")
        tree = SurfaceDistances(ref, seg, spacing, method="kdtree")
        for mine, other, third in zip(kd.directed, edt.directed, tree.directed, strict=True):
            np.testing.assert_array_equal(mine, other)
            np.testing.assert_array_equal(mine, third)
        np.testing.assert_allclose(np.sort(kd.directed[0]), np.sort(d_ab))
        for metric in (*DISTANCES, surface_dice):  # symmetric
            assert metric(ref, seg, spacing) == pytest.approx(metric(seg, ref, spacing))


def test_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        hausdorff(np.ones((3, 3)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="spacing"):
        hausdorff(np.ones((3, 3)), np.ones((3, 3)), (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="spacing"):
        hausdorff(np.ones((3, 3)), np.ones((3, 3)), (1.0, 0.0))
    with pytest.raises(ValueError, match="method"):
        SurfaceDistances(np.ones((3, 3)), np.ones((3, 3)), method="pairs")


@pytest.mark.parametrize("radius,budget,block", [(0.5, 64, 1), (1.5, 64, 1 << 20), (3.0, 64, 1), (31.0, 64, 1),
                                                 (31.0, 64, 1 << 20), (31.0, 1, 1), (31.0, 0, 1 << 20)])
@pytest.mark.parametrize("shape,spacing", [((30, 27), (0.8, 1.7)), ((21, 18, 11), (0.8, 0.8, 2.0)),
                                           ((12, 17, 15), (1.3, 0.6, 0.6))])
def test_band_search_with_tree_fallback_matches_other_methods(monkeypatch, radius, budget, block, shape, spacing):
    """A small band radius or lookup budget sends surfels to the k-d tree fallback; values and percentiles agree.

    ``block=1`` scans one column (offset) per step, so every early stop is taken and checked.
    """
    from voxflow.evaluation import nearest  # noqa: PLC0415

    monkeypatch.setattr(nearest, "_BLOCK", block)
    monkeypatch.setattr(nearest, "BAND_RADIUS", radius)
    monkeypatch.setattr(nearest, "TOLERANCE_RADIUS", min(radius, 10.0))
    monkeypatch.setattr(nearest, "LOOKUP_BUDGET", budget)
    rng = np.random.default_rng(7)
    for fill in (0.05, 0.4):
        ref, seg = rng.random(shape) < fill, rng.random(shape) < 0.3
        seg[: shape[0] // 2] = False  # far-apart parts: distances beyond the band
        band = SurfaceDistances(ref, seg, spacing)
        tree = SurfaceDistances(ref, seg, spacing, method="kdtree")
        edt = SurfaceDistances(ref, seg, spacing, method="edt")
        # equal up to the rounding of equally long offsets summed in another order (1 ulp)
        for mine, other, third in zip(band.directed, tree.directed, edt.directed, strict=True):
            np.testing.assert_allclose(mine, other, rtol=1e-15, atol=0)
            np.testing.assert_allclose(mine, third, rtol=1e-15, atol=0)
        for q in (0.0, 50.0, 95.0, 100.0):
            assert band.percentile(q) == pytest.approx(tree.percentile(q), rel=1e-15, abs=0)
        assert band.average() == pytest.approx(tree.average(), rel=1e-12)
        assert band.surface_dice(1.0) == tree.surface_dice(1.0)
        for tolerance in (-1.0, 0.0, 0.8, 1.6, 2.0, 5.0, 50.0):  # fresh pairs: the tolerance-only scan
            assert SurfaceDistances(ref, seg, spacing).surface_dice(tolerance) == tree.surface_dice(tolerance)
            assert SurfaceDistances(ref, seg, spacing).surface_overlap(tolerance) == tree.surface_overlap(tolerance)


@pytest.mark.parametrize("shape,spacing", [((40, 33), (0.7, 0.7)), ((26, 23, 19), (0.8, 0.8, 2.0)),
                                           ((19, 24, 22), (2.5, 1.0, 0.9))])
@pytest.mark.parametrize("block", [1, 1 << 20])
def test_band_search_on_smooth_shifted_shapes(monkeypatch, shape, spacing, block):
    """Nested, shifted blobs (most distances inside the band, a few long ones): all methods equal."""
    from voxflow.evaluation import nearest  # noqa: PLC0415

    monkeypatch.setattr(nearest, "_BLOCK", block)
    grid = np.indices(shape).astype(float)
    centre = np.array(shape, dtype=float)[(slice(None),) + (None,) * len(shape)] / 2
    rng = np.random.default_rng(5)
    radius = np.sqrt((((grid - centre) / (np.array(shape)[(slice(None),) + (None,) * len(shape)] * 0.35)) ** 2)
                     .sum(axis=0))
    ref = radius + rng.normal(0, 0.05, shape) <= 1.0
    seg = np.roll(radius + rng.normal(0, 0.05, shape) <= 0.8, 2, axis=0)
    seg[tuple(slice(0, 2) for _ in shape)] = True  # a far-away corner blob
    band = SurfaceDistances(ref, seg, spacing)
    tree = SurfaceDistances(ref, seg, spacing, method="kdtree")
    edt = SurfaceDistances(ref, seg, spacing, method="edt")
    for mine, other, third in zip(band.directed, tree.directed, edt.directed, strict=True):
        assert mine.size and mine.max() > 0
        np.testing.assert_allclose(mine, other, rtol=1e-15, atol=0)
        np.testing.assert_allclose(mine, third, rtol=1e-15, atol=0)
    for q in (5.0, 50.0, 95.0, 100.0):
        assert band.percentile(q) == pytest.approx(tree.percentile(q), rel=1e-15, abs=0)
    assert band.average() == pytest.approx(tree.average(), rel=1e-12)


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 4, 5), (6, 1, 4)])
def test_band_search_single_voxels(shape):
    """One voxel each (same place, neighbours, opposite corners): band equals the other methods."""
    spacing = (0.9, 1.1, 2.0)
    far = tuple(s - 1 for s in shape)
    for ref_at, seg_at in (((0, 0, 0), (0, 0, 0)), ((0, 0, 0), far), (far, (0, 0, 0))):
        ref, seg = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
        ref[ref_at], seg[seg_at] = True, True
        band = SurfaceDistances(ref, seg, spacing)
        for method in ("kdtree", "edt"):
            other = SurfaceDistances(ref, seg, spacing, method=method)
            for mine, theirs in zip(band.directed, other.directed, strict=True):
                np.testing.assert_array_equal(mine, theirs)
        if ref_at == seg_at:
            assert band.hausdorff() == 0.0 and band.average() == 0.0
        if 1 not in shape:  # the brute force keeps length-1 axes; the metrics drop them
            d_ab, d_ba = _brute(ref, seg, spacing)
            np.testing.assert_allclose(np.sort(band.directed[0]), np.sort(d_ab), rtol=1e-12)
            assert band.hausdorff() == pytest.approx(max(d_ab.max(), d_ba.max()), rel=1e-12)


@pytest.mark.parametrize("cap", [1, 2, 4, 32, 256])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_line_distances_match_brute_force(cap, axis):
    from voxflow.evaluation.nearest import line_distances  # noqa: PLC0415

    rng = np.random.default_rng(cap + axis)
    shape = [5, 6, 7]
    shape[axis] = 300
    border = rng.random(shape) < 0.01
    got = line_distances(border, axis, cap)
    assert got.dtype == (np.uint8 if cap <= 128 else np.uint16)
    moved = np.moveaxis(border, axis, -1)
    expected = np.full(moved.shape, cap, dtype=np.int64)
    for index in np.ndindex(*moved.shape[:-1]):
        hits = np.flatnonzero(moved[index])
        if hits.size:
            nearest = np.abs(np.arange(moved.shape[-1])[:, None] - hits[None, :]).min(axis=1)
            expected[index] = np.minimum(nearest, cap)
    np.testing.assert_array_equal(np.moveaxis(got, axis, -1), expected)
    assert (expected < cap).any() and (expected == cap).any()


def test_neighbour_codes_match_kernel_sum():
    from voxflow.evaluation.surfel_table import KERNEL_2D, KERNEL_3D, neighbour_codes  # noqa: PLC0415

    rng = np.random.default_rng(3)
    for kernel, shape in ((KERNEL_2D, (5, 7)), (KERNEL_3D, (4, 6, 5))):
        mask = rng.random(shape) < 0.5
        padded = np.pad(mask, 1)
        expected = np.zeros(tuple(s + 1 for s in shape), dtype=np.int64)
        for offset in np.ndindex(*kernel.shape):
            window = tuple(slice(o, o + s + 1) for o, s in zip(offset, shape, strict=True))
            expected += padded[window] * int(kernel[offset])
        np.testing.assert_array_equal(neighbour_codes(mask), expected)


@pytest.mark.parametrize("spacing,radius", [((0.8, 0.8, 2.0), 31.0), ((0.3, 0.9), 7.0), ((1.0, 1.0, 1.0), 5.0),
                                            ((0.3, 0.3), 31.0), ((0.15, 0.4, 0.15), 31.0),
                                            ((0.7, 2.1, 1.4), 3.0)])
def test_column_table_holds_every_column_of_the_disk(spacing, radius):
    """Columns: exactly the offsets (0 on the finest axis) no longer than the band, sorted by length."""
    from voxflow.evaluation.nearest import column_table  # noqa: PLC0415

    axis, cap, columns, ranks, done, values = column_table(spacing, radius)
    scale = np.asarray(spacing)
    assert axis == int(np.argmin(scale)) and cap > radius and (columns[:, axis] == 0).all()
    extent = radius * scale[axis]
    reach = [int(extent / s) + 2 for s in spacing]
    grid = np.array(list(itertools.product(*(range(-m, m + 1) for m in reach))))
    inside = (grid[:, axis] == 0) & (np.sqrt(((grid * scale) ** 2).sum(axis=1)) <= extent)
    expected = {tuple(int(v) for v in offset) for offset in grid[inside]}
    assert {tuple(int(v) for v in c) for c in columns} == expected
    base = np.sqrt(((columns * scale) ** 2).sum(axis=1))
    assert (np.diff(base) >= 0).all()
    # rank of (g, column) orders the candidate lengths; g == cap is "no hit"
    g = np.arange(cap)
    lengths = np.sqrt((g[None, :] * scale[axis]) ** 2 + base[:, None] ** 2)
    np.testing.assert_allclose(values[ranks[:, :cap]], lengths, rtol=1e-12)
    assert (ranks[:, cap] == len(values)).all() and (np.diff(values) > 0).all()
    assert len(done) == len(columns) + 1 and values[done[-1]] <= extent
