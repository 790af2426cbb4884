"""Losses as TensorFlow functions ``loss(labels, logits, weight=None) -> scalar``.

``get_loss(name)`` finds a built-in or plugin loss through the registry; the built-in segmentation
losses live in :mod:`voxflow.losses.segmentation` (see its docstring for the shared conventions:
softmax inside, float32, per-sample reduction, smoothing).
"""

from voxflow.losses.lookup import check_loss_signature, get_loss
from voxflow.losses.segmentation import (
    cross_entropy_loss,
    dice_loss,
    dice_ns_loss,
    dice_plus_xent_loss,
    generalised_dice_loss,
    tversky_loss,
)

__all__ = [
    "check_loss_signature",
    "cross_entropy_loss",
    "dice_loss",
    "dice_ns_loss",
    "dice_plus_xent_loss",
    "generalised_dice_loss",
    "get_loss",
    "tversky_loss",
]
