"""Built-in augmentation names for the registry's ``augmentation`` family (``[AUGMENTATION]``).

Maps each name to ``"module:Class"``; read lazily by :mod:`voxflow.registry`. Every transform is
listed under its CamelCase name and its snake_case name (the spelling INI keys take). Importing this
module imports nothing else (no TensorFlow): the config validator and ``net_transform --list`` read
:data:`ARGUMENTS` to check and show each transform's arguments.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from voxflow.naming import closest

_MODULES: dict[str, str] = {
    "RandomFlip": "flip",
    "RandomAffine": "affine",
    "RandomElasticDeformation": "elastic",
    "RandomAnisotropy": "anisotropy",
    "RandomSwap": "swap",
    "RandomBiasField": "intensity",
    "RandomGamma": "intensity",
    "RandomNoise": "intensity",
    "RandomIntensityScale": "intensity",
    "RandomIntensityShift": "intensity",
    "RandomBlur": "blur",
    "RandomMotion": "kspace",
    "RandomGhosting": "kspace",
    "RandomSpike": "kspace",
}

_COMMON = {
    "p": (1.0, "probability that a sample is transformed"),
}
_SHOWN = 100  # the most characters of a user's text that a message shows
_CHANNELS = {
    "per_channel": (False, "draw again for every channel (modality), as TorchIO does per image; "
                           "default: one draw for all, as MONAI"),
}
_SPATIAL = {
    "image_interpolation": ("linear", "`linear`, `cubic` (Keys' cubic convolution, 4×4×4 voxels) or `nearest` "
                                      "for images; weight and sampler maps are always linear"),
    "label_interpolation": ("nearest", "`nearest`, or `linear` (one-hot, resampled, argmax; needs num_classes)"),
    "num_classes": (None, "label values 0..num_classes-1, for label_interpolation = linear"),
}

#: Arguments of each transform: ``{name: {argument: (default, meaning)}}`` (besides ``seed``).
ARGUMENTS: dict[str, dict[str, tuple[Any, str]]] = {
    "RandomFlip": {"axes": ((0, 1, 2), "axes that may be flipped"),
                   "flip_probability": (0.5, "probability of flipping each axis"), **_COMMON},
    "RandomAffine": {
        "scales": (0.1, "scale s ~ U(1-a, 1+a) per axis; (a, b): U(a, b); 6 values: per axis"),
        "degrees": (10.0, "angle ~ U(-a, a) degrees per axis; (a, b): U(a, b); 6 values: per axis"),
        "translation": (0.0, "shift ~ U(-a, a) mm per axis; (a, b): U(a, b); 6 values: per axis"),
        "isotropic": (False, "one scale for every axis"), **_SPATIAL, **_COMMON},
    "RandomElasticDeformation": {
        "num_control_points": (7, "control points per axis (>= 4); three numbers: one count per axis"),
        "max_displacement": (7.5, "control-point displacement ~ U(-a, a) mm per axis; three numbers: one a per axis"),
        "displacement_std": (None, "if set: displacement ~ N(0, std²) mm, clipped at ±3 std (NiftyNet)"),
        "locked_borders": (2, "control-point layers at each border kept still (0, 1 or 2)"),
        **_SPATIAL, **_COMMON},
    "RandomAnisotropy": {"axes": ((0, 1, 2), "one of these axes is downsampled"),
                         "downsampling": ((1.5, 5.0), "factor ~ U(a, b)"),
                         "antialias": (False, "Gaussian along the axis before downsampling, σ = sqrt(f² - 1) / 2.355 "
                                              "voxels (TorchIO's Resample(antialias=True))"), **_COMMON},
    "RandomSwap": {"patch_size": (15, "edge of the swapped cubes, voxels"),
                   "num_iterations": (100, "patch pairs exchanged"),
                   "include_labels": (True, "swap label/weight/sampler maps too"), **_COMMON},
    "RandomBiasField": {"coefficients": (0.5, "polynomial coefficients ~ U(-a, a); (a, b): U(a, b)"),
                        "order": (3, "maximum total order of the polynomial"), **_CHANNELS, **_COMMON},
    "RandomGamma": {"log_gamma": (0.3, "log γ ~ U(-a, a); (a, b): U(a, b)"), **_CHANNELS, **_COMMON},
    "RandomNoise": {"mean": (0.0, "mean ~ U(-a, a); (a, b): U(a, b)"),
                    "std": ((0.0, 0.25), "std ~ U(0, a); (a, b): U(a, b)"), **_CHANNELS, **_COMMON},
    "RandomIntensityScale": {"scale": ((0.9, 1.1), "factor ~ U(a, b)"), **_CHANNELS, **_COMMON},
    "RandomIntensityShift": {"shift": ((-0.1, 0.1), "offset ~ U(a, b)"), **_CHANNELS, **_COMMON},
    "RandomBlur": {"std": ((0.0, 2.0), "Gaussian std ~ U(0, a) mm per axis; (a, b): U(a, b); "
                                      "(a1, b1, a2, b2, a3, b3): one range per axis"), **_CHANNELS, **_COMMON},
    "RandomMotion": {"degrees": (10.0, "rotation ~ U(-a, a) degrees per axis"),
                     "translation": (10.0, "shift ~ U(-a, a) mm per axis"),
                     "num_transforms": (2, "movements during the acquisition"),
                     "image_interpolation": ("linear", "how the moved images are resampled: `linear`, `cubic` "
                                                       "or `nearest`"),
                     "perturbation": (0.3, "movement i at i / (T + 1) + U(-δ, δ) of the acquisition, "
                                           "δ = perturbation / (T + 1)"), **_CHANNELS, **_COMMON},
    "RandomGhosting": {"num_ghosts": ((4, 10), "n ~ U{a..b} (d: U{0..d}): every n-th k-space plane is attenuated"),
                       "axes": ((0, 1, 2), "phase-encoding axis, one drawn per sample"),
                       "intensity": ((0.5, 1.0), "attenuation ~ U(a, b) (d: U(0, d))"),
                       "restore": (None, "fraction of central k-space left untouched ~ U(a, b) (d: U(0, d)); "
                                         "None: the central plane only"), **_CHANNELS, **_COMMON},
    "RandomSpike": {"num_spikes": (1, "spikes n ~ U{a..b}; d: U{0..d} (TorchIO's reading)"),
                    "intensity": ((1.0, 3.0), "spike / max of spectrum ~ U(a, b), one per sample; a: U(-a, a)"),
                    **_CHANNELS, **_COMMON},
}

#: Names whose layers move voxels (applied to images and label, weight and sampler maps).
SPATIAL = ("RandomFlip", "RandomAffine", "RandomElasticDeformation", "RandomSwap")


def snake_case(name: str) -> str:
    """``RandomElasticDeformation`` → ``random_elastic_deformation``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


BUILTINS: dict[str, str] = {}
for _name, _module in _MODULES.items():
    BUILTINS[_name] = f"voxflow.augment.{_module}:{_name}"
    BUILTINS[snake_case(_name)] = f"voxflow.augment.{_module}:{_name}"


def _squash(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


_BY_SQUASHED = {_squash(name): name for name in _MODULES}


def canonical_name(name: str) -> str | None:
    """The CamelCase name of a built-in transform written in any case, with or without ``_``."""
    return _BY_SQUASHED.get(_squash(name))


def nearest_name(name: str) -> str | None:
    """The snake_case transform name nearest to ``name``, for "Did you mean" hints (none past 100
    characters: difflib's time grows with the name)."""
    if len(name) > _SHOWN:
        return None
    choices = [snake_case(n) for n in _MODULES]
    return closest(snake_case(name) if "_" not in name else name.lower(), choices, 0.5)


@dataclass(frozen=True)
class Limit:
    """What each number of an argument must be: an integer or any number, within inclusive bounds.

    Attributes:
        integer: whole numbers only (``1e3`` counts as 1000).
        low, high: the bounds, or ``None`` for none.
        counts: how many numbers the argument takes, or ``None`` for any.
    """

    integer: bool = False
    low: float | None = None
    high: float | None = None
    counts: tuple[int, ...] | None = None

    def describe(self, several: bool) -> str:
        """``"an integer in [1, 10000]"``, or ``"integers in [1, 10000]"`` when ``several``."""
        kind = ("integers" if several else "an integer") if self.integer else ("numbers" if several else "a number")
        if self.low is not None and self.high is not None:
            return f"{kind} in [{self.low:g}, {self.high:g}]"
        if self.low is not None:
            return f"{kind} >= {self.low:g}"
        return ("finite " if several else "a finite ") + kind.split()[-1].rstrip("s") + ("s" if several else "")

    def admits(self, item: Any) -> bool:
        """Whether one number ``item`` obeys the limit (and is finite)."""
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
            return False
        if self.integer and not float(item).is_integer():
            return False
        return (self.low is None or item >= self.low) and (self.high is None or item <= self.high)


_COUNT = 65535  # the most voxels along an axis (as spatial_window_size)
_AXES = Limit(True, 0, 2)

#: Bounds beyond "finite numbers" (what every numeric argument must be). Counts that set how much
#: work a sample takes are bounded so that one sample of a 192³ volume stays within seconds.
LIMITS: dict[str, dict[str, Limit]] = {
    "RandomFlip": {"axes": _AXES, "flip_probability": Limit(False, 0, 1)},
    "RandomAffine": {"degrees": Limit(False, -360, 360)},
    "RandomElasticDeformation": {"num_control_points": Limit(True, 4, 100), "locked_borders": Limit(True, 0, 2)},
    "RandomAnisotropy": {"axes": _AXES, "downsampling": Limit(False, 1)},
    "RandomSwap": {"patch_size": Limit(True, 1, _COUNT, counts=(1, 3)), "num_iterations": Limit(True, 1, 10000)},
    "RandomBiasField": {"order": Limit(True, 0, 20)},
    "RandomMotion": {"degrees": Limit(False, -360, 360), "num_transforms": Limit(True, 1, 20),
                     "perturbation": Limit(False, 0, 0.5)},
    "RandomGhosting": {"num_ghosts": Limit(True, 0, _COUNT), "axes": _AXES, "restore": Limit(False, 0, 1)},
    "RandomSpike": {"num_spikes": Limit(True, 0, 100)},
    "RandomBlur": {"std": Limit(False, 0, 50)},
}
_ANY_TRANSFORM: dict[str, Limit] = {"p": Limit(False, 0, 1), "seed": Limit(True, 0),
                                    "num_classes": Limit(True, 2, _COUNT)}
#: RandomSwap copies ``num_iterations`` patches of ``patch_size³`` voxels per sample: at most this
#: many in all (about 8 s for a 192³ volume on one CPU core).
SWAP_VOXELS = 2**30


def _clip(text: str) -> str:
    """At most :data:`_SHOWN` characters of a user's text, then its length."""
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}… ({len(text)} characters)"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    try:
        return _clip(repr(value))
    except ValueError:  # an integer of thousands of digits
        return f"a {type(value).__name__}"


def _flat(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [item for part in value for item in _flat(part)]
    return [value]


def _check_value(canonical: str, argument: str, value: Any) -> str | None:
    """The problem with one argument's value, or ``None``: booleans true or false, numbers finite
    (and within :data:`LIMITS`); text arguments are left to the layer."""
    default = ARGUMENTS[canonical].get(argument, (None, ""))[0]
    if isinstance(default, bool):
        return None if value in (True, False) else f"{argument} must be true or false, got {_show(value)}"
    if isinstance(default, str) or (value is None and default is None):
        return None
    limit = LIMITS.get(canonical, {}).get(argument) or _ANY_TRANSFORM.get(argument) or Limit()
    items = _flat(value)
    several = isinstance(value, (tuple, list))
    if not all(limit.admits(item) for item in items) or (limit.counts and len(items) not in limit.counts):
        counted = f"{' or '.join(map(str, limit.counts))} " if limit.counts else ""
        return f"{argument} must be {counted}{limit.describe(several or bool(limit.counts))}, got {_show(value)}"
    return None


def _check_swap_work(kwargs: dict[str, Any]) -> str | None:
    """RandomSwap's total work: ``num_iterations`` × the patch's voxels <= :data:`SWAP_VOXELS`."""
    size = kwargs.get("patch_size", ARGUMENTS["RandomSwap"]["patch_size"][0])
    edges = [int(v) for v in size] if isinstance(size, (tuple, list)) else [int(size)] * 3
    iterations = int(kwargs.get("num_iterations", ARGUMENTS["RandomSwap"]["num_iterations"][0]))
    voxels = math.prod(edges)
    if iterations * voxels > SWAP_VOXELS:
        return (f"num_iterations × the voxels of a patch_size patch = {iterations} × {voxels} = "
                f"{iterations * voxels:.3g} voxels swapped per sample; at most {SWAP_VOXELS:.3g} (2**30)")
    return None


def check_arguments(name: str, kwargs: dict[str, Any]) -> str | None:
    """Return a one-line problem with ``kwargs`` for transform ``name``, or ``None`` if fine.

    Unknown transforms and arguments are named with the nearest valid one; a value is refused
    when a boolean is not true or false, or a number is not finite or outside :data:`LIMITS`
    (``"RandomSwap: num_iterations must be an integer in [1, 10000], got 1e+09"``).
    """
    canonical = canonical_name(name)
    if canonical is None:
        near = nearest_name(name)
        return f"unknown transform '{_clip(name)}'" + (f"; did you mean '{near}'?" if near else "")
    valid = [*ARGUMENTS[canonical], "seed"]
    for argument in kwargs:
        if argument not in valid:
            near = closest(argument, valid, 0.5)
            hint = f"; did you mean '{near}'?" if near else f"; valid: {', '.join(valid)}"
            return f"{canonical} has no argument '{_clip(argument)}'{hint}"
    for argument, value in kwargs.items():
        problem = _check_value(canonical, argument, value)
        if problem:
            return f"{canonical}: {problem}"
    problem = _check_swap_work(kwargs) if canonical == "RandomSwap" else None
    return f"{canonical}: {problem}" if problem else None


def describe(name: str) -> str:
    """One line per argument of ``name`` for ``net_transform --list`` and the docs."""
    canonical = canonical_name(name) or name
    lines = [f"{canonical} ({snake_case(canonical)})"]
    for argument, (default, meaning) in ARGUMENTS[canonical].items():
        limit = LIMITS.get(canonical, {}).get(argument)
        bound = f" ({limit.describe(several=True)})" if limit and limit.high is not None else ""
        lines.append(f"    {argument} = {default!r}: {meaning}{bound}")
    return "\n".join(lines)


def names() -> list[str]:
    """The CamelCase names of every built-in transform, in catalogue order."""
    return list(_MODULES)
