"""Continuous metrics with their conventions stated and settable: PSNR's data range, SSIM's window
and σ, and NCC."""

import math

import numpy as np
import pytest
from scipy import ndimage

from voxflow.evaluation.metrics import resolve_metrics

RNG = np.random.default_rng(3)
REF = ndimage.gaussian_filter(RNG.uniform(0, 100, (24, 22, 20)), 1.0)
PRED = REF + RNG.normal(0, 3, REF.shape)


def metric(name):
    (resolved,) = resolve_metrics([name])
    return resolved[1]


def test_psnr_states_its_data_range_and_takes_another():
    mse = np.mean((REF - PRED) ** 2)
    assert metric("psnr")(REF, PRED) == pytest.approx(10 * math.log10(REF.max() ** 2 / mse))
    assert metric("psnr@255")(REF, PRED) == pytest.approx(20 * math.log10(255) - 10 * math.log10(mse))


def test_ssim_windows_and_the_gaussian_convention():
    uniform7, uniform11 = metric("ssim")(REF, PRED), metric("ssim@11")(REF, PRED)
    assert uniform7 != uniform11 and 0 < uniform7 < 1 and 0 < uniform11 < 1
    gaussian = metric("ssim_gaussian")(REF, PRED)
    # Wang et al.'s Gaussian SSIM, written out (σ = 1.5, truncated at 3.5σ; means away from a 5-voxel border)
    g = lambda x: ndimage.gaussian_filter(x, 1.5, truncate=3.5)  # noqa: E731
    c1, c2 = (0.01 * REF.max()) ** 2, (0.03 * REF.max()) ** 2
    mx, my = g(REF), g(PRED)
    vx, vy, cov = g(REF * REF) - mx**2, g(PRED * PRED) - my**2, g(REF * PRED) - mx * my
    ssim = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    assert gaussian == pytest.approx(ssim[5:-5, 5:-5, 5:-5].mean(), rel=1e-9)
    assert metric("ssim_gaussian")(REF, REF) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="Unknown metric 'ssim@4'"):  # an SSIM window has a centre voxel
        resolve_metrics(["ssim@4"])


def test_ncc_is_pearsons_r():
    assert metric("ncc")(REF, 2.5 * REF - 7) == pytest.approx(1.0)
    assert metric("ncc")(REF, -REF) == pytest.approx(-1.0)
    assert metric("ncc")(REF, PRED) == pytest.approx(np.corrcoef(REF.ravel(), PRED.ravel())[0, 1])
    assert math.isnan(metric("ncc")(REF, np.ones_like(REF)))
