"""Regression losses, batched on the device (``[TRAINING] loss_type`` of ``[REGRESSION]``).

Every loss has the segmentation losses' signature, ``loss(target, prediction, weight=None) ->
scalar float32 tensor``:

- ``target`` and ``prediction``: ``(B, ..., C)`` with 2 or 3 spatial axes, any float dtype
  (computed in float32);
- ``weight``: an optional non-negative voxel weight map ``(B, ..., 1)`` (or broadcastable); a
  voxel of weight 0 influences neither the loss nor its gradient.

With ``r = prediction − target`` and ``w`` the weight (1 without a map), every voxel-wise loss is
the weighted mean ``Σ w·f(r) / Σ w`` over the batch, voxels and channels:

==========  =====================================================================================
name        definition
==========  =====================================================================================
``L1Loss``  ``|r|`` (NiftyNet's name); ``MAE`` is the same loss
``L2Loss``  ``r²``, a *mean* (≠NiftyNet: TF's ``l2_loss`` was ``½·Σ r²``, a sum, so the loss and
            the useful learning rate grew with the window and batch); ``MSE`` is the same loss
``RMSE``    ``√(Σ w·r² / Σ w)``
``Huber``   ``½r²`` where ``|r| ≤ 1``, else ``|r| − ½`` (δ = 1, as NiftyNet)
``SSIM``    ``1 − SSIM``: Wang et al. 2004 (K1 = 0.01, K2 = 0.03), Gaussian window of σ = 1.5
            voxels truncated at 11 voxels (MONAI's defaults), 2-D or 3-D, per channel; the data
            range ``L`` is the target's range in each sample; the weight map weighs the SSIM map
``LNCC``    ``1 − LNCC``: the local normalised cross-correlation ``cov² / (var_t·var_p + ε)`` over
            cubic windows of 9 voxels (VoxelMorph's), averaged (weighted) over voxels; ε is 10⁻⁶ of
            the product of the two images' variances (unit-free; VoxelMorph's is a fixed 10⁻⁵)
==========  =====================================================================================

Example:
    >>> loss = rmse_loss(target, prediction, weight)      # (2, 32, 32, 32, 1) each
"""

from __future__ import annotations

import tensorflow as tf

TensorLike = tf.types.experimental.TensorLike

SSIM_SIGMA = 1.5
SSIM_WINDOW = 11
SSIM_K1, SSIM_K2 = 0.01, 0.03
LNCC_WINDOW = 9
_EPSILON = 1e-5


def _prepare(target: TensorLike, prediction: TensorLike, weight: TensorLike | None) -> tuple[tf.Tensor, ...]:
    """float32 target, prediction and weight (ones without a map) of broadcastable shapes."""
    prediction = tf.cast(tf.convert_to_tensor(prediction), tf.float32)
    target = tf.cast(tf.convert_to_tensor(target), tf.float32)
    if prediction.shape.rank not in (4, 5):
        raise ValueError(f"Expected predictions shaped (B, X, Y, C) or (B, X, Y, Z, C). Received shape "
                         f"{prediction.shape}.")
    if target.shape.rank == prediction.shape.rank - 1:
        target = target[..., None]
    if target.shape.rank != prediction.shape.rank:
        raise ValueError(f"Expected a target of the prediction's rank {prediction.shape.rank}. Received shape "
                         f"{target.shape}.")
    if weight is None:
        weight = tf.ones_like(target[..., :1])
    else:
        weight = tf.cast(tf.convert_to_tensor(weight), tf.float32)
        if weight.shape.rank == prediction.shape.rank - 1:
            weight = weight[..., None]
    return target, prediction, weight


def _weighted_mean(values: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
    weight = tf.broadcast_to(weight, tf.shape(values))
    return tf.reduce_sum(values * weight) / tf.maximum(tf.reduce_sum(weight), _EPSILON)


def l1_loss(target: TensorLike, prediction: TensorLike, weight: TensorLike | None = None) -> tf.Tensor:
    """Weighted mean absolute error ``Σ w·|r| / Σ w`` (``L1Loss``, ``MAE``)."""
    target, prediction, weight = _prepare(target, prediction, weight)
    return _weighted_mean(tf.abs(prediction - target), weight)


def l2_loss(target: TensorLike, prediction: TensorLike, weight: TensorLike | None = None) -> tf.Tensor:
    """Weighted mean squared error ``Σ w·r² / Σ w`` (``L2Loss``, ``MSE``)."""
    target, prediction, weight = _prepare(target, prediction, weight)
    return _weighted_mean(tf.square(prediction - target), weight)


def rmse_loss(target: TensorLike, prediction: TensorLike, weight: TensorLike | None = None) -> tf.Tensor:
    """Root of the weighted mean squared error (``RMSE``)."""
    return tf.sqrt(l2_loss(target, prediction, weight) + 1e-12)


def huber_loss(target: TensorLike, prediction: TensorLike, weight: TensorLike | None = None) -> tf.Tensor:
    """Weighted mean Huber loss with δ = 1 (``Huber``)."""
    target, prediction, weight = _prepare(target, prediction, weight)
    residual = tf.abs(prediction - target)
    return _weighted_mean(tf.where(residual <= 1.0, 0.5 * tf.square(residual), residual - 0.5), weight)


def _gaussian_kernel(size: int, sigma: float) -> tf.Tensor:
    offsets = tf.range(size, dtype=tf.float32) - (size - 1) / 2.0
    kernel = tf.exp(-tf.square(offsets) / (2.0 * sigma**2))
    return kernel / tf.reduce_sum(kernel)


def _filter(volume: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """Separable 'valid' filtering of ``(B, ..., C)`` with the 1-D ``kernel`` along every spatial axis,
    each channel on its own."""
    spatial = volume.shape.rank - 2
    channels = tf.shape(volume)[-1]
    batch = tf.shape(volume)[0]
    # channels into the batch: (B·C, ..., 1)
    perm = [0, spatial + 1, *range(1, spatial + 1)]
    moved = tf.transpose(volume, perm)
    flat = tf.reshape(moved, tf.concat([[-1], tf.shape(moved)[2:], [1]], 0))
    size = kernel.shape[0]
    for axis in range(spatial):
        shape = [1] * spatial + [1, 1]
        shape[axis] = size
        weights = tf.reshape(kernel, shape)
        conv = tf.nn.conv3d if spatial == 3 else tf.nn.conv2d
        strides = [1] * (spatial + 2)
        flat = conv(flat, weights, strides=strides, padding="VALID")
    out = tf.reshape(flat, tf.concat([[batch, channels], tf.shape(flat)[1:-1]], 0))
    back = [0, *range(2, spatial + 2), 1]
    return tf.transpose(out, back)


def _window(size: int, shape: tf.TensorShape) -> int:
    """The window, shrunk to the smallest spatial axis (odd), so small windows still have a value."""
    smallest = min(int(s) for s in shape[1:-1] if s is not None) if all(s is not None for s in shape[1:-1]) else size
    size = min(size, smallest)
    return size if size % 2 else max(size - 1, 1)


def _crop_weight(weight: tf.Tensor, size: int, spatial: int) -> tf.Tensor:
    """The weight map cropped like a 'valid' filter of ``size`` crops the volume."""
    half = (size - 1) // 2
    if not half:
        return weight
    slices = [slice(None)] + [slice(half, -half)] * spatial + [slice(None)]
    return weight[tuple(slices)]


def ssim_loss(target: TensorLike, prediction: TensorLike, weight: TensorLike | None = None) -> tf.Tensor:
    """``1 − SSIM`` (see the module docstring for the constants)."""
    target, prediction, weight = _prepare(target, prediction, weight)
    spatial = prediction.shape.rank - 2
    size = _window(SSIM_WINDOW, prediction.shape)
    kernel = _gaussian_kernel(size, SSIM_SIGMA)
    axes = list(range(1, spatial + 2))
    data_range = tf.reduce_max(target, axis=axes, keepdims=True) - tf.reduce_min(target, axis=axes, keepdims=True)
    data_range = tf.maximum(data_range, _EPSILON)
    c1, c2 = tf.square(SSIM_K1 * data_range), tf.square(SSIM_K2 * data_range)
    mu_t, mu_p = _filter(target, kernel), _filter(prediction, kernel)
    var_t = _filter(target * target, kernel) - mu_t * mu_t
    var_p = _filter(prediction * prediction, kernel) - mu_p * mu_p
    cov = _filter(target * prediction, kernel) - mu_t * mu_p
    ssim = ((2 * mu_t * mu_p + c1) * (2 * cov + c2)) / ((mu_t * mu_t + mu_p * mu_p + c1) * (var_t + var_p + c2))
    return 1.0 - _weighted_mean(ssim, _crop_weight(weight, size, spatial))


def lncc_loss(target: TensorLike, prediction: TensorLike, weight: TensorLike | None = None) -> tf.Tensor:
    """``1 − LNCC`` over cubic windows of :data:`LNCC_WINDOW` voxels."""
    target, prediction, weight = _prepare(target, prediction, weight)
    spatial = prediction.shape.rank - 2
    size = _window(LNCC_WINDOW, prediction.shape)
    kernel = tf.ones([size], tf.float32) / size
    axes = list(range(1, spatial + 1))
    # centred per sample and channel: local moments lose no float32 precision to a large mean
    target = target - tf.reduce_mean(target, axis=axes, keepdims=True)
    prediction = prediction - tf.reduce_mean(prediction, axis=axes, keepdims=True)
    mu_t, mu_p = _filter(target, kernel), _filter(prediction, kernel)
    var_t = _filter(target * target, kernel) - mu_t * mu_t
    var_p = _filter(prediction * prediction, kernel) - mu_p * mu_p
    cov = _filter(target * prediction, kernel) - mu_t * mu_p
    # ε relative to the images' own variances, so the loss does not depend on their units
    scale = tf.reduce_mean(tf.square(target), axis=axes, keepdims=True) * tf.reduce_mean(
        tf.square(prediction), axis=axes, keepdims=True)
    cc = tf.square(cov) / (tf.maximum(var_t, 0.0) * tf.maximum(var_p, 0.0) + 1e-6 * scale + 1e-12)
    return 1.0 - _weighted_mean(cc, _crop_weight(weight, size, spatial))


#: The regression losses by ``loss_type`` (NiftyNet's names first).
REGRESSION_LOSSES = {
    "L1Loss": l1_loss, "L2Loss": l2_loss, "RMSE": rmse_loss, "MAE": l1_loss, "MSE": l2_loss, "Huber": huber_loss,
    "SSIM": ssim_loss, "LNCC": lncc_loss,
}
