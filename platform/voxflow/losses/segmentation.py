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

from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np
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


BRATS_DISTANCE_MATRIX = (
    (0.0, 1.0, 1.0, 1.0, 1.0),
    (1.0, 0.0, 0.6, 0.2, 0.5),
    (1.0, 0.6, 0.0, 0.6, 0.7),
    (1.0, 0.2, 0.6, 0.0, 0.5),
    (1.0, 0.5, 0.7, 0.5, 0.0),
)
"""NiftyNet's default class distance matrix of ``WGDL``: the BraTS label tree of Fidon et al. 2017
(0 background; 1–4 the tumour sub-regions). Its top-left ``K × K`` block serves ``K ≤ 5`` classes."""


def _distance_matrix(matrix: TensorLike | None, num_classes: int | None) -> tf.Tensor:
    """Check a class distance matrix (or pick NiftyNet's default) and return it as float32 (K, K)."""
    if num_classes is None:
        raise ValueError("The generalised Wasserstein Dice loss needs logits with a known number of classes "
                         "(a static last axis). Received an unknown one.")
    if matrix is None:
        if num_classes > len(BRATS_DISTANCE_MATRIX):
            raise ValueError(
                f"The default distance matrix of the generalised Wasserstein Dice loss (NiftyNet's BraTS label "
                f"tree) covers 5 classes. Expected distance_matrix=(a {num_classes} × {num_classes} matrix) for "
                f"{num_classes} classes. Received: None.")
        matrix = [row[:num_classes] for row in BRATS_DISTANCE_MATRIX[:num_classes]]
    values = np.asarray(matrix, dtype=np.float64)
    if values.shape != (num_classes, num_classes):
        raise ValueError(f"Invalid distance_matrix for the generalised Wasserstein Dice loss. Expected shape "
                         f"({num_classes}, {num_classes}) for logits of {num_classes} classes. "
                         f"Received shape {values.shape}.")
    if (not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1
            or np.any(np.diag(values) != 0) or not np.allclose(values, values.T)):
        raise ValueError("Invalid distance_matrix for the generalised Wasserstein Dice loss. Expected a symmetric "
                         "matrix with a zero diagonal and distances in [0, 1] (the largest distance, usually "
                         f"to the background, is 1). Received: {values.tolist()}.")
    return tf.constant(values, tf.float32)


def generalised_wasserstein_dice_loss(
    labels: TensorLike,
    logits: TensorLike,
    weight: TensorLike | None = None,
    *,
    distance_matrix: TensorLike | None = None,
    smooth: float = SMOOTH,
) -> tf.Tensor:
    """Generalised Wasserstein Dice loss (``WGDL``, also ``GWDL``; Fidon et al. 2017).

    With a class distance matrix ``M`` (``M[c, l]``: the cost of predicting ``c`` where the label is
    ``l``; background ``b = 0``), per sample::

        W_i  = Σ_c M[c, l_i] p_ic            Wasserstein distance of voxel i's prediction to its label
        TP   = Σ_i w_i M[l_i, b] (1 − W_i)    generalised true positives (background voxels add 0)
        AE   = Σ_i w_i W_i                    generalised error
        GWD  = (2 TP + ε) / (2 TP + AE + ε)
        loss = 1 − mean_b GWD

    A mistake between close classes (small ``M``) costs less than one between distant classes. With
    two classes and ``M = [[0, 1], [1, 0]]`` the score is the soft Dice of the foreground (the
    non-squared Dice of :func:`dice_ns_loss` for class 1 alone), as the paper shows. ``M``
    defaults to NiftyNet's BraTS matrix :data:`BRATS_DISTANCE_MATRIX` (its top-left block for fewer
    than 5 classes); another matrix is set with :func:`make_generalised_wasserstein_dice_loss`.
    ≠NiftyNet: the voxel weight map is honoured (NiftyNet ignored it with a warning), and ``ε``
    keeps a sample of background only, predicted perfectly, at a loss of 0 (NiftyNet divided 0 by 0).

    Fidon L, Li W, Garcia-Peraza-Herrera LC, Ekanayake J, Kitchen N, Ourselin S, Vercauteren T.
    "Generalised Wasserstein Dice score for imbalanced multi-class segmentation using holistic
    convolutional networks." BrainLes (MICCAI workshop) 2017.

    Args:
        labels: class indices ``(B, ..., 1)`` or ``(B, ...)``.
        logits: scores ``(B, ..., K)`` with a static ``K``; softmax is applied inside.
        weight: optional voxel weight map broadcastable to ``labels``.
        distance_matrix: ``K × K`` symmetric class distances in ``[0, 1]`` with a zero diagonal;
            ``None``: NiftyNet's BraTS matrix (``K ≤ 5``).
        smooth: ε added to numerator and denominator.

    Returns:
        Scalar float32 loss in ``[0, 1]``.

    Raises:
        ValueError: an invalid distance matrix, or more than 5 classes without one.
    """
    batch = _prepare(labels, logits, weight)
    matrix = _distance_matrix(distance_matrix, batch.logits.shape[-1])
    probs = tf.nn.softmax(batch.logits, axis=-1)
    label_costs = tf.tensordot(batch.one_hot, tf.transpose(matrix), axes=1)  # M[c, l_i] over c
    wasserstein = tf.reduce_sum(label_costs * probs, axis=-1, keepdims=True)
    to_background = tf.tensordot(batch.one_hot, matrix[:, 0], axes=1)[..., tf.newaxis]  # M[l_i, b]
    true_pos = _spatial_sum(to_background * (1.0 - wasserstein), batch)[:, 0]
    error = _spatial_sum(wasserstein, batch)[:, 0]
    return _one_minus_mean((2.0 * true_pos + smooth) / (2.0 * true_pos + error + smooth))


def make_generalised_wasserstein_dice_loss(distance_matrix: TensorLike) -> Callable[..., tf.Tensor]:
    """The generalised Wasserstein Dice loss with your class distance matrix, as a ``loss_type``.

    Define it in a module next to the config and name it by import path::

        # my_losses.py
        from voxflow.losses.segmentation import make_generalised_wasserstein_dice_loss
        tree_wgdl = make_generalised_wasserstein_dice_loss([[0, 1, 1], [1, 0, 0.5], [1, 0.5, 0]])

        # config.ini: [TRAINING] loss_type = my_losses.tree_wgdl

    Args:
        distance_matrix: ``K × K`` symmetric class distances in ``[0, 1]`` with a zero diagonal.

    Returns:
        ``loss(labels, logits, weight=None)``; the matrix is checked against ``K`` on first use.
    """
    matrix = np.asarray(distance_matrix, dtype=np.float64)

    def wasserstein_dice_loss(labels: TensorLike, logits: TensorLike, weight: TensorLike | None = None) -> tf.Tensor:
        return generalised_wasserstein_dice_loss(labels, logits, weight, distance_matrix=matrix)

    return wasserstein_dice_loss


def sensitivity_specificity_loss(
    labels: TensorLike,
    logits: TensorLike,
    weight: TensorLike | None = None,
    *,
    r: float = 0.05,
    smooth: float = SMOOTH,
) -> tf.Tensor:
    """Sensitivity–specificity loss (``SensSpec``; Brosch et al. 2015), summed over the classes.

    Per sample and class k, with the squared error ``e = (g − p)²``::

        sensitivity error  A_k = Σ w e g / (Σ w g + ε)          (on the class's voxels)
        specificity error  B_k = Σ w e (1 − g) / (Σ w (1 − g) + ε)   (on the other voxels)
        loss = mean_b Σ_k (r A_k + (1 − r) B_k)

    ``r`` (the paper's sensitivity ratio, 0.05 as NiftyNet; the authors advise 0.01–0.10) weighs the
    errors on a class's voxels against those elsewhere. As NiftyNet, the classes are summed, not
    averaged, so the loss lies in ``[0, K]``; ε only guards empty sets. Voxels whose label is out
    of range count in neither set. ≠NiftyNet: the voxel weight map is honoured (NiftyNet ignored it
    with a warning).

    Brosch T, Yoo Y, Tang LYW, Li DKB, Traboulsee A, Tam R. "Deep convolutional encoder networks for
    multiple sclerosis lesion segmentation." MICCAI 2015.

    Args:
        labels: class indices ``(B, ..., 1)`` or ``(B, ...)``.
        logits: scores ``(B, ..., K)``; softmax is applied inside.
        weight: optional voxel weight map broadcastable to ``labels``.
        r: weight of the sensitivity term, in ``[0, 1]``.
        smooth: ε added to the denominators.

    Returns:
        Scalar float32 loss ``>= 0``.
    """
    batch = _prepare(labels, logits, weight)
    probs = tf.nn.softmax(batch.logits, axis=-1)
    squared_error = tf.square(batch.one_hot - probs)
    others = tf.reduce_sum(batch.one_hot, axis=-1, keepdims=True) - batch.one_hot  # 0 where out of range
    sensitivity = _spatial_sum(squared_error * batch.one_hot, batch) / (_spatial_sum(batch.one_hot, batch) + smooth)
    specificity = _spatial_sum(squared_error * others, batch) / (_spatial_sum(others, batch) + smooth)
    return tf.reduce_mean(tf.reduce_sum(r * sensitivity + (1.0 - r) * specificity, axis=-1))
