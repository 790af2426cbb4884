"""voxflow.data.refinement: a prior-weighted Gaussian mixture moves a network's tissue boundary to the one the
image's own intensities draw, inside the region only."""

import numpy as np
import pytest

from voxflow.data.refinement import refine_probabilities


def _case(shift=4):
    """Two tissues (intensity 60 and 100, noise 5) meeting at x = 20, and 'network' probabilities whose
    boundary sits ``shift`` voxels off (what a network trained on another contrast does)."""
    rng = np.random.default_rng(0)
    shape = (40, 8, 6)
    x = np.arange(shape[0])[:, None, None] * np.ones(shape)
    truth = np.where(x < 20, 1, 2)
    image = np.where(truth == 1, 60.0, 100.0) + rng.normal(0, 5, shape)
    soft = 1.0 / (1.0 + np.exp(-(x - 20 - shift) / 2.0))  # P(class 2)
    probabilities = np.stack([np.zeros(shape), 1.0 - soft, soft], axis=-1)
    return image, truth, probabilities


def test_refinement_moves_the_boundary_to_the_intensities():
    image, truth, probabilities = _case()
    region = np.ones(image.shape, bool)
    before = np.argmax(probabilities, axis=-1)
    after = np.argmax(refine_probabilities(probabilities, image, region, (1, 2), iterations=5), axis=-1)
    assert (before != truth).mean() > 0.08
    assert (after != truth).mean() < 0.01


def test_refinement_keeps_probabilities_outside_the_region_and_sums_to_one():
    image, _, probabilities = _case()
    probabilities[..., 0] = 0.2  # some background everywhere
    probabilities /= probabilities.sum(-1, keepdims=True)
    region = np.zeros(image.shape, bool)
    region[5:35] = True
    refined = refine_probabilities(probabilities, image, region, (1, 2), iterations=3)
    assert np.allclose(refined.sum(-1), 1.0, atol=1e-5)
    assert np.array_equal(refined[~region], probabilities[~region].astype(np.float32))
    assert np.all(refined[region][:, 0] == 0)  # inside a skull-stripped brain: no background
    zero = refine_probabilities(probabilities, image, region, (1, 2), iterations=0)
    assert np.array_equal(np.argmax(zero[region], -1), np.argmax(probabilities[region][:, 1:], -1) + 1)


def test_refinement_refuses_mismatched_inputs():
    image, _, probabilities = _case()
    with pytest.raises(ValueError, match="spatial shape"):
        refine_probabilities(probabilities, image[:-1], np.ones(image.shape, bool), (1, 2), 2)
    with pytest.raises(ValueError, match="two classes"):
        refine_probabilities(probabilities, image, np.ones(image.shape, bool), (1, 7), 2)
