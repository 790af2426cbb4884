"""Window-size rules shared by every network: ``check_window``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _network_label(network: Any) -> str:
    label = getattr(network, "network_name", None)
    if label:
        return str(label)
    cls = network if isinstance(network, type) else type(network)
    return cls.__name__


def _format(shape: Sequence[int]) -> str:
    return "×".join(str(int(s)) for s in shape)


def check_window(network: Any, window_shape: Sequence[int]) -> None:
    """Raise if ``window_shape`` cannot be fed to ``network``.

    Every non-singleton spatial axis must be a positive multiple of the network's
    ``window_divisor`` (a class attribute; an instance may override it, e.g. a U-Net with
    ``depth=4`` needs multiples of 16). Axes of size 1 mark a 2-D window and are exempt.

    Args:
        network: a network class or instance (anything with ``window_divisor``).
        window_shape: the spatial window size, e.g. ``(64, 64, 64)`` or ``(96, 96, 1)``.

    Raises:
        ValueError: naming the window, the network, the divisor and the nearest valid sizes.

    Example:
        >>> check_window(UNet, (50, 50, 50))  # doctest: +SKIP
        ValueError: window 50×50×50 cannot fit unet: every axis must be a multiple of 8 ...
    """
    divisor = int(getattr(network, "window_divisor", 1) or 1)
    shape = [int(s) for s in window_shape]
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"window {_format(shape)} is invalid: every axis must be a positive integer.")
    if all(s == 1 or s % divisor == 0 for s in shape):
        return
    below = [s if s == 1 else max(divisor, s // divisor * divisor) for s in shape]
    above = [s if s == 1 else -(-s // divisor) * divisor for s in shape]
    options = " or ".join(dict.fromkeys(_format(o) for o in (below, above)))
    raise ValueError(
        f"window {_format(shape)} cannot fit {_network_label(network)}: every axis must be a multiple "
        f"of {divisor} (axes of size 1 excepted). Try {options}."
    )
