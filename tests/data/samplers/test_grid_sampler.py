"""Grid (sliding-window) sampling for inference."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from voxflow.data.samplers import GridSampler, grid_locations


def test_axis_starts_follow_the_step_and_end_flush():
    # step = 8 - 2*2 = 4: 0, 4, 8, 12 fit in 21 (12 + 8 = 20), plus 21 - 8 = 13.
    locations = grid_locations((21, 8, 1), (8, 8, 1), 2)
    np.testing.assert_array_equal(locations[:, 0], [0, 4, 8, 12, 13])
    np.testing.assert_array_equal(locations[:, 1:], 0)


def test_border_too_large_gives_step_one_and_per_axis_borders():
    locations = grid_locations((6, 7, 5), (3, 7, 5), (9, 0, 2))
    # border clipped to (3 - 1) // 2 = 1: step 3 - 2 = 1
    np.testing.assert_array_equal(np.unique(locations[:, 0]), [0, 1, 2, 3])
    np.testing.assert_array_equal(grid_locations((6, 7, 5), (4, 7, 5), 9)[:, 0], [0, 2])  # step 2
    np.testing.assert_array_equal(np.unique(locations[:, 1]), [0])
    np.testing.assert_array_equal(np.unique(locations[:, 2]), [0])


def test_locations_are_a_meshgrid_of_the_axes():
    locations = grid_locations((10, 9, 6), (4, 3, 6), (1, 0, 0))
    xs, ys = [0, 2, 4, 6], [0, 3, 6]
    assert len(locations) == len(xs) * len(ys)
    assert {tuple(loc) for loc in locations} == {(x, y, 0) for x in xs for y in ys}


def test_window_larger_than_volume_is_rejected():
    with pytest.raises(ValueError, match="must fit"):
        grid_locations((10, 10, 10), (12, 4, 4), 0)


@pytest.mark.parametrize("window", [(4, 3, 5), (5, 5, 1)])
def test_dataset_yields_every_window_once_with_volume_content(window):
    rng = np.random.default_rng(0)
    volume = rng.normal(size=(9, 7, 6, 3)).astype(np.float32)
    sampler = GridSampler(volume.shape, window, border=1)
    ds = sampler.dataset(volume)
    elements = list(ds.as_numpy_iterator())
    assert len(elements) == len(sampler) == len(sampler.locations)
    assert ds.element_spec["location"].dtype == tf.int32
    for element, start in zip(elements, sampler.locations):
        np.testing.assert_array_equal(element["location"], start)
        x, y, z = start
        expected = volume[x : x + window[0], y : y + window[1], z : z + window[2]]
        np.testing.assert_array_equal(element["image"], expected)


def test_dataset_rejects_a_volume_of_another_shape():
    sampler = GridSampler((9, 7, 6), (4, 4, 4), 0)
    with pytest.raises(ValueError, match="spatial shape"):
        sampler.dataset(np.zeros((9, 7, 5, 1), np.float32))
