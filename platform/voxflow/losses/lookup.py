"""Find a loss by name (``[TRAINING] loss_type``) and check that it can be called as a loss.

Built-in names (``Dice``, ``Dice_NS``, ``GDSC``, ``CrossEntropy``, ``DicePlusXEnt``, ``Tversky``,
case-insensitive) and plugins named by import path (``my_pkg.losses.focal``) go through the same
:func:`voxflow.registry.resolve`. This module does not import TensorFlow itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from voxflow import registry
from voxflow.errors import PluginError

LossFunction = Callable[..., Any]
"""``loss(labels, logits, weight=None) -> scalar tensor``."""

_EXPECTED = "loss(labels, logits, weight=None)"


def get_loss(name: str, search_dirs: tuple[str, ...] = ()) -> LossFunction:
    """Return the loss registered as ``name`` or importable at the dotted path ``name``.

    A class (e.g. a ``keras.losses.Loss`` subclass) is instantiated without arguments and the
    instance is returned. The result is checked with :func:`check_loss_signature`.

    Args:
        name: a built-in loss name (case-insensitive) or ``package.module.function``.
        search_dirs: folders (e.g. the config file's folder) tried first for a plugin's module.

    Returns:
        A callable ``loss(labels, logits, weight=None)`` returning a scalar tensor.

    Raises:
        PluginError: unknown name, import failure, or a wrong signature (one line).

    Example:
        >>> loss_fn = get_loss("Dice")
        >>> value = loss_fn(labels, logits, weight)
    """
    loss = registry.resolve("loss", name, search_dirs)
    if inspect.isclass(loss):
        try:
            loss = loss()
        except Exception as err:  # noqa: BLE001 - any failure is the plugin's, reported in one line
            raise PluginError(
                f"Loss class '{name}' could not be instantiated without arguments: "
                f"{type(err).__name__}: {err}"
            ) from err
    check_loss_signature(loss, name)
    return loss


def check_loss_signature(loss: Any, name: str = "") -> None:
    """Check that ``loss`` can be called as ``loss(labels, logits)`` and ``loss(labels, logits, w)``.

    Args:
        loss: the object to check.
        name: how the user named it (for the message); defaults to the object's qualified name.

    Raises:
        PluginError: one line naming the loss, the expected and the received signature.
    """
    label = name or _qualified_name(loss)
    if not callable(loss):
        raise PluginError(
            f"Loss '{label}' must be callable as {_EXPECTED}. Received a {type(loss).__name__}."
        )
    try:
        signature = inspect.signature(loss)
    except (TypeError, ValueError):
        return  # builtins / C extensions without an introspectable signature: trust them
    try:
        signature.bind(None, None)
        signature.bind(None, None, None)
    except TypeError:
        raise PluginError(
            f"Loss '{label}' ({_qualified_name(loss)}) must be callable as {_EXPECTED}. "
            f"Received signature {signature}."
        ) from None


def _qualified_name(obj: Any) -> str:
    target = obj if inspect.isfunction(obj) or inspect.isclass(obj) else type(obj)
    module = getattr(target, "__module__", "?")
    return f"{module}.{getattr(target, '__qualname__', repr(obj))}"
