"""Metrics of generated images (NumPy/SciPy, no deep-learning framework): how close a generated set is to a
real one in a feature space, and how diverse it is.

- :func:`frechet_distance`: Fréchet distance between Gaussians fitted to two feature sets.
- :func:`precision_recall`: Kynkäänniemi et al.'s improved precision (fidelity) and recall (coverage).
- :func:`mmd`: unbiased squared maximum mean discrepancy, linear or Gaussian kernel.
- :func:`mean_pairwise_ssim`: mean SSIM over random pairs of generated 2-D images (high: mode collapse).

The first three take features ``(N, D)``, one row per image, from whatever encoder the caller chooses;
the last takes the images. Invalid inputs raise ``ValueError`` with a one-line message.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

from voxflow.evaluation.continuous import structural_similarity

#: rows of a distance matrix computed at once (``CHUNK × N`` float64 values in memory)
CHUNK = 1024
#: at most this many pooled samples set the Gaussian kernel's median-heuristic width
MEDIAN_SAMPLES = 1000


# ----------------------------------------------------------------------------- checks
def _features(features: np.ndarray, name: str, min_samples: int = 2) -> np.ndarray:
    """``features`` as a finite float64 ``(N, D)`` array with ``N ≥ min_samples``, or ``ValueError``."""
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"Expected `{name}` of shape (samples, features). Received shape {array.shape}.")
    if array.shape[0] < min_samples:
        raise ValueError(f"Expected at least {min_samples} samples in `{name}`. Received {array.shape[0]}.")
    if not np.isfinite(array).all():
        raise ValueError(f"Expected finite values in `{name}`. Received NaN or infinity.")
    return array


def _pair(a: np.ndarray, b: np.ndarray, names: tuple[str, str], min_samples: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Two feature sets checked by :func:`_features`, with the same number of features."""
    a, b = _features(a, names[0], min_samples), _features(b, names[1], min_samples)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"Expected `{names[0]}` and `{names[1]}` with the same number of features. "
                         f"Received {a.shape[1]} and {b.shape[1]}.")
    return a, b


# ----------------------------------------------------------------------------- Fréchet distance
def frechet_distance(features_a: np.ndarray, features_b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    ``‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa Σb)^½)`` with sample means and covariances (``N − 1``) and
    ``scipy.linalg.sqrtm``. This is the formula of the FID (Heusel et al. 2017), but in whatever feature
    space the caller gives: voxflow feeds it its own trained encoder's features, never Inception's, so
    its values must not be called, or compared with, FID. If the product's square root is not finite or
    SciPy warns that the product is singular (fewer samples than features, constant features), ``eps·I``
    is added to both covariances and it is taken again, as pytorch-fid does; the imaginary round-off of
    the square root is dropped, and round-off below 0 is clipped to 0.

    Args:
        features_a: ``(N, D)`` features of one set, ``N ≥ 2``.
        features_b: ``(M, D)`` features of the other.
        eps: Diagonal offset used only when the square root is not finite.

    Returns:
        The distance (squared units of the features), ≥ 0.

    Raises:
        ValueError: If an input is not 2-D, has fewer than 2 samples or non-finite values, or the
            feature counts differ.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> frechet_distance(rng.normal(0, 1, (5000, 1)), rng.normal(3, 2, (5000, 1)))  # ≈ 3² + (2 − 1)² = 10
    """
    a, b = _pair(features_a, features_b, ("features_a", "features_b"))
    sigma_a, sigma_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", linalg.LinAlgWarning)
        root = linalg.sqrtm(sigma_a @ sigma_b)
    if caught or not np.isfinite(root).all():
        offset = eps * np.eye(sigma_a.shape[0])
        root = linalg.sqrtm((sigma_a + offset) @ (sigma_b + offset))
    difference = a.mean(axis=0) - b.mean(axis=0)
    value = difference @ difference + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(np.real(root))
    return max(float(value), 0.0)


# ----------------------------------------------------------------------------- precision and recall
def _squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``‖x_i − y_j‖²`` for every row pair, ``(len(x), len(y))``, round-off below 0 clipped."""
    values = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * x @ y.T
    return np.maximum(values, 0.0)


def _knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Each sample's squared distance to its ``k``-th nearest other sample of the same set."""
    return np.concatenate([np.partition(_squared_distances(features[i:i + CHUNK], features), k, axis=1)[:, k]
                           for i in range(0, len(features), CHUNK)])


def _covered(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Whether each point lies in at least one ball ``‖p − c_j‖² ≤ radii_j`` (closed balls)."""
    return np.concatenate([(_squared_distances(points[i:i + CHUNK], centres) <= radii[None, :]).any(axis=1)
                           for i in range(0, len(points), CHUNK)])


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., NeurIPS 2019) with k-NN balls in feature space.

    Each sample of a set gets a ball reaching its ``k``-th nearest neighbour in its own set; the union of
    a set's balls estimates its manifold. Precision: the fraction of ``fake`` samples inside the real
    manifold (fidelity); recall: the fraction of ``real`` samples inside the fake manifold (coverage).
    Euclidean distances are computed exactly, ``CHUNK`` rows at a time (5000 × 5000 samples take
    seconds), so the cost does not grow with the dimension as a k-d tree's does.

    Args:
        real: ``(N, D)`` features of real images, ``N > k``.
        fake: ``(M, D)`` features of generated images, ``M > k``.
        k: Neighbour that sets each ball's radius (the paper uses 3).

    Returns:
        ``(precision, recall)``, each in [0, 1].

    Raises:
        ValueError: If ``k < 1``, an input is not 2-D or has at most ``k`` samples, or the feature
            counts differ.
    """
    if int(k) != k or k < 1:
        raise ValueError(f"Expected an integer `k` ≥ 1 for precision and recall. Received {k!r}.")
    real, fake = _pair(real, fake, ("real", "fake"), min_samples=int(k) + 1)
    precision = _covered(fake, real, _knn_radii(real, int(k))).mean()
    recall = _covered(real, fake, _knn_radii(fake, int(k))).mean()
    return float(precision), float(recall)


# ----------------------------------------------------------------------------- MMD
def _gaussian_sum(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    """``Σ_ij exp(−‖x_i − y_j‖² / 2σ²)``, ``CHUNK`` rows at a time."""
    return float(sum(np.exp(_squared_distances(x[i:i + CHUNK], y) / (-2.0 * sigma**2)).sum()
                     for i in range(0, len(x), CHUNK)))


def median_heuristic(a: np.ndarray, b: np.ndarray) -> float:
    """The median Euclidean distance between distinct samples of ``a`` and ``b`` pooled (at most
    ``MEDIAN_SAMPLES`` of them, evenly spaced), the usual Gaussian-kernel width (Gretton et al. 2012)."""
    pooled = np.concatenate([a, b])
    pooled = pooled[np.linspace(0, len(pooled) - 1, min(len(pooled), MEDIAN_SAMPLES)).astype(int)]
    upper = np.triu_indices(len(pooled), k=1)
    return float(np.sqrt(np.median(_squared_distances(pooled, pooled)[upper])))


def mmd(a: np.ndarray, b: np.ndarray, kernel: str = "linear", sigma: float | None = None) -> float:
    """Unbiased squared maximum mean discrepancy (Gretton et al., JMLR 2012, Lemma 6).

    ``MMD²_u = Σ_{i≠j} k(a_i, a_j) / m(m−1) + Σ_{i≠j} k(b_i, b_j) / n(n−1) − 2 Σ_ij k(a_i, b_j) / mn``.
    With the ``"linear"`` kernel ``k(x, y) = x·y`` this is MONAI's ``MMDMetric`` (on flattened images),
    computed here from sums in O((m + n)·D): ``‖mean a − mean b‖²`` less the diagonal (bias) terms.
    ``"gaussian"``: ``k(x, y) = exp(−‖x − y‖² / 2σ²)``, ``σ`` by :func:`median_heuristic` when None.
    An unbiased estimate: about 0 for two samples of one distribution, and it can be slightly negative.

    Args:
        a: ``(m, D)`` features (or flattened images), ``m ≥ 2``.
        b: ``(n, D)``, ``n ≥ 2``.
        kernel: ``"linear"`` or ``"gaussian"``.
        sigma: Gaussian kernel width (feature units); ignored by the linear kernel.

    Returns:
        The estimate of MMD².

    Raises:
        ValueError: If the kernel is unknown, ``sigma`` is not positive, an input is not 2-D or has
            fewer than 2 samples, or the feature counts differ.
    """
    if kernel not in ("linear", "gaussian"):
        raise ValueError(f"Invalid value for `kernel` of mmd. Expected one of: linear, gaussian. Received: {kernel!r}.")
    a, b = _pair(a, b, ("a", "b"))
    m, n = len(a), len(b)
    if kernel == "linear":
        sum_a, sum_b = a.sum(axis=0), b.sum(axis=0)
        within_a = (sum_a @ sum_a - (a * a).sum()) / (m * (m - 1))
        within_b = (sum_b @ sum_b - (b * b).sum()) / (n * (n - 1))
        return float(within_a + within_b - 2.0 * (sum_a @ sum_b) / (m * n))
    sigma = median_heuristic(a, b) if sigma is None else float(sigma)
    if not sigma > 0:
        raise ValueError(f"Expected a positive Gaussian kernel width `sigma`. Received {sigma}.")
    within_a = (_gaussian_sum(a, a, sigma) - m) / (m * (m - 1))  # k(x, x) = 1 on the diagonal
    within_b = (_gaussian_sum(b, b, sigma) - n) / (n * (n - 1))
    return float(within_a + within_b - 2.0 * _gaussian_sum(a, b, sigma) / (m * n))


# ----------------------------------------------------------------------------- diversity
def _pair_ssim(x: np.ndarray, y: np.ndarray, window: int) -> float:
    """SSIM of two images, the one with the larger maximum as reference (its maximum the data range)."""
    if np.array_equal(x, y):
        return 1.0
    reference, other = (x, y) if x.max() >= y.max() else (y, x)
    with np.errstate(divide="ignore", invalid="ignore"):  # blank images: 0/0
        return structural_similarity(reference, other, window=window)


def mean_pairwise_ssim(images: np.ndarray, pairs: int | None = 1000, rng: np.random.Generator | int | None = 0,
                       window: int = 7) -> float:
    """Diversity of a set of 2-D images: their mean SSIM over random pairs of different images.

    Near 1: the images are alike (a generator's mode collapse); real data sets a baseline. Pairs are
    drawn uniformly with replacement among pairs of different indices; with ``pairs=None`` every
    unordered pair is used once. SSIM is voxflow's
    :func:`~voxflow.evaluation.continuous.structural_similarity` (``window``-wide uniform window), its
    data range the larger maximum of the pair (each pair is ordered so, which makes it symmetric); two
    equal images score 1 (two blank ones included), and pairs where SSIM is still undefined (0/0) are
    left out.

    Args:
        images: ``(N, H, W)`` or ``(N, H, W, 1)``, ``N ≥ 2``, ``H, W ≥ window``.
        pairs: Number of random pairs, or None for all ``N(N − 1)/2``.
        rng: Generator or seed for the pairs (default: seed 0, so the value is reproducible).
        window: SSIM window width in pixels.

    Returns:
        The mean SSIM (NaN if it is undefined for every pair).

    Raises:
        ValueError: If ``images`` is not a stack of 2-D images, holds fewer than 2, or ``pairs < 1``.
    """
    stack = np.asarray(images, dtype=np.float64)
    if stack.ndim == 4 and stack.shape[-1] == 1:
        stack = stack[..., 0]
    if stack.ndim != 3:
        raise ValueError(f"Expected `images` of shape (N, H, W) or (N, H, W, 1). Received shape {stack.shape}.")
    if len(stack) < 2:
        raise ValueError(f"Expected at least 2 images for pairwise SSIM. Received {len(stack)}.")
    if pairs is None:
        first, second = np.triu_indices(len(stack), k=1)
    elif int(pairs) != pairs or pairs < 1:
        raise ValueError(f"Expected `pairs` ≥ 1 or None. Received {pairs!r}.")
    else:
        generator = np.random.default_rng(rng)
        first = generator.integers(0, len(stack), int(pairs))
        second = (first + generator.integers(1, len(stack), int(pairs))) % len(stack)  # never the same image
    values = np.array([_pair_ssim(stack[i], stack[j], window) for i, j in zip(first, second, strict=True)])
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")
