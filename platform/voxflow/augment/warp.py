"""Warping the maps of a batch by kind: the augmentation layers' use of :mod:`voxflow.layers.warp`.

The resampling itself (trilinear, nearest and cubic interpolation, affine and displacement-field
warps, compiled with XLA) lives in :mod:`voxflow.layers.warp`, shared with the registration
networks; this module says how each kind of map is interpolated.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from voxflow.layers.warp import affine_warp, field_warp
from voxflow.roles import Kind

__all__ = ["INTERPOLATION_ORDER", "LABEL_INTERPOLATIONS", "affine_warp", "check_interpolations", "field_warp",
           "interpolation_support", "warp_maps"]

#: Image interpolations of the spatial layers and their orders.
INTERPOLATION_ORDER = {"nearest": 0, "linear": 1, "cubic": 3}
#: Label interpolations: nearest neighbour, or one-hot channels resampled linearly then argmax.
LABEL_INTERPOLATIONS = ("nearest", "linear")


def check_interpolations(image: str, label: str = "nearest") -> None:
    """Raise ``ValueError`` naming the choices unless ``image`` and ``label`` are interpolations we offer."""
    if image not in INTERPOLATION_ORDER:
        raise ValueError(f"image_interpolation must be one of {', '.join(INTERPOLATION_ORDER)}, got {image!r}")
    if label not in LABEL_INTERPOLATIONS:
        raise ValueError(f"label_interpolation must be one of {', '.join(LABEL_INTERPOLATIONS)}, got {label!r}")


def interpolation_support(image: str) -> int:
    """Voxels an image interpolation reads beyond the sampled point (what a warp's margin adds)."""
    return 2 if image == "cubic" else 1


def warp_maps(batch: dict[str, tf.Tensor], warp: Any, apply: tf.Tensor, maps: dict[str, Kind],
              label_interpolation: str = "nearest", num_classes: int | None = None,
              image_interpolation: str = "linear") -> dict[str, tf.Tensor]:
    """Warp every map of ``batch`` (``maps``: key → kind) with ``warp(volume, order)``; keep samples not
    applied.

    Intensity maps are interpolated linearly or, with ``image_interpolation="cubic"``, by cubic
    convolution (``"nearest"``: nearest neighbour); weight maps linearly; label maps by nearest
    neighbour, or, with ``label_interpolation="linear"``, as one-hot channels resampled linearly then
    argmax.
    """
    out = dict(batch)
    mask = tf.reshape(apply, [-1, 1, 1, 1, 1])
    orders = {Kind.INTENSITY: INTERPOLATION_ORDER[image_interpolation], Kind.LABEL: 0, Kind.WEIGHT: 1}
    for key, kind in maps.items():
        if key not in batch:
            continue
        volume = tf.cast(batch[key], tf.float32)
        if kind is Kind.LABEL and label_interpolation == "linear":
            if not num_classes:
                raise ValueError("label_interpolation = linear needs num_classes")
            onehot = tf.one_hot(tf.cast(tf.round(volume[..., 0]), tf.int32), int(num_classes))
            warped = tf.cast(tf.argmax(warp(onehot, 1), axis=-1), tf.float32)[..., None]
        else:
            warped = warp(volume, orders[kind])
        out[key] = tf.where(mask, warped, volume)
    return out
