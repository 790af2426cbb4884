"""Regression losses against NumPy references, and the properties each is chosen for."""

import numpy as np
import pytest
from scipy import ndimage

from voxflow.losses.regression import (
    LNCC_WINDOW,
    SSIM_K1,
    SSIM_K2,
    SSIM_SIGMA,
    SSIM_WINDOW,
    huber_loss,
    l1_loss,
    l2_loss,
    lncc_loss,
    rmse_loss,
    ssim_loss,
)

RNG = np.random.default_rng(0)
TARGET = RNG.normal(size=(2, 14, 13, 12, 1)).astype(np.float32)
PREDICTION = (TARGET + RNG.normal(scale=0.7, size=TARGET.shape)).astype(np.float32)
WEIGHT = RNG.uniform(0, 2, size=TARGET.shape).astype(np.float32)


@pytest.mark.parametrize("loss, reference", [
    (l1_loss, lambda r, w: (w * np.abs(r)).sum() / w.sum()),
    (l2_loss, lambda r, w: (w * r**2).sum() / w.sum()),
    (rmse_loss, lambda r, w: np.sqrt((w * r**2).sum() / w.sum())),
    (huber_loss, lambda r, w: (w * np.where(np.abs(r) <= 1, 0.5 * r**2, np.abs(r) - 0.5)).sum() / w.sum()),
])
def test_voxelwise_losses_equal_their_weighted_definition(loss, reference):
    residual = PREDICTION.astype(np.float64) - TARGET
    assert float(loss(TARGET, PREDICTION, WEIGHT)) == pytest.approx(reference(residual, WEIGHT), rel=1e-5)
    assert float(loss(TARGET, PREDICTION)) == pytest.approx(reference(residual, np.ones_like(WEIGHT)), rel=1e-5)
    assert float(loss(TARGET, TARGET, WEIGHT)) == pytest.approx(0.0, abs=1e-5)


def _filter(volume, kernel):
    out = volume
    for axis in range(volume.ndim):
        out = ndimage.correlate1d(out, kernel, axis=axis, mode="constant")
    half = (len(kernel) - 1) // 2
    return out[tuple(slice(half, -half) for _ in range(volume.ndim))]


def test_ssim_equals_wang_2004_with_a_gaussian_window():
    offsets = np.arange(SSIM_WINDOW) - (SSIM_WINDOW - 1) / 2
    kernel = np.exp(-(offsets**2) / (2 * SSIM_SIGMA**2))
    kernel /= kernel.sum()
    target = RNG.uniform(0, 3, size=(1, 16, 15, 14, 1))
    prediction = target + RNG.normal(scale=0.3, size=target.shape)
    t, p = target[0, ..., 0], prediction[0, ..., 0]
    c1, c2 = (SSIM_K1 * (t.max() - t.min())) ** 2, (SSIM_K2 * (t.max() - t.min())) ** 2
    mu_t, mu_p = _filter(t, kernel), _filter(p, kernel)
    var_t, var_p = _filter(t * t, kernel) - mu_t**2, _filter(p * p, kernel) - mu_p**2
    cov = _filter(t * p, kernel) - mu_t * mu_p
    ssim = ((2 * mu_t * mu_p + c1) * (2 * cov + c2)) / ((mu_t**2 + mu_p**2 + c1) * (var_t + var_p + c2))
    assert float(ssim_loss(target, prediction)) == pytest.approx(1 - ssim.mean(), rel=1e-4)
    assert float(ssim_loss(target, target)) == pytest.approx(0.0, abs=1e-5)


def test_lncc_ignores_local_contrast_and_brightness_but_not_structure():
    target = ndimage.gaussian_filter(RNG.normal(size=(18, 17, 16)), 2)[None, ..., None].astype(np.float32)
    assert float(lncc_loss(target, 3.0 * target + 5.0)) == pytest.approx(0.0, abs=1e-3)
    shuffled = RNG.permutation(target.ravel()).reshape(target.shape)
    assert float(lncc_loss(target, shuffled)) > 0.8
    assert LNCC_WINDOW == 9


@pytest.mark.parametrize("loss", [l1_loss, l2_loss, rmse_loss, huber_loss, ssim_loss, lncc_loss])
def test_zero_weight_voxels_do_not_count_and_2d_works(loss):
    weight = np.ones_like(TARGET)
    weight[:, :, :, 6:] = 0  # the second half of z is ignored
    changed = PREDICTION.copy()
    changed[:, :, :, 9:] += 50.0  # far from the weighted half, beyond any filter window's reach? only voxel losses
    value = float(loss(TARGET, PREDICTION, weight))
    if loss not in (ssim_loss, lncc_loss):  # window losses see neighbours of weighted voxels
        assert float(loss(TARGET, changed, weight)) == pytest.approx(value, rel=1e-6)
    assert np.isfinite(float(loss(TARGET[:, :, :, 0], PREDICTION[:, :, :, 0])))  # 2-D (B, X, Y, C)
