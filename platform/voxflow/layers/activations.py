"""Activation factory: one name -> one Keras layer, for any number of spatial dimensions."""

from __future__ import annotations

import keras

from voxflow.layers.factories import check_option, check_spatial_dims

ACTIVATIONS = ("relu", "relu6", "elu", "softplus", "softsign", "sigmoid", "tanh", "prelu", "selu", "leakyrelu")

# NiftyNet's leaky ReLU was 0.51·x + 0.49·|x|, i.e. a negative slope of 0.02.
LEAKY_RELU_SLOPE = 0.02


def get_activation(
    acti_func: str | None, spatial_dims: int = 3, name: str | None = None
) -> keras.layers.Layer | None:
    """Return a Keras layer applying ``acti_func``, or ``None`` for no activation.

    ``prelu`` learns one slope per channel (initialised to 0, i.e. ReLU at start, as NiftyNet did),
    shared over the spatial axes so the layer works for any window size.

    Args:
        acti_func: one of ``ACTIVATIONS`` (case-insensitive); ``None``, ``"none"`` or
            ``"linear"`` mean no activation.
        spatial_dims: 2 or 3, or 0 for vectors ``(B, features)`` (only ``prelu`` depends on it).
        name: the layer name.

    Returns:
        A Keras layer, or ``None``.

    Raises:
        ValueError: for an unknown name (with the closest valid one).

    Example:
        >>> get_activation("prelu", spatial_dims=3, name="acti")  # doctest: +SKIP
    """
    if acti_func is None or str(acti_func).lower() in ("none", "linear"):
        return None
    key = check_option("acti_func", acti_func, ACTIVATIONS)
    spatial_dims = 0 if spatial_dims == 0 else check_spatial_dims(spatial_dims)
    if key == "prelu":
        return keras.layers.PReLU(
            alpha_initializer="zeros", shared_axes=list(range(1, spatial_dims + 1)) or None, name=name
        )
    if key == "leakyrelu":
        return keras.layers.LeakyReLU(negative_slope=LEAKY_RELU_SLOPE, name=name)
    return keras.layers.Activation(key, name=name)
