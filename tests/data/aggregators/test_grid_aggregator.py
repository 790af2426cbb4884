"""Stitching sliding-window outputs: coverage, exact identity round trips, blending."""

from __future__ import annotations

import numpy as np
import pytest

from voxflow.data.aggregators import GridAggregator, gaussian_importance
from voxflow.data.samplers import GridSampler

CASES = [
    # (volume shape, window, border)
    ((13, 11, 9), (5, 4, 3), 0),
    ((13, 11, 9), (5, 4, 3), 1),
    ((13, 11, 9), (7, 6, 5), (2, 1, 2)),
    ((13, 11, 9), (9, 8, 7), 3),  # windows larger than half the volume
    ((13, 11, 9), (13, 11, 9), 2),  # window == volume
    ((17, 15, 1), (6, 5, 1), 2),  # 2-D image, 2-D windows
    ((12, 10, 7), (5, 7, 1), (1, 2, 4)),  # 2-D windows through a 3-D volume
    ((11, 7, 5), (4, 3, 2), 9),  # border larger than the window: clipped
]


@pytest.mark.parametrize("blending", ["gaussian", "constant"])
@pytest.mark.parametrize("shape, window, border", CASES)
def test_identity_network_round_trip_is_exact(shape, window, border, blending):
    rng = np.random.default_rng(0)
    volume = rng.normal(size=(*shape, 2)).astype(np.float32) * 100
    sampler = GridSampler(shape, window, border)
    aggregator = GridAggregator(shape, 2, window, border, blending=blending, fill_constant=np.nan)
    for batch in sampler.dataset(volume).batch(3):
        aggregator.add(batch["image"].numpy(), batch["location"].numpy())
    result = aggregator.result()  # an uncovered voxel would be NaN
    assert result.dtype == np.float32 and result.shape == volume.shape
    np.testing.assert_array_equal(result, volume)


@pytest.mark.parametrize("shape, window, border", CASES)
def test_cropped_windows_cover_every_voxel(shape, window, border):
    aggregator = GridAggregator(shape, 1, window, border, blending="constant", fill_constant=0.0)
    locations = GridSampler(shape, window, border).locations
    aggregator.add(np.ones((len(locations), *window, 1), np.float32), locations)
    assert aggregator.result().min() == 1.0


def test_windows_in_any_order_within_a_batch_but_grid_order_across_batches():
    shape, window, border = (20, 9, 7), (6, 5, 4), 1
    rng = np.random.default_rng(1)
    volume = rng.normal(size=(*shape, 1)).astype(np.float32)
    locations = GridSampler(shape, window, border).locations
    windows = np.stack([volume[x:x + 6, y:y + 5, z:z + 4] for x, y, z in locations])
    shuffled = rng.permutation(len(locations))
    one_batch = GridAggregator(shape, 1, window, border)
    one_batch.add(windows[shuffled], locations[shuffled])  # sorted by x start inside add
    np.testing.assert_array_equal(one_batch.result(), volume)
    late = GridAggregator(shape, 1, window, border)
    last = locations[:, 0] == locations[:, 0].max()
    late.add(windows[last], locations[last])
    with pytest.raises(ValueError, match="grid order"):
        late.add(windows[~last], locations[~last])


def test_stitching_memory_does_not_grow_with_the_volume_length():
    small = GridAggregator((40, 16, 16), 3, (8, 8, 8), 2)
    long = GridAggregator((400, 16, 16), 3, (8, 8, 8), 2)
    accumulators = [a._sum.nbytes + a._weight.nbytes for a in (small, long)]
    assert accumulators[0] == accumulators[1] == 8 * 16 * 16 * 4 * 8
    # a long volume still stitches exactly, one slab at a time
    volume = np.random.default_rng(2).normal(size=(400, 16, 16, 3)).astype(np.float32)
    for batch in GridSampler(volume.shape, (8, 8, 8), 2).dataset(volume).batch(7):
        long.add(batch["image"].numpy(), batch["location"].numpy())
    np.testing.assert_array_equal(long.result(), volume)


def test_interior_sides_are_cropped_boundary_sides_kept():
    aggregator = GridAggregator((10, 1, 1), 1, (6, 1, 1), border=2, blending="constant", fill_constant=-1)
    aggregator.add(np.full((1, 6, 1, 1, 1), 5.0), [[0, 0, 0]])
    np.testing.assert_array_equal(aggregator.result()[:, 0, 0, 0], [5, 5, 5, 5, -1, -1, -1, -1, -1, -1])
    aggregator.add(np.full((1, 6, 1, 1, 1), 7.0), [[4, 0, 0]])
    # second window keeps 6..9 (its low side is interior, its high side is the boundary)
    np.testing.assert_array_equal(aggregator.result()[:, 0, 0, 0], [5, 5, 5, 5, -1, -1, 7, 7, 7, 7])


def test_constant_blending_averages_and_gaussian_favours_centres():
    shape, window = (8, 1, 1), (6, 1, 1)
    constant = GridAggregator(shape, 1, window, 0, blending="constant")
    gaussian = GridAggregator(shape, 1, window, 0, blending="gaussian")
    windows = np.stack([np.full((6, 1, 1, 1), 1.0), np.full((6, 1, 1, 1), 3.0)])
    for aggregator in (constant, gaussian):
        aggregator.add(windows, [[0, 0, 0], [2, 0, 0]])
    np.testing.assert_allclose(constant.result()[:, 0, 0, 0], [1, 1, 2, 2, 2, 2, 3, 3])
    blended = gaussian.result()[:, 0, 0, 0]
    # voxel 3 is nearer the first window's centre (2.5) than the second's (4.5): closer to 1
    assert 1 < blended[3] < 2 < blended[4] < 3
    np.testing.assert_allclose(blended[2] + blended[5], 4.0, rtol=1e-6)  # symmetric


def test_gaussian_importance_shape_peak_and_floor():
    weights = gaussian_importance((9, 8, 1), (0, 2, 0))
    assert weights.shape == (9, 8, 1) and weights.max() == pytest.approx(1.0)
    assert weights.min() >= 1e-3
    np.testing.assert_allclose(weights, weights[::-1, ::-1])  # symmetric about the centre
    assert weights[4, 3, 0] == weights.max()


def test_uncovered_voxels_get_fill_constant_and_squeezed_2d_windows_are_accepted():
    aggregator = GridAggregator((6, 6, 1), 2, (3, 3, 1), 0, fill_constant=-5.0)
    aggregator.add(np.ones((1, 3, 3, 2), np.float32), np.array([[0, 0, 0]]))  # (B, wx, wy, C)
    result = aggregator.result()
    assert np.all(result[:3, :3] == 1.0) and np.all(result[3:] == -5.0)


def test_invalid_input_is_rejected():
    with pytest.raises(ValueError, match="blending"):
        GridAggregator((6, 6, 6), 1, (3, 3, 3), 0, blending="mean")
    aggregator = GridAggregator((6, 6, 6), 1, (3, 3, 3), 0)
    with pytest.raises(ValueError, match="outside the volume"):
        aggregator.add(np.ones((1, 3, 3, 3, 1)), [[4, 0, 0]])
    with pytest.raises(ValueError, match="Expected windows of shape"):
        aggregator.add(np.ones((1, 3, 3, 3, 2)), [[0, 0, 0]])
