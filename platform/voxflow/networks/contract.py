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
                  plugin: bool) -> tuple[Any, tuple[int, ...]]:
    """``net_class(**kwargs)``, called once on ``example``; checked when ``plugin`` is true.

    A network may return logits for a centred window smaller than its input (valid convolutions,
    the same number of voxels lost on both sides of each axis) when it declares it with a method
    ``output_window(window) -> output window`` (voxflow's networks have one).

    Args:
        net_class: the network class (or factory).
        kwargs: its keyword arguments (the contract's and ``network_args``).
        example: one window in the network's layout, ``(1, *spatial, channels)``.
        num_classes: the channels the logits must have.
        label: how messages name the network, e.g. ``[NETWORK] name = my_nets.Net``.
        plugin: whether the network is user code (then every failure is a ``PluginError``).

    Returns:
        The built model, and the spatial size of its output for ``example``.

    Raises:
        TypeError: arguments the network does not take (the caller names ``network_args``).
        PluginError: a plugin that fails to build or run, is not a ``keras.Model``, or does not
            return ``(1, *spatial, num_classes)`` logits (or a centred smaller spatial size).
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
    shape = tuple(int(v) for v in getattr(logits, "shape", ()))
    declared = _declared_output(model, example.shape[1:-1])
    expected = (example.shape[0], *declared, num_classes)
    if shape != expected or not _is_centred(declared, example.shape[1:-1]):
        raise PluginError(f"{label} returned logits of shape {shape} for a window of shape {example.shape}; "
                          f"expected {expected}: one logit per class (num_classes = {num_classes}) at every voxel "
                          "of the window, or of the smaller centred window (or none: a classifier) its "
                          "output_window(window) declares.")
    return model, shape[1:-1]


def _declared_output(model: Any, window: tuple[int, ...]) -> tuple[int, ...]:
    """The output window ``model`` declares for ``window`` (``output_window(window)``; valid
    convolutions), or the window itself: a network returns a smaller window only by saying so."""
    declare = getattr(model, "output_window", None)
    return tuple(int(v) for v in declare(tuple(int(w) for w in window))) if callable(declare) else tuple(window)


def _is_centred(output: tuple[int, ...], window: tuple[int, ...]) -> bool:
    """The same number of voxels lost on both sides of every axis, or no spatial axis (a classifier's
    ``(B, num_classes)`` logits: its ``output_window`` is ``()``)."""
    if output == ():
        return True
    return len(output) == len(window) and all(1 <= o <= w and (w - o) % 2 == 0 for o, w in zip(output, window))
