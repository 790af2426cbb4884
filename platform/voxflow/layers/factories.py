"""Dimension-agnostic factories for the Keras layers every block is built from.

Blocks take ``spatial_dims`` (2 or 3) and ask these factories for the matching Keras class, so the
library has no 2-D/3-D twin classes. Initialisers and regularisers are passed around in their
*serialised* form (a string or a config dict) so every layer deserialises its own fresh instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from voxflow.naming import did_you_mean

SPATIAL_DIMS = (2, 3)

_CONV = {2: keras.layers.Conv2D, 3: keras.layers.Conv3D}
_CONV_TRANSPOSE = {2: keras.layers.Conv2DTranspose, 3: keras.layers.Conv3DTranspose}
_POOL = {
    "max": {2: keras.layers.MaxPooling2D, 3: keras.layers.MaxPooling3D},
    "avg": {2: keras.layers.AveragePooling2D, 3: keras.layers.AveragePooling3D},
}
_UPSAMPLING = {2: keras.layers.UpSampling2D, 3: keras.layers.UpSampling3D}


def check_spatial_dims(spatial_dims: int) -> int:
    """Return ``spatial_dims`` if it is 2 or 3, else raise.

    Raises:
        ValueError: for any other value.
    """
    if spatial_dims not in SPATIAL_DIMS:
        raise ValueError(f"Invalid value for `spatial_dims`. Expected 2 or 3. Received: {spatial_dims!r}.")
    return int(spatial_dims)


def check_option(kind: str, value: str, options: tuple[str, ...] | list[str]) -> str:
    """Return ``value`` lower-cased if it is one of ``options``, else raise with a suggestion.

    Raises:
        ValueError: naming the valid options and the closest one.
    """
    key = str(value).lower()
    if key in options:
        return key
    hint = did_you_mean(key, options)
    raise ValueError(
        f"Invalid value for `{kind}`. Expected one of: {', '.join(options)}. Received: {value!r}.{hint}"
    )


def serialize_initializer(value: Any) -> Any:
    """Validate an initialiser (name, config dict or instance) and return its serialised form."""
    initializer = keras.initializers.get(value)
    if initializer is None:
        raise ValueError(f"Invalid kernel initialiser: {value!r}.")
    if isinstance(value, str):
        return value
    return keras.initializers.serialize(initializer)


def serialize_regularizer(value: Any) -> Any:
    """Validate a regulariser and return its serialised form (``None`` for no regulariser).

    Accepts ``None``, a float (an L2 weight decay factor, NiftyNet's ``w_regularizer`` style), a
    Keras name such as ``"l2"``, a config dict or a ``keras.regularizers.Regularizer`` instance.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"Invalid kernel regulariser: {value!r}.")
    if isinstance(value, (int, float)):
        if value <= 0:
            return None
        return keras.regularizers.serialize(keras.regularizers.L2(float(value)))
    regularizer = keras.regularizers.get(value)
    if regularizer is None:
        raise ValueError(f"Invalid kernel regulariser: {value!r}.")
    if isinstance(value, str):
        return value
    return keras.regularizers.serialize(regularizer)


def _fresh(serialized: Any, getter: Any) -> Any:
    """Deserialise a fresh instance (dicts are copied because Keras may mutate them)."""
    if isinstance(serialized, dict):
        serialized = dict(serialized)
    return getter(serialized)


def _size(value: int | Sequence[int]) -> int | tuple[int, ...]:
    """An int, or one int per spatial axis (a per-axis kernel or stride)."""
    return int(value) if isinstance(value, (int, np.integer)) else tuple(int(v) for v in value)


def conv_layer(
    spatial_dims: int,
    filters: int,
    kernel_size: int | Sequence[int] = 3,
    strides: int | Sequence[int] = 1,
    dilation: int = 1,
    use_bias: bool = True,
    kernel_initializer: Any = "he_normal",
    kernel_regularizer: Any = None,
    transpose: bool = False,
    name: str | None = None,
) -> keras.layers.Layer:
    """Return a SAME-padded ``Conv{2,3}D`` (or ``Conv{2,3}DTranspose``) layer; ``kernel_size`` and
    ``strides`` are one int or one per axis."""
    table = _CONV_TRANSPOSE if transpose else _CONV
    return table[check_spatial_dims(spatial_dims)](
        filters=int(filters),
        kernel_size=_size(kernel_size),
        strides=_size(strides),
        dilation_rate=int(dilation),
        padding="same",
        use_bias=use_bias,
        kernel_initializer=_fresh(kernel_initializer, keras.initializers.get),
        kernel_regularizer=_fresh(kernel_regularizer, keras.regularizers.get),
        name=name,
    )


def pooling_layer(spatial_dims: int, mode: str, pool_size: int = 2, name: str | None = None) -> keras.layers.Layer:
    """Return a SAME-padded max or average pooling layer with stride = ``pool_size``."""
    mode = check_option("mode", mode, tuple(_POOL))
    return _POOL[mode][check_spatial_dims(spatial_dims)](
        pool_size=int(pool_size), strides=int(pool_size), padding="same", name=name
    )


def upsampling_layer(spatial_dims: int, factor: int = 2, name: str | None = None) -> keras.layers.Layer:
    """Return a nearest-neighbour repeat layer (``UpSampling{2,3}D``)."""
    return _UPSAMPLING[check_spatial_dims(spatial_dims)](size=int(factor), name=name)
