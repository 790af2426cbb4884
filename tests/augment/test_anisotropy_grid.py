"""RandomAnisotropy's thick slices lie on TorchIO's coarse grid (checked without torchio).

TorchIO 1.2.1's ``RandomAnisotropy`` resamples the axis to spacing ``f`` by nearest neighbour
(``Resample.get_reference_image``: ``n = floor(N / f)`` slices centred in the field of view, the
first at voxel ``o = ((N - 1) - (n - 1) f) / 2``; ITK rounds a continuous index halfway between two
voxels up), then linearly back. The reference below does the same with NumPy; beyond the outer
slices it repeats them (``np.interp``), where TorchIO writes 0.
"""

import math

import numpy as np
import pytest
import tensorflow as tf

from voxflow.augment.anisotropy import RandomAnisotropy, resampling_operator


def _picks(size: int, factor: float) -> np.ndarray:
    """The voxels TorchIO's thick slices take: ``floor(o + k f + 1/2)``."""
    count = max(1, math.floor(size / factor))
    offset = ((size - 1) - (count - 1) * factor) / 2
    return np.floor(offset + np.arange(count) * factor + 0.5).astype(int)


def _reference(line: np.ndarray, factor: float) -> np.ndarray:
    """One line along the axis: thick slices by nearest neighbour, then linear back, edges repeated."""
    size = len(line)
    picks = _picks(size, factor)
    offset = ((size - 1) - (len(picks) - 1) * factor) / 2
    return np.interp((np.arange(size) - offset) / factor, np.arange(len(picks)), line[picks])


def _apply(image: np.ndarray, axis: int, factor: float, **kwargs) -> np.ndarray:
    params = {"axis": tf.constant([axis], tf.int32), "factor": tf.constant([factor], tf.float32)}
    return np.asarray(RandomAnisotropy(**kwargs).apply_image(tf.constant(image[None, ..., None]), params))[0, ..., 0]


@pytest.mark.parametrize(("size", "factor", "picks"), [
    (24, 3.0, [1, 4, 7, 10, 13, 16, 19, 22]),  # o = 1
    (24, 2.5, [2, 4, 7, 9, 12, 14, 17, 19, 22]),  # o = 1.5: halves round up
    (24, 2.0, list(range(1, 24, 2))),  # o = 0.5: halves round up
    (23, 2.0, list(range(1, 22, 2))),  # o = 1
    (7, 1.5, [1, 2, 4, 5]),  # o = 0.75: 0.75, 2.25, 3.75, 5.25
    (12, 5.0, [3, 8]),  # o = 3
    (3, 4.5, [1]),  # fewer voxels than one slice: one slice at the centre (TorchIO would make none)
])
def test_thick_slices_are_torchios_centred_nearest_picks(size, factor, picks):
    operator = np.asarray(resampling_operator(size, tf.constant([factor])))[0]
    assert np.array_equal(np.flatnonzero(np.abs(operator).sum(axis=0)), _picks(size, factor))
    assert np.array_equal(_picks(size, factor), picks)
    assert np.allclose(operator.sum(axis=1), 1.0)


@pytest.mark.parametrize("factor", [2.0, 3.0, 2.5, 1.5, 2.3, 4.75])
@pytest.mark.parametrize("shape", [(24, 17, 12), (9, 20, 13)], ids=["even-odd-even", "odd-even-odd"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_anisotropy_equals_numpy_reference(axis, shape, factor):
    image = (0.2 + np.random.default_rng(axis).random(shape)).astype(np.float32)
    expected = np.apply_along_axis(_reference, axis, image.astype(np.float64), factor)
    out = _apply(image, axis, factor)
    assert np.abs(out - expected).max() < 1e-5
    assert np.abs(out - image).max() > 0.1


def test_edges_repeat_the_outer_slices():
    """N = 24, f = 2.5: slices at 1.5 (voxel 2) ... 21.5 (voxel 22); voxels 0-1 and 22-23 lie beyond
    them and repeat them (TorchIO: 0 on voxels 0 and 23, more than half a slice out)."""
    image = (0.2 + np.random.default_rng(3).random((24, 5, 4))).astype(np.float32)
    out = _apply(image, 0, 2.5)
    for voxel, source in [(0, 2), (1, 2), (22, 22), (23, 22)]:
        assert np.array_equal(out[voxel], image[source])
    assert np.allclose(out[3], 0.4 * image[2] + 0.6 * image[4], atol=1e-6)  # place 0.6, between slices 0 and 1


def test_two_dimensional_windows_use_the_grid_on_their_axes():
    layer = RandomAnisotropy(downsampling=(2.0, 3.5))
    image = (0.2 + np.random.default_rng(4).random((6, 18, 15, 1, 1))).astype(np.float32)
    params = layer.sample({"image": image})
    assert set(np.asarray(params["axis"]).tolist()) <= {0, 1}
    out = np.asarray(layer.apply_image(image, params))
    for b in range(len(image)):
        axis, factor = int(params["axis"][b]), float(params["factor"][b])
        expected = np.apply_along_axis(_reference, axis, image[b, ..., 0].astype(np.float64), factor)
        assert np.abs(out[b, ..., 0] - expected).max() < 1e-5
