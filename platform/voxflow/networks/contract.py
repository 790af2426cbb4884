"""Building a network and checking it keeps the network contract, for built-ins and plugins alike.

A network plugin is user code: it may fail to build, build something that is not a Keras model,
or return logits of another shape than the window it was given. :func:`build_network` finds each
of these on one example window, before any training or inference, and says so in one line
(:class:`~voxflow.errors.PluginError`) naming the plugin. Errors of built-in networks are left as
they are (they would be voxflow's bugs, not the user's).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from voxflow.errors import PluginError, first_line


def build_network(net_class: Any, kwargs: dict[str, Any], example: np.ndarray, num_classes: int, label: str,
                  plugin: bool) -> Any:
    """``net_class(**kwargs)``, called once on ``example``; checked when ``plugin`` is true.

    Args:
        net_class: the network class (or factory).
        kwargs: its keyword arguments (the contract's and ``network_args``).
        example: one window in the network's layout, ``(1, *spatial, channels)``.
        num_classes: the channels the logits must have.
        label: how messages name the network, e.g. ``[NETWORK] name = my_nets.Net``.
        plugin: whether the network is user code (then every failure is a ``PluginError``).

    Returns:
        The built model.

    Raises:
        TypeError: arguments the network does not take (the caller names ``network_args``).
        PluginError: a plugin that fails to build or run, is not a ``keras.Model``, or does not
            return ``(1, *spatial, num_classes)`` logits.
    """
    import keras  # noqa: PLC0415

    try:
        model = net_class(**kwargs)
    except TypeError:
        raise
    except Exception as err:
        if not plugin:
            raise
        raise PluginError(f"{label}: building the network raised {type(err).__name__}: {first_line(err)}") from err
    if plugin and not isinstance(model, keras.Model):
        raise PluginError(f"{label} built a {type(model).__name__}, not a keras.Model: a network plugin is a "
                          "keras.Model subclass (docs/plugins.md).")
    try:
        logits = model(example, training=False)
    except Exception as err:
        if not plugin:
            raise
        raise PluginError(f"{label}: calling the network on a window of shape {example.shape} raised "
                          f"{type(err).__name__}: {first_line(err)}") from err
    expected = (*example.shape[:-1], num_classes)
    shape = tuple(int(v) for v in getattr(logits, "shape", ()))
    if shape != expected:
        raise PluginError(f"{label} returned logits of shape {shape} for a window of shape {example.shape}; "
                          f"expected {expected}: one logit per class (num_classes = {num_classes}) at every voxel "
                          "of the window.")
    return model
