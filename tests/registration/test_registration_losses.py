"""Registration losses against NumPy references (voxflow.losses.registration)."""

import numpy as np
import pytest
from scipy import ndimage

from voxflow.losses import registration as reg


def _lncc_numpy(f, w, window):
    size = window ** f.ndim
    box = lambda x: ndimage.uniform_filter(x, window, mode="constant") * size  # noqa: E731 - zero-padded sums
    f_sum, w_sum = box(f), box(w)
    cross = box(f * w) - f_sum * w_sum / size
    f_var = box(f * f) - f_sum ** 2 / size
    w_var = box(w * w) - w_sum ** 2 / size
    return np.mean((cross ** 2 + 1e-5) / (f_var * w_var + 1e-5))


@pytest.mark.parametrize("shape", [(20, 18), (12, 10, 14)])
def test_lncc_matches_numpy(shape):
    rng = np.random.default_rng(0)
    f = rng.normal(size=shape)
    w = 0.5 * f + rng.normal(0, 0.5, size=shape)
    value = float(reg.lncc(f[None, ..., None].astype(np.float32), w[None, ..., None].astype(np.float32), 5))
    assert value == pytest.approx(_lncc_numpy(f, w, 5), rel=1e-4)
    # invariant to a gain of one image (sums are zero-padded, so an offset is not free at the edges)
    same = float(reg.lncc(f[None, ..., None].astype(np.float32), (3 * f)[None, ..., None].astype(np.float32), 5))
    assert same == pytest.approx(1.0, abs=1e-3)


def _mi_numpy(a, b, bins=23, ratio=0.5):
    a = (a - a.min()) / (a.max() - a.min())
    b = (b - b.min()) / (b.max() - b.min())
    centres = np.linspace(0, 1, bins)
    sigma = ratio / (bins - 1)
    wa = np.exp(-((a.ravel()[:, None] - centres) ** 2) / (2 * sigma ** 2))
    wa /= wa.sum(1, keepdims=True)
    wb = np.exp(-((b.ravel()[:, None] - centres) ** 2) / (2 * sigma ** 2))
    wb /= wb.sum(1, keepdims=True)
    joint = wa.T @ wb / a.size
    outer = wa.mean(0)[:, None] * wb.mean(0)[None, :]
    return np.sum(joint * np.log((joint + 1e-5) / (outer + 1e-5) + 1e-5))


def test_mutual_information_matches_numpy_and_prefers_the_aligned_pair():
    rng = np.random.default_rng(1)
    f = ndimage.gaussian_filter(rng.normal(size=(32, 32)), 2)
    remapped = np.cos(3 * f / f.std())  # another "modality": a non-monotonic function of f
    shifted = np.roll(remapped, 6, axis=0)
    value = float(reg.mutual_information(f[None, ..., None].astype(np.float32), remapped[None, ..., None].astype(np.float32)))
    assert value == pytest.approx(_mi_numpy(f, remapped), rel=1e-3)
    misaligned = float(reg.mutual_information(f[None, ..., None].astype(np.float32),
                                              shifted[None, ..., None].astype(np.float32)))
    assert value > misaligned + 0.1
    assert float(reg.gmi_loss(f[None, ..., None].astype(np.float32), remapped[None, ..., None].astype(np.float32))) == \
        pytest.approx(-value, rel=1e-6)


def test_ssd_is_the_mean_squared_difference():
    a, b = np.arange(8.0).reshape(1, 2, 4, 1), np.ones((1, 2, 4, 1))
    assert float(reg.ssd_loss(a, b)) == pytest.approx(np.mean((a - b) ** 2))


def _central(u, axis):
    ahead = [slice(1, -1)] * (u.ndim - 1) + [slice(None)]
    behind = list(ahead)
    ahead[axis], behind[axis] = slice(2, None), slice(None, -2)
    return (u[tuple(ahead)] - u[tuple(behind)]) / 2


@pytest.mark.parametrize("dims", [2, 3])
def test_bending_energy_and_gradient_norm_match_numpy(dims):
    rng = np.random.default_rng(2)
    u = rng.normal(size=(*([9] * dims), dims))
    first = [_central(u, a) for a in range(dims)]
    bending = sum((1 if a == b else 2) * _central(first[a], b) ** 2 for a in range(dims) for b in range(a, dims))
    assert float(reg.bending_energy(u[None].astype(np.float32))) == pytest.approx(np.mean(bending), rel=1e-4)
    assert float(reg.gradient_loss(u[None].astype(np.float32))) == pytest.approx(np.mean(sum(f ** 2 for f in first)),
                                                                                 rel=1e-4)
    assert float(reg.gradient_loss(u[None].astype(np.float32), l1=True)) == pytest.approx(
        np.mean(sum(np.abs(f) for f in first)), rel=1e-4)


def test_an_affine_field_has_no_bending_energy():
    grid = np.stack(np.meshgrid(np.arange(10.0), np.arange(12.0), np.arange(8.0), indexing="ij"), -1)
    field = grid @ np.array([[0.1, 0.02, 0], [0, -0.05, 0.03], [0.01, 0, 0.2]]).T + 1.5
    assert float(reg.bending_energy(field[None].astype(np.float32))) < 1e-8


def test_multiscale_dice_matches_scipy_smoothing():
    rng = np.random.default_rng(3)
    fixed = (ndimage.gaussian_filter(rng.normal(size=(24, 24)), 3) > 0).astype(np.float32)
    moved = np.roll(fixed, 2, axis=1)
    scales = (0.0, 1.0, 2.0)
    expected = []
    for sigma in scales:
        a, b = ((ndimage.gaussian_filter(x, sigma, mode="constant", truncate=3.0) if sigma else x) for x in (fixed, moved))
        expected.append((2 * np.sum(a * b) + 1e-5) / (a.sum() + b.sum() + 1e-5))
    value = float(reg.multiscale_dice_loss(fixed[None, ..., None], moved[None, ..., None], scales))
    assert value == pytest.approx(1 - np.mean(expected), rel=1e-4)
    assert float(reg.multiscale_dice_loss(fixed[None, ..., None], fixed[None, ..., None], (0.0,))) < 1e-6
