"""One registry of names -> classes/functions for every pluggable family.

Built-in entries are stored as ``"module:attribute"`` strings and imported only when looked up, so
importing the registry never imports TensorFlow.  A name that is not built in is treated as a
dotted import path (``my_pkg.nets.MyNet``); the same lookup serves both, so nothing built in is
special-cased.

Example:
    >>> from voxflow import registry
    >>> registry.names("loss")[:3]
    ['CrossEntropy', 'Dice', 'DicePlusXEnt']
    >>> dice = registry.resolve("loss", "Dice")          # built-in
    >>> net = registry.resolve("network", "my_pkg.nets.MyNet")  # plugin by import path
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from voxflow.errors import PluginError

_BUILTINS: dict[str, dict[str, str]] = {
    "network": {
        "toynet": "voxflow.networks.toynet:ToyNet",
        "unet": "voxflow.networks.unet:UNet",
        "highres3dnet": "voxflow.networks.highres3dnet:HighRes3DNet",
        "vnet": "voxflow.networks.vnet:VNet",
        "dense_vnet": "voxflow.networks.dense_vnet:DenseVNet",
    },
    "loss": {
        "Dice": "voxflow.losses.segmentation:dice_loss",
        "Dice_NS": "voxflow.losses.segmentation:dice_ns_loss",
        "GDSC": "voxflow.losses.segmentation:generalised_dice_loss",
        "CrossEntropy": "voxflow.losses.segmentation:cross_entropy_loss",
        "DicePlusXEnt": "voxflow.losses.segmentation:dice_plus_xent_loss",
        "Tversky": "voxflow.losses.segmentation:tversky_loss",
    },
    "optimiser": {
        "adam": "voxflow.engine.optimisers:adam",
        "gradientdescent": "voxflow.engine.optimisers:gradient_descent",
        "momentum": "voxflow.engine.optimisers:momentum",
        "nesterov": "voxflow.engine.optimisers:nesterov",
        "adagrad": "voxflow.engine.optimisers:adagrad",
        "rmsprop": "voxflow.engine.optimisers:rmsprop",
    },
    "sampler": {
        "uniform": "voxflow.data.samplers.uniform:UniformSampler",
        "weighted": "voxflow.data.samplers.weighted:WeightedSampler",
        "balanced": "voxflow.data.samplers.balanced:BalancedSampler",
        "resize": "voxflow.data.samplers.resize:ResizeSampler",
        "grid": "voxflow.data.samplers.grid:GridSampler",
    },
    "application": {
        "segmentation": "voxflow.applications.segmentation:SegmentationApplication",
        "net_segment": "voxflow.applications.segmentation:SegmentationApplication",
    },
    "metric": {},  # filled from voxflow.evaluation.catalogue (see _CATALOGUES)
    "augmentation": {},  # filled from voxflow.augment.catalogue
}

# Families whose built-in table lives with the package that owns them: a module attribute
# ``BUILTINS: dict[str, "module:attribute"]`` read on first use. The catalogue modules must be
# cheap to import (no TensorFlow).
_CATALOGUES = {
    "metric": "voxflow.evaluation.catalogue:BUILTINS",
    "augmentation": "voxflow.augment.catalogue:BUILTINS",
}

# Case-insensitive aliases for built-in names (NiftyNet accepted e.g. ``dice`` for ``Dice``).
_FAMILY_LABEL = {
    "network": "network ([NETWORK] name)",
    "loss": "loss ([TRAINING] loss_type)",
    "optimiser": "optimiser ([TRAINING] optimiser)",
    "sampler": "sampler ([NETWORK] window_sampling)",
    "application": "application (-a)",
    "metric": "metric ([EVALUATION] evaluations)",
    "augmentation": "augmentation ([AUGMENTATION])",
}

_EXTRA: dict[str, dict[str, Any]] = {family: {} for family in _BUILTINS}


def families() -> list[str]:
    """Return the names of all plugin families."""
    return sorted(_BUILTINS)


def names(family: str) -> list[str]:
    """Return the sorted built-in and registered names of ``family``."""
    _check_family(family)
    return sorted(set(_BUILTINS[family]) | set(_EXTRA[family]), key=str.lower)


def register(family: str, name: str | None = None) -> Callable[[Any], Any]:
    """Decorator registering a class or function under ``name`` in ``family``.

    Duplicates are rejected so a plugin cannot silently replace a built-in.
    """
    _check_family(family)

    def decorator(obj: Any) -> Any:
        key = name or obj.__name__
        if key in _BUILTINS[family] or key in _EXTRA[family]:
            raise PluginError(f"A {family} named '{key}' is already registered.")
        _EXTRA[family][key] = obj
        return obj

    return decorator


def is_builtin(family: str, name: str) -> bool:
    """Whether ``name`` (case-insensitive) is a built-in or registered entry of ``family``."""
    return _canonical(family, name) is not None


def resolve(family: str, name: str, search_dirs: tuple[str, ...] = ()) -> Any:
    """Return the object registered as ``name`` or importable at the dotted path ``name``.

    Args:
        family: one of :func:`families`.
        name: a built-in name (case-insensitive) or ``package.module.Attribute``.
        search_dirs: folders (e.g. the config file's folder) tried first for a plugin's module,
            without leaving them on ``sys.path``.

    Raises:
        PluginError: one line saying what was looked up and where, with the nearest names.
    """
    _check_family(family)
    canonical = _canonical(family, name)
    if canonical is not None:
        if canonical in _EXTRA[family]:
            return _EXTRA[family][canonical]
        module_name, attribute = _BUILTINS[family][canonical].split(":")
        return getattr(importlib.import_module(module_name), attribute)
    if "." not in name:
        choices = names(family)
        close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise PluginError(
            f"Unknown {_FAMILY_LABEL[family]}: '{name}'. Expected one of: {', '.join(choices)}, "
            f"or a dotted import path such as my_pkg.module.Class.{hint}"
        )
    return _import_path(family, name, search_dirs)


def _import_path(family: str, path: str, search_dirs: tuple[str, ...]) -> Any:
    module_name, _, attribute = path.rpartition(".")
    added = [d for d in search_dirs if d and os.path.isdir(d) and d not in sys.path]
    sys.path[:0] = added
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        where = f" (searched {', '.join(search_dirs)} and the Python path)" if search_dirs else ""
        raise PluginError(
            f"Cannot import module '{module_name}' for {_FAMILY_LABEL[family]} '{path}'{where}: {err}"
        ) from err
    finally:
        for d in added:
            if d in sys.path:
                sys.path.remove(d)
    if not hasattr(module, attribute):
        raise PluginError(
            f"Module '{module_name}' ({getattr(module, '__file__', '?')}) has no attribute "
            f"'{attribute}' for {_FAMILY_LABEL[family]} '{path}'."
        )
    return getattr(module, attribute)


def _canonical(family: str, name: str) -> str | None:
    for table in (_BUILTINS[family], _EXTRA[family]):
        if name in table:
            return name
    lowered = name.lower()
    for table in (_BUILTINS[family], _EXTRA[family]):
        for key in table:
            if key.lower() == lowered:
                return key
    return None


def _check_family(family: str) -> None:
    if family not in _BUILTINS:
        raise KeyError(f"Unknown registry family '{family}'. Expected one of: {', '.join(families())}")
    catalogue = _CATALOGUES.pop(family, None)
    if catalogue is not None:
        module_name, attribute = catalogue.split(":")
        try:
            table = getattr(importlib.import_module(module_name), attribute)
        except ImportError:
            table = {}
        _BUILTINS[family].update(table)
