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
are returned unchanged. NumPy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_TINY = 1e-12
FIT_VOXELS = 250_000
"""Voxels (an even subsample of the region) on which the mixture's means and variances are fitted."""


def refine_probabilities(probabilities: np.ndarray, image: np.ndarray, region: np.ndarray, classes: Sequence[int],
                         iterations: int, prior_weight: float = 1.0) -> np.ndarray:
    """The class probabilities after ``iterations`` EM steps of a prior-weighted Gaussian mixture.

    Args:
        probabilities: ``(..., K)`` class probabilities (the network's, on the image's grid).
        image: the intensities, the spatial shape of ``probabilities`` (one channel).
        region: boolean, same spatial shape: the voxels refined.
        classes: the class indices refined; inside ``region`` all probability goes to them.
        iterations: EM iterations (0: the network's probabilities restricted to ``classes``).
        prior_weight: exponent of the network's probabilities in the posterior (1: Bayes' rule).

    Returns:
        float32 ``(..., K)`` probabilities summing to 1 per voxel.

    Raises:
        ValueError: mismatched shapes, fewer than two classes, or a class outside ``0..K-1``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    image, region = np.asarray(image), np.asarray(region, dtype=bool)
    if image.shape != probabilities.shape[:-1] or region.shape != image.shape:
        raise ValueError(f"expected an image and a region of the probabilities' spatial shape "
                         f"{probabilities.shape[:-1]}, got {image.shape} and {region.shape}")
    classes = [int(c) for c in classes]
    if len(classes) < 2 or not all(0 <= c < probabilities.shape[-1] for c in classes):
        raise ValueError(f"expected at least two classes among 0..{probabilities.shape[-1] - 1}, got {classes}")
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
        variance = (posterior * (sample_values[:, None] - mean) ** 2).sum(axis=0) / mass
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
