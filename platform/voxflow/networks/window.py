"""Window-size rules shared by every network: ``check_window``, ``WindowRule`` and ``output_window``.

Most networks return logits of their input's size and only need every axis to be a multiple of
their ``window_divisor``: one int for every axis, or one per spatial axis (a U-Net that pools some
axes less than others, as nnU-Net plans for anisotropic data: ``(2, 8, 8)``). Networks of VALID
convolutions (``deepmedic``, ``unet_2d``) return a smaller, centred output and take only some
window sizes; they declare a :class:`WindowRule` (``window_rule``, a class attribute for the
default ``network_args``; an instance may override it, as ``window_divisor``), which
``check_window`` and ``output_window`` then follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WindowRule:
    """The axis lengths a VALID-convolution network takes, and what it returns for them.

    An axis of ``start + k·step`` voxels (``k ≥ 0``) gives an output axis ``shrink`` voxels
    shorter, centred in the input: ``shrink / 2`` voxels are lost on each side. Shorter axes give
    no output; lengths between the valid ones break a pooling or a sub-sampling.

    Args:
        start: the smallest valid length (its output has ``start − shrink ≥ 1`` voxels).
        step: the distance between valid lengths.
        shrink: input length − output length (even).

    Example:
        >>> rule = WindowRule(start=51, step=3, shrink=48)  # DeepMedic
        >>> rule.output_length(57), rule.fits(56), rule.below(56), rule.above(56)
        (9, False, 54, 57)
    """

    start: int
    step: int
    shrink: int

    def __post_init__(self) -> None:
        if self.step < 1 or self.shrink < 0 or self.shrink % 2 or self.start <= self.shrink:
            raise ValueError(f"Invalid WindowRule {self}: expected step >= 1, an even shrink >= 0 and "
                             "start > shrink.")

    def fits(self, length: int) -> bool:
        """Whether an axis of ``length`` voxels is valid."""
        return length >= self.start and (length - self.start) % self.step == 0

    def output_length(self, length: int) -> int:
        """The output length of a valid axis of ``length`` voxels."""
        return int(length) - self.shrink

    def below(self, length: int) -> int | None:
        """The largest valid length ≤ ``length`` (``None`` if ``length < start``)."""
        if length < self.start:
            return None
        return self.start + (length - self.start) // self.step * self.step

    def above(self, length: int) -> int:
        """The smallest valid length ≥ ``length``."""
        if length <= self.start:
            return self.start
        return self.start + -(-(length - self.start) // self.step) * self.step

    def describe(self) -> str:
        """The rule in words, for messages."""
        first = ", ".join(str(self.start + k * self.step) for k in range(3))
        return (f"one of {first}, ... ({self.start} plus a multiple of {self.step}; a shorter axis gives no "
                f"output; the output is {self.shrink} voxels shorter, centred)")


def _network_label(network: Any) -> str:
    label = getattr(network, "network_name", None)
    if label:
        return str(label)
    cls = network if isinstance(network, type) else type(network)
    return cls.__name__


def _format(shape: Sequence[int]) -> str:
    return "×".join(str(int(s)) for s in shape)


def axis_divisors(network: Any, window_shape: Sequence[int]) -> tuple[int, ...]:
    """The multiple each axis of ``window_shape`` must be for ``network`` (axes of size 1: 1).

    ``window_divisor`` is an int (every axis) or one int per spatial axis of the network. A window
    with one axis more than that, of size 1 (a 2-D window in 3-D layout), gets the divisors on its
    other axes.

    Raises:
        ValueError: per-axis divisors and a window of another number of axes.

    Example:
        >>> axis_divisors(UNet(2, depth=2, pool_sizes=((1, 2, 2), (2, 2, 2))), (8, 16, 1))  # doctest: +SKIP
        (2, 4, 1)
    """
    shape = [int(s) for s in window_shape]
    return tuple(1 if s == 1 else d for s, d in zip(shape, _window_divisors(network, shape)))


def _window_divisors(network: Any, shape: list[int]) -> list[int]:
    """``window_divisor`` for each axis of ``shape``, axes of size 1 not yet excepted."""
    divisor = getattr(network, "window_divisor", 1) or 1
    if not isinstance(divisor, (tuple, list)):
        return [int(divisor)] * len(shape)
    divisors = [int(d) for d in divisor]
    if len(shape) == len(divisors) + 1 and shape.count(1) == 1:
        divisors.insert(shape.index(1), 1)
    if len(shape) != len(divisors):
        raise ValueError(f"window {_format(shape)} cannot fit {_network_label(network)}: it has {len(shape)} axes, "
                         f"the network takes {len(divisors)} (multiples of {_format(divisors)}).")
    return divisors


def _rule(network: Any) -> WindowRule | None:
    return getattr(network, "window_rule", None)


def check_window(network: Any, window_shape: Sequence[int]) -> None:
    """Raise if ``window_shape`` cannot be fed to ``network``.

    Every non-singleton spatial axis must be a positive multiple of the network's
    ``window_divisor`` (a class attribute; an instance may override it, e.g. a U-Net with
    ``depth=4`` needs multiples of 16), or of that axis's divisor where ``window_divisor`` has one
    per axis (:func:`axis_divisors`), or, for a network with a ``window_rule``, a length that
    rule takes. Axes of size 1 mark a 2-D window and are exempt. A class is checked with its
    default ``network_args``; pass an instance to check others.

    Args:
        network: a network class or instance (anything with ``window_divisor``).
        window_shape: the spatial window size, e.g. ``(64, 64, 64)`` or ``(96, 96, 1)``.

    Raises:
        ValueError: naming the window, the network, the rule and the nearest valid sizes.

    Example:
        >>> check_window(UNet, (50, 50, 50))  # doctest: +SKIP
        ValueError: window 50×50×50 cannot fit unet: every axis must be a multiple of 8 ...
        >>> check_window(UNet(2, depth=2, pool_sizes=((1, 2, 2), (2, 2, 2))), (6, 20, 20))  # doctest: +SKIP
        ValueError: window 6×20×20 cannot fit unet: axis by axis, the window must be a multiple of 2×4×4 ...
    """
    shape = [int(s) for s in window_shape]
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"window {_format(shape)} is invalid: every axis must be a positive integer.")
    rule = _rule(network)
    if rule is not None:
        _check_rule(network, rule, shape)
        return
    divisors = axis_divisors(network, shape)
    if all(s % d == 0 for s, d in zip(shape, divisors)):
        return
    below = [max(d, s // d * d) for s, d in zip(shape, divisors)]
    above = [-(-s // d) * d for s, d in zip(shape, divisors)]
    options = " or ".join(dict.fromkeys(_format(o) for o in (below, above)))
    declared = getattr(network, "window_divisor", 1) or 1
    declared = tuple(declared) if isinstance(declared, (tuple, list)) else (int(declared),)
    if len(set(declared)) == 1:
        requirement = f"every axis must be a multiple of {declared[0]} (axes of size 1 excepted)"
    else:
        wrong = ", ".join(f"axis {axis} ({s}) is not a multiple of {d}"
                          for axis, (s, d) in enumerate(zip(shape, divisors)) if s % d)
        requirement = (f"axis by axis, the window must be a multiple of {_format(declared)} (axes of size 1 "
                       f"excepted; {wrong})")
    raise ValueError(f"window {_format(shape)} cannot fit {_network_label(network)}: {requirement}. Try {options}.")


def _check_rule(network: Any, rule: WindowRule, shape: list[int]) -> None:
    if all(s == 1 or rule.fits(s) for s in shape):
        return
    below = [s if s == 1 else (rule.below(s) or rule.above(s)) for s in shape]
    above = [s if s == 1 else rule.above(s) for s in shape]
    options = " or ".join(dict.fromkeys(_format(o) for o in (below, above)))
    raise ValueError(
        f"window {_format(shape)} cannot fit {_network_label(network)}: every axis must be {rule.describe()}, "
        f"axes of size 1 excepted. Try {options}."
    )


def output_window(network: Any, window_shape: Sequence[int]) -> tuple[int, ...]:
    """The spatial size of ``network``'s logits for an input window of ``window_shape``.

    The window itself for same-size networks; ``shrink`` voxels less per axis (axes of size 1
    kept) for a network with a ``window_rule``.

    Raises:
        ValueError: the window does not fit the network (see :func:`check_window`).

    Example:
        >>> output_window(DeepMedic, (57, 57, 57))  # doctest: +SKIP
        (9, 9, 9)
    """
    check_window(network, window_shape)
    rule = _rule(network)
    shape = tuple(int(s) for s in window_shape)
    if rule is None:
        return shape
    return tuple(s if s == 1 else rule.output_length(s) for s in shape)


def smallest_valid_window(network: Any, at_least: Sequence[int]) -> tuple[int, ...]:
    """The smallest window ``network`` takes that is at least ``at_least`` along every axis.

    Example:
        >>> smallest_valid_window(DeepMedic, (45, 60, 1))  # doctest: +SKIP
        (51, 60, 1)
    """
    rule = _rule(network)
    if rule is not None:
        return tuple(1 if s == 1 else rule.above(int(s)) for s in at_least)
    divisors = axis_divisors(network, at_least)
    return tuple(1 if s == 1 else max(d, -(-int(s) // d) * d) for s, d in zip(at_least, divisors))
