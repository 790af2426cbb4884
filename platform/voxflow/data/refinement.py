"""Refining a segmentation network's class probabilities on the image's own intensities.

A network trained on some scanners' contrasts puts the boundary between two tissues where its training
images had it; a classical segmentation (SPM, FSL FAST, ANTs Atropos) puts it where *this* image's
intensity histogram has it. :func:`refine_probabilities` combines the two as Atropos does with prior
probability maps: a Gaussian mixture over the image's intensities whose per-voxel class weights are the
network's probabilities (raised to ``prior_weight``), fitted by a few EM iterations
(M-step: each class's mean and variance from the current posteriors; E-step: posteriors ∝
prior^w · N(intensity; μ, σ²)). The means and variances are fitted on an even subsample of at most
:data:`FIT_VOXELS` voxels (plenty for three numbers per class), then every voxel gets its posterior
once. Only the voxels of ``region`` and the classes ``classes`` take part
(for a skull-stripped brain: its non-zero region and the tissue classes); elsewhere the probabilities
are returned unchanged. ``variances = "tied"`` gives every class one pooled variance, so the boundary
between two classes falls where k-means puts it (the midpoint of their means, moved by the priors)
rather than being pushed into the tighter class.

A slowly varying intensity (coil sensitivity, or a template's regional contrast) moves the same tissue
across a global mixture's boundaries; :func:`bias_corrected` removes it first with N4 (SimpleITK's
``N4BiasFieldCorrectionImageFilter``, Tustison et al. 2010, fitted on a coarse grid inside the region),
as the classical pipelines do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_TINY = 1e-12
FIT_VOXELS = 250_000
"""Voxels (an even subsample of the region) on which the mixture's means and variances are fitted."""
VARIANCES = ("class", "tied")
"""``variances``: one variance per class, or one pooled variance for every class."""
NEGATIVE_LIMIT = 0.01
"""Share of a region's voxels that may be negative for :func:`bias_corrected` to fit N4 (more: a z-scored image)."""


def mostly_signed(image: np.ndarray, region: np.ndarray) -> bool:
    """Whether more than :data:`NEGATIVE_LIMIT` of ``region`` is negative in ``image``: N4 models a
    multiplicative field on positive intensities, and such an image (e.g. z-scored) has none."""
    inside = np.asarray(region, dtype=bool)
    return int(np.count_nonzero(inside & (np.asarray(image) < 0))) > NEGATIVE_LIMIT * int(np.count_nonzero(inside))


def refine_probabilities(probabilities: np.ndarray, image: np.ndarray, region: np.ndarray, classes: Sequence[int],
                         iterations: int, prior_weight: float = 1.0, variances: str = "class") -> np.ndarray:
    """The class probabilities after ``iterations`` EM steps of a prior-weighted Gaussian mixture.

    Args:
        probabilities: ``(..., K)`` class probabilities (the network's, on the image's grid).
        image: the intensities, the spatial shape of ``probabilities`` (one channel).
        region: boolean, same spatial shape: the voxels refined.
        classes: the class indices refined; inside ``region`` all probability goes to them.
        iterations: EM iterations (0: the network's probabilities restricted to ``classes``).
        prior_weight: exponent of the network's probabilities in the posterior (1: Bayes' rule).
        variances: ``"class"`` (a variance per class) or ``"tied"`` (one pooled variance, k-means' boundaries).

    Returns:
        float32 ``(..., K)`` probabilities summing to 1 per voxel.

    Raises:
        ValueError: mismatched shapes, fewer than two classes, a class outside ``0..K-1``, or an unknown
            ``variances``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    image, region = np.asarray(image), np.asarray(region, dtype=bool)
    if image.shape != probabilities.shape[:-1] or region.shape != image.shape:
        raise ValueError(f"expected an image and a region of the probabilities' spatial shape "
                         f"{probabilities.shape[:-1]}, got {image.shape} and {region.shape}")
    classes = [int(c) for c in classes]
    if len(classes) < 2 or not all(0 <= c < probabilities.shape[-1] for c in classes):
        raise ValueError(f"expected at least two classes among 0..{probabilities.shape[-1] - 1}, got {classes}")
    if variances not in VARIANCES:
        raise ValueError(f"expected variances among {', '.join(VARIANCES)}, got {variances!r}")
    out = probabilities.copy()
    if not region.any():
        return out
    values = image[region].astype(np.float32)
    prior = probabilities[region][:, classes] + np.float32(1e-6)
    prior /= prior.sum(axis=1, keepdims=True)
    weighted = prior if float(prior_weight) == 1.0 else prior ** float(prior_weight)
    stride = max(1, len(values) // FIT_VOXELS)
    sample_values, sample_weighted = values[::stride].astype(np.float64), weighted[::stride].astype(np.float64)
    posterior = prior[::stride].astype(np.float64)
    mean = variance = None
    for _ in range(max(int(iterations), 0)):
        mass = posterior.sum(axis=0) + _TINY
        mean = (posterior * sample_values[:, None]).sum(axis=0) / mass
        squared = posterior * (sample_values[:, None] - mean) ** 2
        variance = squared.sum(axis=0) / mass if variances == "class" else np.full_like(mass, squared.sum() / mass.sum())
        variance = np.maximum(variance, 1e-6 * max(float(sample_values.var()), _TINY))
        posterior = _posterior(sample_values, sample_weighted, mean, variance)
    # every voxel once, in float32 (the fit above is in float64 on the subsample)
    posterior = prior if mean is None else _posterior(values, weighted, mean.astype(np.float32),
                                                      variance.astype(np.float32))
    refined = np.zeros((len(values), probabilities.shape[-1]), dtype=np.float32)
    refined[:, classes] = posterior
    out[region] = refined
    return out


def _posterior(values: np.ndarray, weighted: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """E-step: ``weighted · N(values; mean, variance)`` normalised per voxel."""
    log_likelihood = -0.5 * (values[:, None] - mean) ** 2 / variance - 0.5 * np.log(variance)
    log_likelihood -= log_likelihood.max(axis=1, keepdims=True)
    posterior = weighted * np.exp(log_likelihood)
    posterior /= posterior.sum(axis=1, keepdims=True) + np.asarray(1e-30, posterior.dtype)
    return posterior


def bias_corrected(image: np.ndarray, region: np.ndarray, spacing: Sequence[float], grid_mm: float = 6.0,
                   levels: int = 4, iterations: int = 50) -> np.ndarray:
    """``image`` divided by its N4 bias field, fitted inside ``region`` on a grid of about ``grid_mm``.

    Args:
        image: 3-D intensities (positive inside ``region``; voxels ≤ 0 are left out of the fit).
        region: boolean, the image's shape: where the field is fitted.
        spacing: the voxel size in mm per axis (the coarse grid shrinks each axis to about ``grid_mm``).
        grid_mm: the fitting grid's voxel size; the field is evaluated at full resolution.
        levels, iterations: N4's B-spline fitting levels and iterations per level (its defaults: 4, 50).

    Returns:
        float32 corrected intensities; ``image`` itself (as float32) when fewer than 64 voxels can be fitted,
        an axis is shorter than 8 voxels (a slice or a thin slab: no 3-D field to fit), or the region is
        :func:`mostly_signed`. Zero-valued voxels inside the region (a skull-stripped brain's ventricles) are left out of the fit.
    """
    import SimpleITK as sitk  # noqa: PLC0415

    values = np.asarray(image, dtype=np.float32)
    fit = np.asarray(region, dtype=bool) & (values > 0)
    if values.ndim != 3 or fit.shape != values.shape or len(spacing) != 3:
        raise ValueError(f"expected a 3-D image, a region of its shape and three spacings, got {values.shape}, "
                         f"{fit.shape} and {tuple(spacing)}")
    if int(fit.sum()) < 64 or min(values.shape) < 8 or mostly_signed(values, region):
        return values
    # SimpleITK indexes (z, y, x): the arrays go in transposed so that its spacing is per array axis
    itk_image = sitk.GetImageFromArray(values.T.copy())
    itk_image.SetSpacing([float(s) for s in spacing])
    itk_mask = sitk.GetImageFromArray(fit.T.astype(np.uint8))
    itk_mask.CopyInformation(itk_image)
    # about grid_mm per coarse voxel, but at least 8 coarse voxels along every axis
    shrink = [max(1, min(int(round(float(grid_mm) / float(s))), n // 8)) for s, n in zip(spacing, values.shape)]
    n4 = sitk.N4BiasFieldCorrectionImageFilter()
    n4.SetMaximumNumberOfIterations([int(iterations)] * int(levels))
    n4.Execute(sitk.Shrink(itk_image, shrink), sitk.Shrink(itk_mask, shrink))
    log_field = sitk.GetArrayFromImage(n4.GetLogBiasFieldAsImage(itk_image)).T
    return (values / np.exp(log_field)).astype(np.float32)
