"""Built-in augmentation names for the registry's ``augmentation`` family (``[AUGMENTATION]``).

Maps each name to ``"module:Class"``; read lazily by :mod:`voxflow.registry`. Every transform is
listed under its CamelCase name and its snake_case name (the spelling INI keys take). Importing this
module imports nothing else (no TensorFlow): the config validator and ``net_transform --list`` read
:data:`ARGUMENTS` to check and show each transform's arguments.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

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
    """The snake_case transform name nearest to ``name``, for "Did you mean" hints."""
    choices = [snake_case(n) for n in _MODULES]
    match = difflib.get_close_matches(snake_case(name) if "_" not in name else name.lower(), choices, 1, 0.5)
    return match[0] if match else None


def check_arguments(name: str, kwargs: dict[str, Any]) -> str | None:
    """Return a one-line problem with ``kwargs`` for transform ``name``, or ``None`` if fine."""
    canonical = canonical_name(name)
    if canonical is None:
        near = nearest_name(name)
        return f"unknown transform '{name}'" + (f"; did you mean '{near}'?" if near else "")
    valid = [*ARGUMENTS[canonical], "seed"]
    for argument in kwargs:
        if argument not in valid:
            near = difflib.get_close_matches(argument, valid, 1, 0.5)
            hint = f"; did you mean '{near[0]}'?" if near else f"; valid: {', '.join(valid)}"
            return f"{canonical} has no argument '{argument}'{hint}"
    p = kwargs.get("p", 1.0)
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
        return f"p of {canonical} must be a number in [0, 1], got {p!r}"
    return None


def describe(name: str) -> str:
    """One line per argument of ``name`` for ``net_transform --list`` and the docs."""
    canonical = canonical_name(name) or name
    lines = [f"{canonical} ({snake_case(canonical)})"]
    for argument, (default, meaning) in ARGUMENTS[canonical].items():
        lines.append(f"    {argument} = {default!r}: {meaning}")
    return "\n".join(lines)


def names() -> list[str]:
    """The CamelCase names of every built-in transform, in catalogue order."""
    return list(_MODULES)
