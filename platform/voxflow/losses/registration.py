"""Registration losses: image similarity, label similarity and regularisation of displacement fields.

Each is a TensorFlow function of ``(B, *spatial, C)`` tensors (2-D or 3-D) returning a scalar to
minimise, defined as DeepReg and MONAI define it so that their published weights carry over:

================  ==========================================================================
name              loss (``f`` fixed image, ``w`` warped moving image, ``u`` displacement, voxels)
================  ==========================================================================
``lncc``          1 − mean local squared zero-normalised cross-correlation over a box window
                  of ``window`` voxels per axis (9: VoxelMorph's and DeepReg's; MONAI's 3),
                  sums over the window as sums of zero-padded neighbourhoods (in float64),
                  variances clamped at 0, ``ε = 1e-5`` in numerator and denominator
``ssd``           mean squared difference
``gmi``           −global mutual information by Parzen windowing (DeepReg/MONAI): each image
                  scaled to [0, 1] by its own minimum and maximum, 23 Gaussian bins on [0, 1]
                  with σ = ½ bin spacing, ``ε = 1e-5``; for images of different modalities
``dice``          1 − soft Dice ``2Σfw / (Σf + Σw)`` of the warped moving labels and the fixed
                  labels (one channel per foreground class), averaged over classes and over
                  Gaussian smoothings of σ ∈ ``scales`` voxels (0 = none; kernels cut at 3σ):
                  label-reg's multi-scale Dice, NiftyNet's label-driven method
``dice_squared``  the same with squared denominators ``2Σfw / (Σf² + Σw²)`` (V-Net's form;
                  NiftyNet's ``Dice_Dense``, which its registration trained with)
``bending``       mean over interior voxels of Σ_ab (∂²u/∂a∂b)² (cross terms twice), central
                  differences ``(x[i+1] − x[i−1]) / 2`` (DeepReg's and MONAI's ``normalize=False``;
                  NiftyNet's is ≈ 2.7× larger for the same field)
``gradient``      mean over interior voxels of Σ_a (∂u/∂a)², same differences (DeepReg's L2
                  ``GradientNorm``; ``gradient_l1``: of |∂u/∂a|)
================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

EPS = 1e-5
GMI_BINS = 23
GMI_SIGMA_RATIO = 0.5


def _spatial_axes(x: tf.Tensor) -> list[int]:
    return list(range(1, x.shape.rank - 1))


def _box_sum(x: tf.Tensor, window: int) -> tf.Tensor:
    """Sum of each voxel's zero-padded ``window``-wide neighbourhood, per channel: per axis, a cumulative
    sum and one difference (O(1) per voxel whatever the window; single-channel convolutions were
    several times slower on a CPU)."""
    before, after = window // 2, window - 1 - window // 2
    for axis in range(1, x.shape.rank - 1):
        widths = [[0, 0]] * x.shape.rank
        widths[axis] = [before + 1, after]
        total = tf.cumsum(tf.pad(x, widths), axis=axis)
        size = tf.shape(x)[axis]
        x = tf.gather(total, tf.range(window, window + size), axis=axis) - tf.gather(total, tf.range(size), axis=axis)
    return x


def lncc(fixed: tf.Tensor, warped: tf.Tensor, window: int = 9) -> tf.Tensor:
    """Mean local squared normalised cross-correlation of two images (1 = identical up to local gain/offset)."""
    # float64 sums: a float32 running sum loses the small variances of flat regions (background), and
    # their rounding could turn a variance negative and the ratio huge
    fixed, warped = tf.cast(fixed, tf.float64), tf.cast(warped, tf.float64)
    volume = float(window ** (fixed.shape.rank - 2))
    sums = _box_sum(tf.concat([fixed, warped, fixed * fixed, warped * warped, fixed * warped], -1), window)
    f_sum, w_sum, ff, ww, fw = tf.split(sums, 5, axis=-1)
    cross = fw - f_sum * w_sum / volume
    f_var = tf.maximum(ff - f_sum * f_sum / volume, 0.0)
    w_var = tf.maximum(ww - w_sum * w_sum / volume, 0.0)
    return tf.cast(tf.reduce_mean((cross * cross + EPS) / (f_var * w_var + EPS)), tf.float32)


def lncc_loss(fixed: tf.Tensor, warped: tf.Tensor, window: int = 9) -> tf.Tensor:
    """``1 − lncc``."""
    return 1.0 - lncc(fixed, warped, window)


def ssd_loss(fixed: tf.Tensor, warped: tf.Tensor) -> tf.Tensor:
    """Mean squared difference."""
    return tf.reduce_mean(tf.math.squared_difference(tf.cast(fixed, tf.float32), tf.cast(warped, tf.float32)))


def _unit_range(x: tf.Tensor) -> tf.Tensor:
    """Each sample scaled to [0, 1] by its minimum and maximum (a constant sample becomes 0)."""
    axes = list(range(1, x.shape.rank))
    low = tf.reduce_min(x, axes, keepdims=True)
    high = tf.reduce_max(x, axes, keepdims=True)
    return tf.math.divide_no_nan(x - low, high - low)


def mutual_information(fixed: tf.Tensor, warped: tf.Tensor, bins: int = GMI_BINS,
                       sigma_ratio: float = GMI_SIGMA_RATIO) -> tf.Tensor:
    """Mean over the batch of the Parzen-window mutual information (nats) of two images."""
    a = tf.reshape(_unit_range(tf.cast(fixed, tf.float32)), [tf.shape(fixed)[0], -1, 1])
    b = tf.reshape(_unit_range(tf.cast(warped, tf.float32)), [tf.shape(warped)[0], -1, 1])
    centres = tf.linspace(0.0, 1.0, bins)[None, None]
    sigma = sigma_ratio / (bins - 1.0)
    weight_a = tf.exp(-tf.square(a - centres) / (2.0 * sigma * sigma))
    weight_a /= tf.reduce_sum(weight_a, -1, keepdims=True)  # (B, N, bins)
    weight_b = tf.exp(-tf.square(b - centres) / (2.0 * sigma * sigma))
    weight_b /= tf.reduce_sum(weight_b, -1, keepdims=True)
    count = tf.cast(tf.shape(a)[1], tf.float32)
    joint = tf.matmul(weight_a, weight_b, transpose_a=True) / count  # (B, bins, bins)
    p_a = tf.reduce_mean(weight_a, 1)[:, :, None]
    p_b = tf.reduce_mean(weight_b, 1)[:, None, :]
    ratio = (joint + EPS) / (p_a * p_b + EPS)
    return tf.reduce_mean(tf.reduce_sum(joint * tf.math.log(ratio + EPS), [1, 2]))


def gmi_loss(fixed: tf.Tensor, warped: tf.Tensor) -> tf.Tensor:
    """``−mutual_information``."""
    return -mutual_information(fixed, warped)


def gaussian_kernel(sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian of ``sigma`` voxels cut at 3σ (``[1]`` for σ = 0)."""
    if sigma <= 0:
        return np.ones(1, np.float32)
    tail = int(np.ceil(3.0 * sigma))
    x = np.arange(-tail, tail + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return (kernel / kernel.sum()).astype(np.float32)


def gaussian_smooth(x: tf.Tensor, sigma: float) -> tf.Tensor:
    """Separable Gaussian smoothing of each channel (zero padding), σ in voxels."""
    if sigma <= 0:
        return x
    kernel = gaussian_kernel(sigma)
    dims = x.shape.rank - 2
    channels = x.shape[-1]
    conv = tf.nn.conv3d if dims == 3 else tf.nn.conv2d
    flat = tf.reshape(tf.transpose(x, [0, dims + 1, *range(1, dims + 1)]), [-1, *tf.unstack(tf.shape(x)[1:-1]), 1])
    for axis in range(dims):
        shape = [1] * dims + [1, 1]
        shape[axis] = kernel.size
        flat = conv(flat, tf.constant(kernel.reshape(shape)), [1] * (dims + 2), "SAME")
    out = tf.reshape(flat, tf.concat([[-1, channels], tf.shape(x)[1:-1]], 0))
    return tf.transpose(out, [0, *range(2, dims + 2), 1])


def soft_dice(fixed: tf.Tensor, warped: tf.Tensor, squared: bool = False, weight: tf.Tensor | None = None) -> tf.Tensor:
    """Per-sample, per-channel soft Dice ``2Σfw / (Σf + Σw)`` (``squared``: ``/ (Σf² + Σw²)``) of
    probability maps, ``(B, C)``, optionally weighted per voxel; 1 where both are empty."""
    axes = _spatial_axes(fixed)
    w = 1.0 if weight is None else weight
    overlap = tf.reduce_sum(w * fixed * warped, axes)
    total = tf.reduce_sum(w * (fixed * fixed + warped * warped if squared else fixed + warped), axes)
    return (2.0 * overlap + EPS) / (total + EPS)


def multiscale_dice_loss(fixed: tf.Tensor, warped: tf.Tensor, scales: Sequence[float] = (0, 1, 2, 4, 8, 16),
                         squared: bool = False) -> tf.Tensor:
    """``1 −`` soft Dice averaged over channels, samples and Gaussian smoothings of σ ∈ ``scales`` voxels."""
    fixed, warped = tf.cast(fixed, tf.float32), tf.cast(warped, tf.float32)
    scores = [tf.reduce_mean(soft_dice(gaussian_smooth(fixed, s), gaussian_smooth(warped, s), squared))
              for s in scales]
    return 1.0 - tf.add_n(scores) / float(len(scores))


def dice_dense_loss(labels: tf.Tensor, predictions: tf.Tensor, weight: tf.Tensor | None = None) -> tf.Tensor:
    """``Dice_Dense`` (NiftyNet's name): ``1 −`` the mean over samples and channels of the soft Dice
    with squared denominators of two dense maps ``(B, *spatial, K)`` in [0, 1] (one-hot labels,
    warped labels, probabilities; no softmax). For label maps of class indices use ``Dice``."""
    labels, predictions = tf.cast(labels, tf.float32), tf.cast(predictions, tf.float32)
    weight = None if weight is None else tf.cast(weight, tf.float32)
    return 1.0 - tf.reduce_mean(soft_dice(labels, predictions, True, weight))


def dice_dense_ns_loss(labels: tf.Tensor, predictions: tf.Tensor, weight: tf.Tensor | None = None) -> tf.Tensor:
    """``Dice_Dense_NS``: :func:`dice_dense_loss` without the squares, ``2Σfw / (Σf + Σw)``."""
    labels, predictions = tf.cast(labels, tf.float32), tf.cast(predictions, tf.float32)
    weight = None if weight is None else tf.cast(weight, tf.float32)
    return 1.0 - tf.reduce_mean(soft_dice(labels, predictions, False, weight))


def _central(u: tf.Tensor, axis: int) -> tf.Tensor:
    """``(u[i+1] − u[i−1]) / 2`` along spatial ``axis`` (0-based), every spatial axis cropped by one voxel per side."""
    dims = u.shape.rank - 2
    ahead = [slice(None)] + [slice(1, -1)] * dims + [slice(None)]
    behind = list(ahead)
    ahead[1 + axis], behind[1 + axis] = slice(2, None), slice(None, -2)
    return (u[tuple(ahead)] - u[tuple(behind)]) / 2.0


def gradient_loss(displacement: tf.Tensor, l1: bool = False) -> tf.Tensor:
    """Mean of Σ_a (∂u/∂a)² (or |∂u/∂a| with ``l1``) over the interior: DeepReg's ``gradient``."""
    u = tf.cast(displacement, tf.float32)
    parts = [_central(u, a) for a in range(u.shape.rank - 2)]
    return tf.reduce_mean(tf.add_n([tf.abs(p) if l1 else p * p for p in parts]))


def bending_energy(displacement: tf.Tensor) -> tf.Tensor:
    """Mean of Σ_ab (∂²u/∂a∂b)² over the interior (cross terms twice): DeepReg's and MONAI's ``bending``."""
    u = tf.cast(displacement, tf.float32)
    dims = u.shape.rank - 2
    first = [_central(u, a) for a in range(dims)]
    terms = []
    for a in range(dims):
        for b in range(a, dims):
            second = _central(first[a], b)
            terms.append(second * second * (1.0 if a == b else 2.0))
    return tf.reduce_mean(tf.add_n(terms))


#: ``{name: (function, kind)}``: ``image`` losses compare the fixed image and the warped moving
#: image, ``label`` losses the fixed and warped moving label maps, ``field`` losses regularise the
#: displacement.
REGISTRATION_LOSSES = {
    "lncc": (lncc_loss, "image"),
    "ssd": (ssd_loss, "image"),
    "gmi": (gmi_loss, "image"),
    "dice": (multiscale_dice_loss, "label"),
    "dice_squared": (lambda f, w, scales=(0,): multiscale_dice_loss(f, w, scales, squared=True), "label"),
    "bending": (bending_energy, "field"),
    "gradient": (gradient_loss, "field"),
    "gradient_l1": (lambda u: gradient_loss(u, l1=True), "field"),
}
