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
def peak_signal_to_noise_ratio(ref: np.ndarray, pred: np.ndarray) -> float:
    """``10 log10(max(ref)² / MSE)`` in dB; ``inf`` for identical images."""
    mse = np.mean(np.square(ref - pred))
    return 10.0 * math.log10(ref.max() ** 2 / mse) if mse else math.inf


@_continuous
def structural_similarity(ref: np.ndarray, pred: np.ndarray, window: int = 7) -> float:
    """Mean SSIM (Wang et al. 2004) over a ``window``-wide uniform window, 2-D or 3-D.

    Constants K1 = 0.01, K2 = 0.03, sample covariances, data range = max(ref), the mean taken
    away from a border of ``(window − 1) / 2`` (scikit-image's defaults).
    """
    ref, pred = np.squeeze(ref), np.squeeze(pred)
    if min(ref.shape) < window:
        raise ValueError(f"Expected every image axis ≥ {window} for SSIM. Received shape {ref.shape}.")
    data_range = ref.max()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    n = window**ref.ndim
    correction = n / (n - 1.0)

    def mean(x: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(x, size=window)

    mu_x, mu_y = mean(ref), mean(pred)
    var_x = correction * (mean(ref * ref) - mu_x * mu_x)
    var_y = correction * (mean(pred * pred) - mu_y * mu_y)
    cov = correction * (mean(ref * pred) - mu_x * mu_y)
    ssim = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    pad = (window - 1) // 2
    return ssim[tuple(slice(pad, s - pad) for s in ssim.shape)].mean()
