"""Segmentation losses, batched on the device (``[TRAINING] loss_type``).

Every loss has the signature ``loss(labels, logits, weight=None) -> scalar float32 tensor``:

- ``labels``: integer-valued class indices, any integer or float dtype, shaped ``(B, ..., 1)`` or
  ``(B, ...)`` where ``...`` is 2 or 3 spatial axes. Float labels are rounded to the nearest
  integer. A value outside ``[0, K)`` gives an all-zero one-hot row (it is ignored rather than
  raising); keep labels in range with label normalisation / a correct ``num_classes``.
- ``logits``: unnormalised scores ``(B, ..., K)``. The softmax is applied inside (NiftyNet's
  default ``softmax=True``). Everything is computed in float32, also for float16 logits.
- ``weight``: optional non-negative voxel weight map broadcastable (NumPy rules) to the labels,
  ``(B, ..., 1)`` or ``(B, ...)``. A voxel of weight 0 does not influence the loss or gradient.

Notation: ``p`` = softmax probability, ``g`` = one-hot label, ``w`` = voxel weight (1 without a
map), ``Σ`` = sum over the spatial axes of ONE sample, ``ε`` = ``smooth`` (default 1e-5).

Reduction (all losses): per-sample, then mean. Each term is computed for each batch element and
class in one vectorised op (a ``(B, K)`` tensor), then averaged over the batch. This is NiftyNet's
semantics (it looped over the batch with ``tf.map_fn`` on the CPU) without the loop.

Smoothing: the Dice-family scores add ``ε`` to numerator AND denominator, so a class absent from a
sample's labels and prediction scores 1 and a perfect prediction gives a loss of ~0. NiftyNet added
ε to the denominator only, so every absent class scored 0 and the loss never reached 0.

Background: all ``K`` classes, background included, enter the class mean, as in NiftyNet.

Example:
    >>> loss = dice_loss(labels, logits)               # labels (2, 32, 32, 32, 1), logits (..., 4)
    >>> loss = cross_entropy_loss(labels, logits, weight=weight_map)
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import tensorflow as tf

SMOOTH = 1e-5
"""Default ε of the Dice-family scores (numerator and denominator)."""

_MIN_WEIGHT_SUM = 1e-6

TensorLike = tf.types.experimental.TensorLike


class _Batch(NamedTuple):
    logits: tf.Tensor  # (B, ..., K) float32
    one_hot: tf.Tensor  # (B, ..., K) float32
    weight: tf.Tensor | None  # (B, ..., 1) float32, or None
    axes: list[int]  # the spatial axes


def _drop_channel(tensor: tf.Tensor, logits_rank: int, what: str, lower_ok: bool) -> tf.Tensor:
    """Remove a trailing channel axis of size 1 so ``tensor`` is ``(B, ...)``.

    ``lower_ok`` accepts a lower rank too (a weight map broadcast against the labels).
    """
    rank = tensor.shape.rank
    if rank == logits_rank:
        if tensor.shape[-1] is not None and tensor.shape[-1] != 1:
            raise ValueError(
                f"Expected {what} shaped (B, ..., 1) or (B, ...) for logits of rank {logits_rank}. "
                f"Received shape {tensor.shape}."
            )
        return tf.squeeze(tensor, axis=-1)
    if rank == logits_rank - 1 or (lower_ok and rank is not None and rank < logits_rank):
        return tensor
    raise ValueError(
        f"Expected {what} of rank {logits_rank - 1} or {logits_rank} for logits of rank "
        f"{logits_rank}. Received shape {tensor.shape}."
    )


def _prepare(labels: TensorLike, logits: TensorLike, weight: TensorLike | None) -> _Batch:
    """Cast to float32, one-hot encode the labels and shape the weight map as ``(B, ..., 1)``."""
    logits = tf.cast(tf.convert_to_tensor(logits), tf.float32)
    rank = logits.shape.rank
    if rank not in (4, 5):
        raise ValueError(
            f"Expected logits shaped (B, X, Y, K) or (B, X, Y, Z, K). Received shape {logits.shape}."
        )
    labels = _drop_channel(tf.convert_to_tensor(labels), rank, "labels", lower_ok=False)
    if labels.dtype.is_floating:
        labels = tf.round(labels)
    indices = tf.cast(labels, tf.int32)
    num_classes = logits.shape[-1] if logits.shape[-1] is not None else tf.shape(logits)[-1]
    one_hot = tf.one_hot(indices, num_classes, dtype=tf.float32)
    if weight is not None:
        weight = tf.cast(tf.convert_to_tensor(weight), tf.float32)
        weight = _drop_channel(weight, rank, "weight", lower_ok=True)
        weight = tf.broadcast_to(weight, tf.shape(indices))[..., tf.newaxis]
    return _Batch(logits, one_hot, weight, list(range(1, rank - 1)))


def _spatial_sum(values: tf.Tensor, batch: _Batch) -> tf.Tensor:
    """``Σ w · values`` over the spatial axes: ``(B, ..., K)`` → ``(B, K)``."""
    if batch.weight is not None:
        values = values * batch.weight
    return tf.reduce_sum(values, axis=batch.axes)


def _one_minus_mean(scores: tf.Tensor) -> tf.Tensor:
    """``1 − mean(scores)``, clipped at 0 so float rounding of a perfect score is never negative."""
    return tf.maximum(1.0 - tf.reduce_mean(scores), 0.0)


def _dice_scores(batch: _Batch, squared: bool, smooth: float) -> tf.Tensor:
    probs = tf.nn.softmax(batch.logits, axis=-1)
    intersection = _spatial_sum(probs * batch.one_hot, batch)
    predicted = _spatial_sum(tf.square(probs) if squared else probs, batch)
    reference = _spatial_sum(batch.one_hot, batch)  # g² = g for one-hot labels
    return (2.0 * intersection + smooth) / (predicted + reference + smooth)


def dice_loss(
    labels: TensorLike,
    logits: TensorLike,
    weight: TensorLike | None = None,
    *,
    smooth: float = SMOOTH,
) -> tf.Tensor:
    """Soft Dice loss with squared denominators (``Dice``; Milletari et al. 2016, V-Net).

    Per sample b and class k::

        D_bk = (2 Σ w p g + ε) / (Σ w p² + Σ w g² + ε)
        loss = 1 − mean_{b,k} D_bk

    Background is one of the k (as NiftyNet). Milletari F, Navab N, Ahmadi S-A. "V-Net: Fully
    convolutional neural networks for volumetric medical image segmentation." 3DV 2016.

    Args:
        labels: class indices ``(B, ..., 1)`` or ``(B, ...)``.
        logits: scores ``(B, ..., K)``; softmax is applied inside.
        weight: optional voxel weight map broadcastable to ``labels``.
        smooth: ε added to numerator and denominator.

    Returns:
        Scalar float32 loss in ``[0, 1]``.
    """
    return _one_minus_mean(_dice_scores(_prepare(labels, logits, weight), True, smooth))


def dice_ns_loss(
    labels: TensorLike,
    logits: TensorLike,
    weight: TensorLike | None = None,
    *,
    smooth: float = SMOOTH,
) -> tf.Tensor:
    """Soft Dice loss without squares (``Dice_NS``; NiftyNet ``dice_nosquare``).

    Per sample b and class k::

        D_bk = (2 Σ w p g + ε) / (Σ w p + Σ w g + ε)
        loss = 1 − mean_{b,k} D_bk

    Args:
        labels: class indices ``(B, ..., 1)`` or ``(B, ...)``.
        logits: scores ``(B, ..., K)``; softmax is applied inside.
        weight: optional voxel weight map broadcastable to ``labels``.
        smooth: ε added to numerator and denominator.

    Returns:
        Scalar float32 loss in ``[0, 1]``.
    """
    return _one_minus_mean(_dice_scores(_prepare(labels, logits, weight), False, smooth))


def generalised_dice_loss(
    labels: TensorLike,
    logits: TensorLike,
    weight: TensorLike | None = None,
    *,
    weight_type: Literal["square", "simple", "uniform"] = "square",
    smooth: float = SMOOTH,
) -> tf.Tensor:
    """Generalised Dice loss (``GDSC``; Sudre et al. 2017).

    Per sample, with reference volume ``R_k = Σ w g``, predicted volume ``S_k = Σ w p`` and
    intersection ``I_k = Σ w p g``::

        c_k = 1 / R_k²   ("square"; "simple": 1 / R_k; "uniform": 1)
        c_k = max finite c  where c_k is infinite (class absent from the sample, as NiftyNet)
        c_k = c_k / Σ_k c_k                       (normalised: the score is scale-free, so ε is too)
        GD  = (2 Σ_k c_k I_k + ε) / (Σ_k c_k (S_k + R_k) + ε)
        loss = 1 − mean_b GD

    If every class weight is infinite (e.g. an all-zero weight map) uniform weights are used. The
    class weights come from the labels only and carry no gradient. NiftyNet used
    ``max(S_k + R_k, 1)`` instead of the normalisation + ε; that made a perfect prediction of a
    patch missing a class score below 1.

    Sudre CH, Li W, Vercauteren T, Ourselin S, Cardoso MJ. "Generalised Dice overlap as a deep
    learning loss function for highly unbalanced segmentations." DLMIA 2017.

    Args:
        labels: class indices ``(B, ..., 1)`` or ``(B, ...)``.
        logits: scores ``(B, ..., K)``; softmax is applied inside.
        weight: optional voxel weight map broadcastable to ``labels``.
        weight_type: class weighting, ``"square"`` (default), ``"simple"`` or ``"uniform"``.
        smooth: ε added to numerator and denominator.

    Returns:
        Scalar float32 loss in ``[0, 1]``.

    Raises:
        ValueError: for an unknown ``weight_type``.
    """
    batch = _prepare(labels, logits, weight)
    probs = tf.nn.softmax(batch.logits, axis=-1)
    reference = _spatial_sum(batch.one_hot, batch)
    predicted = _spatial_sum(probs, batch)
    intersection = _spatial_sum(probs * batch.one_hot, batch)
    volume = tf.stop_gradient(reference)
    if weight_type == "square":
        class_weight = tf.math.reciprocal(tf.square(volume))
    elif weight_type == "simple":
        class_weight = tf.math.reciprocal(volume)
    elif weight_type == "uniform":
        class_weight = tf.ones_like(volume)
    else:
        raise ValueError(
            f"Invalid value for `weight_type`. Expected one of: square, simple, uniform. "
            f"Received: {weight_type!r}."
        )
    finite = tf.math.is_finite(class_weight)
    largest = tf.reduce_max(tf.where(finite, class_weight, 0.0), axis=-1, keepdims=True)
    class_weight = tf.where(finite, class_weight, largest)
    class_weight = tf.where(largest > 0.0, class_weight, 1.0)
    class_weight = class_weight / tf.reduce_sum(class_weight, axis=-1, keepdims=True)
    numerator = 2.0 * tf.reduce_sum(class_weight * intersection, axis=-1) + smooth
    denominator = tf.reduce_sum(class_weight * (predicted + reference), axis=-1) + smooth
    return _one_minus_mean(numerator / denominator)


def _cross_entropy(batch: _Batch) -> tf.Tensor:
    voxel_ce = -tf.reduce_sum(batch.one_hot * tf.nn.log_softmax(batch.logits, axis=-1), axis=-1)
    if batch.weight is None:
        return tf.reduce_mean(voxel_ce)
    weight = batch.weight[..., 0]
    per_sample = tf.reduce_sum(weight * voxel_ce, axis=batch.axes) / tf.maximum(
        tf.reduce_sum(weight, axis=batch.axes), _MIN_WEIGHT_SUM
    )
    return tf.reduce_mean(per_sample)


def cross_entropy_loss(
    labels: TensorLike, logits: TensorLike, weight: TensorLike | None = None
) -> tf.Tensor:
    """Softmax cross-entropy (``CrossEntropy``), a (weighted) mean over voxels.

    Per voxel ``ce = −log softmax(logits)[label]``. Without a weight map the loss is the mean of
    ``ce`` over all voxels of the batch; with one it is, per sample, ``Σ w ce / max(Σ w, 1e-6)``,
    then the mean over the batch (NiftyNet's per-sample semantics; a sample whose weights are all
    zero contributes 0).

    Args:
        labels: class indices ``(B, ..., 1)`` or ``(B, ...)``.
        logits: scores ``(B, ..., K)``.
        weight: optional voxel weight map broadcastable to ``labels``.

    Returns:
        Scalar float32 loss ``>= 0``.
    """
    return _cross_entropy(_prepare(labels, logits, weight))


def dice_plus_xent_loss(
    labels: TensorLike,
    logits: TensorLike,
    weight: TensorLike | None = None,
    *,
    smooth: float = SMOOTH,
) -> tf.Tensor:
    """Cross-entropy plus soft Dice loss (``DicePlusXEnt``; the nnU-Net / Isensee 2021 pairing).

    ``loss = cross_entropy_loss + dice_ns_loss``, i.e. ``CE + (1 − mean_{b,k} D_bk)`` with the
    non-squared Dice ``D_bk`` of :func:`dice_ns_loss` (NiftyNet's choice for this loss). Never
    negative: NiftyNet returned ``CE − Dice``, which is.

    Isensee F, Jaeger PF, Kohl SAA, Petersen J, Maier-Hein KH. "nnU-Net: a self-configuring method
    for deep learning-based biomedical image segmentation." Nature Methods 2021.

    Args:
        labels: class indices ``(B, ..., 1)`` or ``(B, ...)``.
        logits: scores ``(B, ..., K)``; softmax is applied inside.
        weight: optional voxel weight map broadcastable to ``labels``, used by both terms.
        smooth: ε of the Dice term.

    Returns:
        Scalar float32 loss ``>= 0``.
    """
    batch = _prepare(labels, logits, weight)
    return _cross_entropy(batch) + _one_minus_mean(_dice_scores(batch, False, smooth))


def tversky_loss(
    labels: TensorLike,
    logits: TensorLike,
    weight: TensorLike | None = None,
    *,
    alpha: float = 0.3,
    beta: float = 0.7,
    smooth: float = SMOOTH,
) -> tf.Tensor:
    """Tversky loss computed per class (``Tversky``; Salehi et al. 2017).

    Per sample b and class k::

        TP = Σ w p g,   FP = Σ w p (1 − g),   FN = Σ w (1 − p) g
        TI_bk = (TP + ε) / (TP + α FP + β FN + ε)
        loss = 1 − mean_{b,k} TI_bk

    ``α = 0.3`` weighs false positives and ``β = 0.7`` false negatives (the paper's best setting),
    favouring recall. ``α = β = 0.5`` gives the non-squared Dice of :func:`dice_ns_loss` (exactly
    with ``smooth`` halved). NiftyNet summed TP, FP and FN over all classes jointly; here each class
    has its own index, like every other loss in this module.

    Salehi SSM, Erdogmus D, Gholipour A. "Tversky loss function for image segmentation using 3D
    fully convolutional deep networks." MLMI 2017.

    Args:
        labels: class indices ``(B, ..., 1)`` or ``(B, ...)``.
        logits: scores ``(B, ..., K)``; softmax is applied inside.
        weight: optional voxel weight map broadcastable to ``labels``.
        alpha: weight of false positives.
        beta: weight of false negatives.
        smooth: ε added to numerator and denominator.

    Returns:
        Scalar float32 loss in ``[0, 1]``.
    """
    batch = _prepare(labels, logits, weight)
    probs = tf.nn.softmax(batch.logits, axis=-1)
    true_pos = _spatial_sum(probs * batch.one_hot, batch)
    false_pos = _spatial_sum(probs * (1.0 - batch.one_hot), batch)
    false_neg = _spatial_sum((1.0 - probs) * batch.one_hot, batch)
    index = (true_pos + smooth) / (true_pos + alpha * false_pos + beta * false_neg + smooth)
    return _one_minus_mean(index)
