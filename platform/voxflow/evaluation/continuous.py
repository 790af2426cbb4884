"""Continuous (regression / reconstruction) metrics on intensity images: R², MAE, MSE, RMSE,
NRMSE, PSNR, SSIM (2-D and 3-D). ``metric(ref, pred, spacing=None) -> float``; spacing is ignored.

Marked ``continuous = True``: evaluators compute them once per subject on the whole images (not
per label). PSNR and SSIM use the reference's maximum as data range, as pymia.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import ndimage


def _continuous(function: Callable[..., float]) -> Callable[..., float]:
    def metric(ref: np.ndarray, pred: np.ndarray, spacing: Any = None, **params: Any) -> float:
        ref = np.asarray(ref, dtype=np.float64)
        pred = np.asarray(pred, dtype=np.float64)
        if ref.shape != pred.shape:
            raise ValueError(f"Expected images of the same shape. Received {ref.shape} and {pred.shape}.")
        return float(function(ref, pred, **params))

    metric.__name__, metric.__doc__ = function.__name__, function.__doc__
    metric.continuous = True  # type: ignore[attr-defined]
    return metric


@_continuous
def mean_absolute_error(ref: np.ndarray, pred: np.ndarray) -> float:
    """Mean of ``|ref − pred|``."""
    return np.mean(np.abs(ref - pred))


@_continuous
def mean_squared_error(ref: np.ndarray, pred: np.ndarray) -> float:
    """Mean of ``(ref − pred)²``."""
    return np.mean(np.square(ref - pred))


@_continuous
def root_mean_squared_error(ref: np.ndarray, pred: np.ndarray) -> float:
    """Square root of the MSE."""
    return math.sqrt(np.mean(np.square(ref - pred)))


@_continuous
def normalized_root_mean_squared_error(ref: np.ndarray, pred: np.ndarray) -> float:
    """RMSE / (max(ref) − min(ref)); NaN for a constant reference."""
    span = ref.max() - ref.min()
    rmse = math.sqrt(np.mean(np.square(ref - pred)))
    return rmse / span if span else math.nan


@_continuous
def coefficient_of_determination(ref: np.ndarray, pred: np.ndarray) -> float:
    """R² = 1 − Σ(ref − pred)² / Σ(ref − mean ref)²; NaN for a constant reference."""
    total = np.square(ref - ref.mean()).sum()
    return 1.0 - np.square(ref - pred).sum() / total if total else math.nan


@_continuous
def peak_signal_to_noise_ratio(ref: np.ndarray, pred: np.ndarray, data_range: float | None = None) -> float:
    """``10 log10(L² / MSE)`` in dB, ``L`` = ``data_range`` (default: max(ref), as pymia; ``psnr@255``
    sets it); ``inf`` for identical images."""
    mse = np.mean(np.square(ref - pred))
    peak = ref.max() if data_range is None else float(data_range)
    return 10.0 * math.log10(peak**2 / mse) if mse else math.inf


@_continuous
def normalized_cross_correlation(ref: np.ndarray, pred: np.ndarray) -> float:
    """Pearson's r between the two images' voxels (background included); NaN for a constant image."""
    ref, pred = ref - ref.mean(), pred - pred.mean()
    norm = math.sqrt(float(np.sum(ref * ref)) * float(np.sum(pred * pred)))
    return float(np.sum(ref * pred)) / norm if norm else math.nan


@_continuous
def structural_similarity(ref: np.ndarray, pred: np.ndarray, window: int = 7, sigma: float | None = None) -> float:
    """Mean SSIM (Wang et al. 2004), 2-D or 3-D.

    ``window``-wide uniform window with sample covariances (scikit-image's defaults, ``ssim@9`` sets
    the width); with ``sigma``, Gaussian weights of that σ truncated at 3.5σ (window
    ``2·round(3.5σ) + 1``: 11 for σ = 1.5, Wang's and MONAI's; ``ssim_gaussian``, ``ssim_gaussian@2``).
    Constants K1 = 0.01, K2 = 0.03, data range = max(ref), the mean taken away from a border of
    ``(window − 1) / 2``.
    """
    ref, pred = np.squeeze(ref), np.squeeze(pred)
    window = int(window) if sigma is None else 2 * int(3.5 * float(sigma) + 0.5) + 1  # SciPy's truncation
    if min(ref.shape) < window:
        raise ValueError(f"Expected every image axis ≥ {window} for SSIM. Received shape {ref.shape}.")
    data_range = ref.max()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    if sigma is None:
        n = window**ref.ndim
        correction = n / (n - 1.0)

        def mean(x: np.ndarray) -> np.ndarray:
            return ndimage.uniform_filter(x, size=window)
    else:
        correction = 1.0

        def mean(x: np.ndarray) -> np.ndarray:
            return ndimage.gaussian_filter(x, sigma=float(sigma), truncate=3.5)

    mu_x, mu_y = mean(ref), mean(pred)
    var_x = correction * (mean(ref * ref) - mu_x * mu_x)
    var_y = correction * (mean(pred * pred) - mu_y * mu_y)
    cov = correction * (mean(ref * pred) - mu_x * mu_y)
    ssim = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    pad = (window - 1) // 2
    return ssim[tuple(slice(pad, s - pad) for s in ssim.shape)].mean()


@_continuous
def gaussian_structural_similarity(ref: np.ndarray, pred: np.ndarray, sigma: float = 1.5) -> float:
    """SSIM with Gaussian weights of σ = 1.5 voxels (window 11): Wang et al.'s and MONAI's convention."""
    return structural_similarity(ref, pred, sigma=sigma)
