"""voxflow.data.refinement: a prior-weighted Gaussian mixture moves a network's tissue boundary to the one the
image's own intensities draw, inside the region only."""

import numpy as np
import pytest

from voxflow.data.refinement import bias_corrected, refine_probabilities


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


def _hint(truth):
    """Probabilities leaning 0.6 towards the true class: they start EM off the symmetric point; with
    ``prior_weight = 0`` the fit itself is on the intensities alone."""
    hint = np.stack([np.zeros(truth.shape), np.where(truth == 1, 0.6, 0.4), np.where(truth == 2, 0.6, 0.4)], -1)
    return hint


def test_tied_variances_put_the_boundary_between_the_class_means():
    """A wide class (sd 12) next to a tight one (sd 3): per-class variances hand the tight class's tail to the
    wide class; one pooled variance splits near the midpoint of the means, as k-means does."""
    rng = np.random.default_rng(1)
    shape = (60, 10, 10)
    truth = np.where(np.arange(shape[0])[:, None, None] * np.ones(shape) < 30, 1, 2)
    image = np.where(truth == 1, rng.normal(60, 12, shape), rng.normal(100, 3, shape))
    hint = _hint(truth)
    region = np.ones(shape, bool)
    moderate = (image > 82) & (image < 90)  # nearer the tight class's mean (100) than the wide class's (60)
    per_class = np.argmax(refine_probabilities(hint, image, region, (1, 2), 30, 0.0, variances="class"), -1)
    tied = np.argmax(refine_probabilities(hint, image, region, (1, 2), 30, 0.0, variances="tied"), -1)
    assert moderate.sum() > 20
    assert (per_class[moderate] == 1).mean() > 0.9  # the wide class's Gaussian wins its tail
    assert (tied[moderate] == 2).mean() > 0.9
    with pytest.raises(ValueError, match="variances"):
        refine_probabilities(hint, image, region, (1, 2), 2, variances="pooled")


def _biased_case():
    """Two tissues (60, 100) in stripes along y, multiplied by a field that rises 1.6-fold along x: without
    correction the bright end's dark tissue is as bright as the dark end's bright tissue."""
    rng = np.random.default_rng(2)
    shape = (48, 32, 16)
    truth = np.where((np.arange(shape[1]) // 4) % 2 == 0, 1, 2)[None, :, None] * np.ones(shape, int)
    field = np.linspace(0.75, 1.25, shape[0])[:, None, None]
    image = np.where(truth == 1, 60.0, 100.0) * field + rng.normal(0, 2, shape)
    return image, truth, field


def test_bias_correction_removes_a_smooth_field_and_lets_refinement_separate_the_tissues():
    image, truth, _ = _biased_case()
    region = np.ones(image.shape, bool)
    corrected = bias_corrected(image, region, (2.0, 2.0, 2.0), grid_mm=4.0)
    assert corrected.shape == image.shape and corrected.dtype == np.float32

    def spread(values):  # the relative spread of each tissue's intensities, averaged over the two
        return np.mean([values[truth == k].std() / values[truth == k].mean() for k in (1, 2)])

    assert spread(image) > 0.12 and spread(corrected) < 0.6 * spread(image)
    hint = _hint(truth)
    raw = np.argmax(refine_probabilities(hint, image, region, (1, 2), 10, 0.0), -1)
    fixed = np.argmax(refine_probabilities(hint, corrected, region, (1, 2), 10, 0.0), -1)
    assert (raw != truth).mean() > 0.05
    assert (fixed != truth).mean() < 0.3 * (raw != truth).mean()


def test_bias_correction_leaves_too_small_regions_alone_and_refuses_bad_shapes():
    image, _, _ = _biased_case()
    region = np.zeros(image.shape, bool)
    region[:3, :3, :3] = True
    assert np.array_equal(bias_corrected(image, region, (1, 1, 1)), image.astype(np.float32))
    whole = np.ones(image.shape, bool)
    zscored = (image - image.mean()) / image.std()  # half of it negative: N4 has no multiplicative field to fit
    assert np.array_equal(bias_corrected(zscored, whole, (1, 1, 1)), zscored.astype(np.float32))
    slab = image[:, :, :5]  # thinner than 8 voxels: no 3-D field to fit
    assert np.array_equal(bias_corrected(slab, np.ones(slab.shape, bool), (1, 1, 1)), slab.astype(np.float32))
    with pytest.raises(ValueError, match="3-D image"):
        bias_corrected(image[..., 0], region[..., 0], (1, 1, 1))
