"""Value types for keys that name a pluggable component: a network, loss, optimiser, sampler, metric.

Names are looked up in :mod:`voxflow.registry` when the config is read (no component is
imported), so that NiftyNet's names are read as voxflow's and one voxflow does not have is a
config problem, reported with the others:

* a built-in or registered name, in any case, is kept as written;
* NiftyNet's name of a component (its alias or import path, e.g. ``niftynet.network.unet.UNet3D``)
  is stored as voxflow's name of it (``unet``), and :meth:`~voxflow.config.values.ValueType.notice`
  says so, since voxflow's component is its own implementation;
* NiftyNet's name of a component voxflow does not have is refused, saying so (never "did you mean");
* any other name is kept: a dotted import path is a plugin, imported when it is used, and a name
  nothing registers is refused with the registered names when the component is looked up (a
  plugin module may register names of its own when it is imported).

Example:
    >>> ComponentType("network", "a network").parse("niftynet.network.unet.UNet3D", ".")
    'unet'
"""

from __future__ import annotations

from typing import Any

from voxflow import registry
from voxflow.config.arrays import StrArrayType
from voxflow.config.values import ChoiceOrPathType, InvalidValue, StrType, to_str

_PATH_EXAMPLE = "a dotted import path such as my_pkg.module.Name"


def _lookup(family: str, word: str) -> str | None:
    """``word`` if it is registered as written (in any case), voxflow's name if ``word`` is
    NiftyNet's other name of a registered entry, None if it is not registered."""
    if not registry.is_builtin(family, word):
        return None
    canonical = registry.canonical_name(family, word)
    return word if canonical.lower() == word.lower() else canonical


def _niftynet_notice(family: str, written: Any, parsed: Any) -> str | None:
    if not isinstance(written, str) or written.strip().lower() == str(parsed).lower():
        return None
    if registry.niftynet_entry(family, written.strip()) is None:
        return None
    return (f"'{written.strip()}' is NiftyNet's name of voxflow's {family} '{parsed}' (voxflow's own "
            "implementation; README.md, \"NiftyNet configs\")")


class ComponentType(StrType):
    """A registered name of a registry family (see the module docstring) or a dotted import path."""

    def __init__(self, family: str, noun: str) -> None:
        super().__init__(f"{noun} name")
        self.family = family
        self.noun = noun

    def expected(self) -> str:
        return f"{self.noun} name ({', '.join(registry.names(self.family))}) or {_PATH_EXAMPLE}"

    def parse(self, value: Any, base_dir: str) -> str:
        word = to_str(value)
        found = _lookup(self.family, word)
        if found is not None:
            return found
        missing = registry.niftynet_what(self.family, word)
        if missing is not None:
            raise InvalidValue(detail=missing)
        return word

    def notice(self, value: Any, parsed: Any) -> str | None:
        return _niftynet_notice(self.family, value, parsed)


class ComponentChoiceType(ChoiceOrPathType):
    """:class:`ComponentType` whose names are listed as choices (in registration order, less
    ``exclude``): ``[NETWORK] window_sampling`` lists the training samplers registered."""

    def __init__(self, family: str, exclude: tuple[str, ...] = ()) -> None:  # noqa: D107 - no ChoiceType.__init__
        self.family = family
        self.exclude = exclude
        self.note = ""

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override] - read from the registry each time
        return tuple(name for name in registry.names(self.family, sort=False) if name not in self.exclude)

    def parse(self, value: Any, base_dir: str) -> str:
        word = to_str(value)
        found = _lookup(self.family, word)
        if found is not None and found in self.choices:
            return registry.canonical_name(self.family, found)
        missing = registry.niftynet_what(self.family, word)
        if missing is not None:
            raise InvalidValue(detail=missing)
        return super().parse(word, base_dir)

    def notice(self, value: Any, parsed: Any) -> str | None:
        return _niftynet_notice(self.family, value, parsed)


class MetricNamesType(StrArrayType):
    """``[EVALUATION] evaluations``: metric names or dotted import paths.

    NiftyNet's metric names are voxflow's where voxflow computes the metric
    (:data:`voxflow.evaluation.catalogue.ALIASES`); the others are refused with what to use instead
    (:data:`voxflow.evaluation.catalogue.NIFTYNET_NOT_COMPUTED`). Other names are checked when the
    metrics are computed (:func:`voxflow.evaluation.metrics.resolve_metrics` knows the
    parametrised spellings such as ``hausdorff99``).
    """

    doc_name = "str array"

    def expected(self) -> str:
        return "metric names (docs/evaluation.md) or dotted import paths, separated by commas"

    def convert(self, item: Any) -> str:
        from voxflow.evaluation.catalogue import NIFTYNET_NOT_COMPUTED  # noqa: PLC0415 - imports nothing

        word = to_str(item)
        entry = registry.niftynet_entry("metric", word)
        name = entry[0] if entry is not None else word
        if name.lower() in NIFTYNET_NOT_COMPUTED:
            raise InvalidValue(detail=f"NiftyNet's {name} is not computed by voxflow: "
                                      f"{NIFTYNET_NOT_COMPUTED[name.lower()]}")
        return name if entry is not None and registry.is_builtin("metric", name) else word


__all__ = ["ComponentChoiceType", "ComponentType", "MetricNamesType"]
