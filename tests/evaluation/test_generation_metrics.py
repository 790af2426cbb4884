"""Generation metrics against closed forms and direct computations: Fréchet distance, improved precision
and recall, unbiased MMD, pairwise SSIM."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, spatial

from voxflow.evaluation.continuous import structural_similarity
from voxflow.evaluation.generation import frechet_distance, mean_pairwise_ssim, mmd, precision_recall


def _covariance_root_trace(sigma_a: np.ndarray, sigma_b: np.ndarray) -> float:
    """``Tr((Σa Σb)^½)`` as ``Tr((Σa^½ Σb Σa^½)^½)``: symmetric, by eigendecomposition (no sqrtm)."""
    values, vectors = np.linalg.eigh(sigma_a)
    root_a = vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T
    return float(np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ sigma_b @ root_a), 0, None)).sum())


# ----------------------------------------------------------------------------- Fréchet distance
def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(300, 6))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_1d_gaussians_has_the_closed_form():
    rng = np.random.default_rng(1)
    a, b = rng.normal(1.0, 2.0, (400, 1)), rng.normal(-2.0, 0.5, (300, 1))
    mu_a, mu_b, sd_a, sd_b = a.mean(), b.mean(), a.std(ddof=1), b.std(ddof=1)
    assert frechet_distance(a, b) == pytest.approx((mu_a - mu_b) ** 2 + (sd_a - sd_b) ** 2, rel=1e-9)


def test_frechet_distance_matches_a_direct_computation_and_is_symmetric():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(500, 5)) @ rng.normal(size=(5, 5)) + rng.normal(size=5)
    b = rng.normal(size=(400, 5)) @ rng.normal(size=(5, 5))
    sigma_a, sigma_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = (np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(sigma_a) + np.trace(sigma_b)
                - 2 * _covariance_root_trace(sigma_a, sigma_b))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-7)
    assert frechet_distance(b, a) == pytest.approx(frechet_distance(a, b), rel=1e-9)


def test_frechet_distance_stays_finite_for_singular_covariances():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(10, 32)), rng.normal(size=(12, 32))  # fewer samples than features
    a[:, 0] = b[:, 0] = 1.0  # and a constant feature
    value = frechet_distance(a, b)
    sigma_a, sigma_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = (np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(sigma_a) + np.trace(sigma_b)
                - 2 * _covariance_root_trace(sigma_a, sigma_b))
    assert np.isfinite(value) and value == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize(("a", "b", "match"), [
    (np.zeros(5), np.zeros((5, 1)), "shape"),
    (np.zeros((1, 3)), np.zeros((5, 3)), "at least 2"),
    (np.zeros((5, 3)), np.zeros((5, 4)), "same number of features"),
    (np.full((5, 3), np.nan), np.zeros((5, 3)), "finite"),
])
def test_frechet_distance_rejects_bad_input_in_one_line(a, b, match):
    with pytest.raises(ValueError, match=match) as error:
        frechet_distance(a, b)
    assert "\n" not in str(error.value)


# ----------------------------------------------------------------------------- precision and recall
def _reference_precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """The definition, one sample at a time, with a k-d tree for the radii."""
    def radii(x):
        return spatial.cKDTree(x).query(x, k=k + 1)[0][:, k]

    def inside(points, centres, r):
        return np.mean([np.any(np.linalg.norm(centres - p, axis=1) <= r) for p in points])

    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


def test_precision_recall_match_the_definition():
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(150, 3)), rng.normal(0.7, 1.3, (120, 3))
    assert precision_recall(real, fake, k=3) == pytest.approx(_reference_precision_recall(real, fake, 3))
    assert precision_recall(real, fake, k=5) == pytest.approx(_reference_precision_recall(real, fake, 5))
    assert precision_recall(fake, real) == pytest.approx(precision_recall(real, fake)[::-1])


def test_precision_recall_of_identical_and_of_far_apart_sets():
    real = np.random.default_rng(5).normal(size=(200, 8))
    assert precision_recall(real, real) == (1.0, 1.0)
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)


def test_a_fake_set_covering_half_the_modes_has_full_precision_and_half_recall():
    rng = np.random.default_rng(6)
    centres = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 30.0], [30.0, 30.0]])
    real = np.concatenate([c + rng.normal(size=(300, 2)) for c in centres])
    fake = np.concatenate([c + rng.normal(size=(600, 2)) for c in centres[:2]])  # two modes dropped
    precision, recall = precision_recall(real, fake)
    assert precision > 0.95
    assert recall == pytest.approx(0.5, abs=0.03)


def test_precision_recall_reject_too_few_samples_and_a_bad_k():
    with pytest.raises(ValueError, match="at least 4 samples"):
        precision_recall(np.zeros((3, 2)), np.zeros((10, 2)), k=3)
    with pytest.raises(ValueError, match="`k`"):
        precision_recall(np.zeros((10, 2)), np.zeros((10, 2)), k=0)


# ----------------------------------------------------------------------------- MMD
def _direct_mmd(a: np.ndarray, b: np.ndarray, kernel) -> float:
    """Gretton et al.'s unbiased estimate from full kernel matrices."""
    m, n = len(a), len(b)
    k_aa, k_bb, k_ab = kernel(a, a), kernel(b, b), kernel(a, b)
    return ((k_aa.sum() - np.trace(k_aa)) / (m * (m - 1)) + (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
            - 2 * k_ab.mean())


def test_linear_mmd_is_the_mean_difference_less_the_bias_terms():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(60, 4)), rng.normal(0.5, 2.0, (45, 4))
    value = mmd(a, b, "linear")
    assert value == pytest.approx(_direct_mmd(a, b, lambda x, y: x @ y.T), rel=1e-10)
    trace_a, trace_b = np.trace(np.cov(a, rowvar=False)), np.trace(np.cov(b, rowvar=False))
    assert value == pytest.approx(np.sum((a.mean(0) - b.mean(0)) ** 2) - trace_a / 60 - trace_b / 45, rel=1e-10)


def test_gaussian_mmd_matches_the_kernel_matrices_and_uses_the_median_width():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(50, 3)), rng.normal(0.3, 1.0, (70, 3))

    def gaussian(sigma):
        return lambda x, y: np.exp(-spatial.distance.cdist(x, y, "sqeuclidean") / (2 * sigma**2))

    assert mmd(a, b, "gaussian", sigma=1.7) == pytest.approx(_direct_mmd(a, b, gaussian(1.7)), rel=1e-9)
    pooled = np.concatenate([a, b])
    median = np.median(spatial.distance.pdist(pooled))
    assert mmd(a, b, "gaussian") == pytest.approx(_direct_mmd(a, b, gaussian(median)), rel=1e-9)


@pytest.mark.parametrize("kernel", ["linear", "gaussian"])
def test_mmd_is_near_zero_for_one_distribution_and_grows_with_a_shift(kernel):
    rng = np.random.default_rng(9)
    a = rng.normal(size=(400, 5))
    values = [mmd(a, rng.normal(size=(400, 5)) + shift, kernel) for shift in (0.0, 0.5, 1.0, 2.0)]
    assert abs(values[0]) < 0.01
    assert values[0] < values[1] < values[2] < values[3]


def test_mmd_rejects_an_unknown_kernel_and_a_bad_width():
    a = np.zeros((5, 2))
    with pytest.raises(ValueError, match="Expected one of: linear, gaussian. Received: 'rbf'"):
        mmd(a, a, "rbf")
    with pytest.raises(ValueError, match="sigma"):
        mmd(a, a, "gaussian", sigma=0.0)


# ----------------------------------------------------------------------------- pairwise SSIM
def _images(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([ndimage.gaussian_filter(rng.uniform(0, 1, (32, 32)), 1.5) for _ in range(count)])


def test_pairwise_ssim_of_identical_images_is_one():
    same = np.repeat(_images(1, 10), 6, axis=0)
    assert mean_pairwise_ssim(same, pairs=20) == pytest.approx(1.0)
    assert mean_pairwise_ssim(same[..., None], pairs=None) == pytest.approx(1.0)  # (N, H, W, 1)


def test_pairwise_ssim_is_lower_for_diverse_images_and_uses_voxflows_ssim():
    images = _images(3, 11)
    brighter_first = [sorted((images[i], images[j]), key=np.max, reverse=True) for i, j in ((0, 1), (0, 2), (1, 2))]
    manual = np.mean([structural_similarity(x, y) for x, y in brighter_first])
    assert mean_pairwise_ssim(images, pairs=None) == pytest.approx(manual)
    assert mean_pairwise_ssim(images, pairs=50) < 0.5
    assert mean_pairwise_ssim(images, pairs=50, rng=1) == mean_pairwise_ssim(images, pairs=50, rng=1)


def test_pairwise_ssim_is_symmetric_and_takes_the_brighter_image_as_reference():
    image = _images(1, 12)[0]
    dim = 0.5 * image + 0.1 * _images(1, 13)[0]
    images = np.stack([dim, image, np.zeros_like(image), np.zeros_like(image)])
    expected = [structural_similarity(image, dim), structural_similarity(dim, np.zeros_like(dim)),
                structural_similarity(image, np.zeros_like(image)), 1.0]  # two blank images are equal
    assert mean_pairwise_ssim(images[:2], pairs=None) == pytest.approx(expected[0])
    assert mean_pairwise_ssim(images[1::-1], pairs=None) == pytest.approx(expected[0])
    assert mean_pairwise_ssim(images, pairs=None) == pytest.approx(
        (expected[0] + 2 * expected[1] + 2 * expected[2] + expected[3]) / 6)


@pytest.mark.parametrize(("images", "pairs", "match"), [
    (np.zeros((4, 8, 8, 8)), 5, "shape"),
    (np.zeros((1, 8, 8)), 5, "at least 2"),
    (np.zeros((4, 8, 8)), 0, "pairs"),
])
def test_pairwise_ssim_rejects_bad_input(images, pairs, match):
    with pytest.raises(ValueError, match=match):
        mean_pairwise_ssim(images, pairs=pairs)
