"""Normalisation factory: batch, instance, group or none, for any number of spatial dimensions."""

from __future__ import annotations

import math
from typing import Any

import keras

from voxflow.layers.factories import check_option

NORMALIZATIONS = ("batch", "instance", "group", "none")

# NiftyNet's defaults: moving-average decay 0.9 and epsilon 1e-5.
BATCH_NORM_MOMENTUM = 0.9
NORM_EPSILON = 1e-5
DEFAULT_GROUPS = 8


@keras.saving.register_keras_serializable(package="voxflow")
class GroupNorm(keras.layers.GroupNormalization):
    """Group normalisation that fits any channel count.

    Keras' ``GroupNormalization`` requires the channel count to be a multiple of ``groups``; this
    variant uses ``gcd(groups, channels)`` groups instead, so a ``group`` setting works for every
    block of a network (e.g. growth rate 4 in DenseVNet). ``groups=-1`` is instance normalisation.

    Args:
        groups: the largest number of groups to use, or -1 for one group per channel.
        **kwargs: passed to ``keras.layers.GroupNormalization``.
    """

    def __init__(self, groups: int = DEFAULT_GROUPS, **kwargs: Any) -> None:
        super().__init__(groups=groups, **kwargs)
        self.requested_groups = int(groups)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        channels = input_shape[self.axis]
        if self.requested_groups > 0 and channels is not None:
            self.groups = math.gcd(self.requested_groups, int(channels))
        super().build(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["groups"] = self.requested_groups
        return config


def _several_replicas() -> bool:
    """Whether layers are being built under a ``tf.distribute`` strategy with several replicas."""
    import tensorflow as tf  # noqa: PLC0415

    return tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1


def get_normalization(
    norm: str | None, groups: int = DEFAULT_GROUPS, name: str | None = None
) -> keras.layers.Layer | None:
    """Return a normalisation layer over the channel axis (channels last), or ``None``.

    Args:
        norm: ``batch`` (moving averages, momentum 0.9; statistics synchronised across replicas when
            built under a strategy with several), ``instance`` (per sample and channel),
            ``group`` (``groups`` groups, fewer when the channel count needs it) or ``none``.
        groups: the number of groups for ``group``.
        name: the layer name.

    Raises:
        ValueError: for an unknown name.
    """
    if norm is None:
        return None
    key = check_option("norm", norm, NORMALIZATIONS)
    if key == "batch":
        # Under several replicas, batch statistics are those of the global batch (synchronised), so
        # N replicas of batch_size b train like one device with N·b; one device skips the all-reduce.
        return keras.layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, epsilon=NORM_EPSILON,
                                               synchronized=_several_replicas(), name=name)
    if key == "instance":
        return GroupNorm(groups=-1, epsilon=NORM_EPSILON, name=name)
    if key == "group":
        return GroupNorm(groups=groups, epsilon=NORM_EPSILON, name=name)
    return None
