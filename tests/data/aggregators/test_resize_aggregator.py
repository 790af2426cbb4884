"""Resizing to the window and back (resize sampler and ResizeAggregator)."""

from __future__ import annotations

import numpy as np
import pytest

from voxflow.data.aggregators import ResizeAggregator, resize_volume


def test_same_shape_is_the_identity():
    volume = np.random.default_rng(0).normal(size=(7, 6, 5, 2)).astype(np.float32)
    for order in (0, 1):
        np.testing.assert_array_equal(resize_volume(volume, (7, 6, 5), order), volume)
    aggregator = ResizeAggregator((7, 6, 5))
    aggregator.add(volume[None])
    np.testing.assert_array_equal(aggregator.result(), volume)


def test_nearest_round_trip_with_integer_factors_is_exact():
    labels = np.random.default_rng(1).integers(0, 5, size=(6, 4, 3, 1)).astype(np.float32)
    up = resize_volume(labels, (12, 12, 3), order=0)
    assert set(np.unique(up)) <= set(np.unique(labels))
    aggregator = ResizeAggregator((6, 4, 3), interp_order=0)
    aggregator.add(up)
    np.testing.assert_array_equal(aggregator.result(), labels)


def test_linear_preserves_constants_and_ramps_and_stays_in_range():
    x = np.arange(8, dtype=np.float32)
    ramp = np.broadcast_to(x[:, None, None, None], (8, 3, 2, 1))
    down = resize_volume(ramp, (4, 3, 1), order=1)
    np.testing.assert_allclose(down[:, 0, 0, 0], [0.5, 2.5, 4.5, 6.5])  # half-voxel centres
    volume = np.random.default_rng(2).random((5, 9, 4, 1)).astype(np.float32)
    resized = resize_volume(volume, (11, 3, 7), order=1)
    assert resized.shape == (11, 3, 7, 1) and resized.dtype == np.float32
    assert volume.min() <= resized.min() and resized.max() <= volume.max()
    np.testing.assert_allclose(resize_volume(np.full((5, 4, 3, 1), 2.5), (2, 9, 1)), 2.5)


def test_invalid_use_is_rejected():
    with pytest.raises(ValueError, match="order"):
        resize_volume(np.zeros((2, 2, 2, 1)), (3, 3, 3), order=3)
    aggregator = ResizeAggregator((4, 4, 4))
    with pytest.raises(ValueError, match="before add"):
        aggregator.result()
    with pytest.raises(ValueError, match="one window"):
        aggregator.add(np.zeros((2, 3, 3, 3, 1)))
