"""Surface-distance metrics: hand-computed values, empty masks, and an all-pairs brute force."""

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
)

DISTANCES = (hausdorff, hausdorff95, average_surface_distance)


def _box(shape, *slices):
    mask = np.zeros(shape, dtype=bool)
    mask[tuple(slices)] = True
    return mask


def test_separated_cubes_anisotropic():
    """2x2x2 cubes 3 voxels apart along z at 2.5 mm: every voxel is surface."""
    ref = _box((6, 6, 9), slice(2, 4), slice(2, 4), slice(2, 4))
    seg = _box((6, 6, 9), slice(2, 4), slice(2, 4), slice(5, 7))
    spacing = (1.0, 1.0, 2.5)
    # ref voxels at z=2 are 3 slices (7.5 mm) from seg's z=5 face, those at z=3 are 5.0 mm away.
    assert hausdorff(ref, seg, spacing) == pytest.approx(7.5)
    assert hausdorff95(ref, seg, spacing) == pytest.approx(7.5)
    assert average_surface_distance(ref, seg, spacing) == pytest.approx(6.25)


def test_extended_cube_anisotropic():
    """seg extends ref by 2 slices along z at 3 mm: its top face is 6 mm from ref's top face."""
    ref = _box((8, 8, 10), slice(2, 6), slice(2, 6), slice(2, 6))
    seg = _box((8, 8, 10), slice(2, 6), slice(2, 6), slice(2, 8))
    assert hausdorff(ref, seg, (1.0, 1.0, 3.0)) == pytest.approx(6.0)
    assert hausdorff(ref, seg, (3.0, 3.0, 0.5)) == pytest.approx(1.0)
    # ref → seg: every ref surface voxel is on seg's surface or 1 voxel (1 mm) from its sides.
    directed_ref, directed_seg = SurfaceDistances(ref, seg, (1.0, 1.0, 3.0)).directed
    assert directed_ref.max() == pytest.approx(1.0)
    assert directed_seg.max() == pytest.approx(6.0)


def test_single_voxels():
    ref = _box((4, 4, 5), 1, 1, 1)
    seg = _box((4, 4, 5), 1, 1, 3)
    for metric in DISTANCES:
        assert metric(ref, seg, (1.0, 1.0, 2.0)) == pytest.approx(4.0)
        assert metric(ref, ref, (1.0, 1.0, 2.0)) == 0.0


def test_identical_masks_have_zero_distance():
    ref = _box((7, 7, 7), slice(1, 5), slice(2, 6), slice(0, 7))
    for metric in DISTANCES:
        assert metric(ref, ref.copy(), (0.7, 1.1, 2.0)) == 0.0


@pytest.mark.parametrize("metric", DISTANCES)
def test_empty_masks(metric):
    empty = np.zeros((5, 5, 5), dtype=bool)
    full = _box((5, 5, 5), slice(1, 3), slice(1, 3), slice(1, 3))
    assert metric(empty, empty) == 0.0
    assert metric(empty, full) == math.inf
    assert metric(full, empty) == math.inf


def test_2d_and_singleton_axis():
    ref = _box((10, 10), slice(2, 6), slice(2, 6))
    seg = _box((10, 10), slice(2, 6), slice(2, 9))
    assert hausdorff(ref, seg, (1.0, 0.5)) == pytest.approx(1.5)
    # a 2-D image stored as (X, Y, 1): same contours, the singleton axis is dropped
    for metric in DISTANCES:
        flat = metric(ref, seg, (1.0, 0.5))
        assert metric(ref[..., None], seg[..., None], (1.0, 0.5, 3.0)) == pytest.approx(flat)


def test_object_touching_image_edge_has_a_surface():
    full = np.ones((5, 5), dtype=bool)
    surface = mask_surface(full)
    assert surface.sum() == 16 and not surface[1:4, 1:4].any()
    # 4-connectivity: a diagonal background neighbour does not make a voxel surface
    plus = np.zeros((5, 5), dtype=bool)
    plus[1:4, 1:4] = True
    assert mask_surface(plus).sum() == 8


# ------------------------------------------------------------- brute force (test-only, all pairs)
def _brute_surface(mask):
    padded = np.pad(mask, 1)
    surface = np.zeros_like(mask)
    for index in zip(*np.nonzero(mask)):
        centre = tuple(i + 1 for i in index)
        for axis, step in itertools.product(range(mask.ndim), (-1, 1)):
            neighbour = list(centre)
            neighbour[axis] += step
            if not padded[tuple(neighbour)]:
                surface[index] = True
    return surface


def _brute_directed(a, b, spacing):
    pa = np.argwhere(_brute_surface(a)) * np.asarray(spacing)
    pb = np.argwhere(_brute_surface(b)) * np.asarray(spacing)
    return np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1)).min(axis=1)


@pytest.mark.parametrize("shape,spacing", [((9, 8), (0.8, 1.7)), ((7, 6, 5), (1.0, 0.6, 2.2))])
def test_matches_brute_force(shape, spacing):
    rng = np.random.default_rng(len(shape))
    for _ in range(3):
        ref = rng.random(shape) < 0.3
        seg = rng.random(shape) < 0.3
        d_ab, d_ba = _brute_directed(ref, seg, spacing), _brute_directed(seg, ref, spacing)
        assert hausdorff(ref, seg, spacing) == pytest.approx(max(d_ab.max(), d_ba.max()))
        expected95 = max(np.percentile(d_ab, 95), np.percentile(d_ba, 95))
        assert hausdorff95(ref, seg, spacing) == pytest.approx(expected95)
        expected_mean = np.concatenate([d_ab, d_ba]).mean()
        assert average_surface_distance(ref, seg, spacing) == pytest.approx(expected_mean)
        for metric in DISTANCES:  # symmetric
            assert metric(ref, seg, spacing) == pytest.approx(metric(seg, ref, spacing))


def test_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        hausdorff(np.ones((3, 3)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="spacing"):
        hausdorff(np.ones((3, 3)), np.ones((3, 3)), (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="spacing"):
        hausdorff(np.ones((3, 3)), np.ones((3, 3)), (1.0, 0.0))
