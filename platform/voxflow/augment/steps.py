"""Which transforms a configuration asks for, in order (no TensorFlow).

NiftyNet's ``[TRAINING]`` keys come first, in NiftyNet's order (flip, rotation and scaling,
elastic deformation, bias field), then every key of ``[AUGMENTATION]`` in file order.

Example:
    >>> augmentation_steps(cfg)                                          # doctest: +SKIP
    [('RandomFlip', {'axes': (0,), 'flip_probability': 0.5}), ('RandomMotion', {'degrees': 10, 'p': 0.25})]
"""

from __future__ import annotations

from typing import Any

from voxflow.augment import catalogue

SECTION = "AUGMENTATION"


def niftynet_steps(training: Any) -> list[tuple[str, dict[str, Any]]]:
    """Transforms implied by NiftyNet's augmentation keys in ``[TRAINING]``."""
    steps: list[tuple[str, dict[str, Any]]] = []
    axes = tuple(a for a in (training.random_flipping_axes or ()) if a >= 0)
    if axes:
        steps.append(("RandomFlip", {"axes": axes, "flip_probability": 0.5}))
    rotation = training.rotation_angle
    per_axis = [training.rotation_angle_x, training.rotation_angle_y, training.rotation_angle_z]
    degrees: tuple[float, ...] | None = None
    if rotation:
        degrees = tuple(rotation) * 3
    elif any(per_axis):
        degrees = tuple(v for pair in per_axis for v in (pair or (0.0, 0.0)))
    scaling = training.scaling_percentage
    if degrees or scaling:
        scales = (1.0 + scaling[0] / 100.0, 1.0 + scaling[1] / 100.0) if scaling else (1.0, 1.0)
        steps.append(("RandomAffine", {"degrees": degrees or 0.0, "scales": scales,
                                       "isotropic": bool(training.isotropic_scaling)}))
    if training.do_elastic_deformation:
        steps.append(("RandomElasticDeformation", {
            # NiftyNet's num_ctrl_points is the mesh size it gave SimpleITK's BSplineTransformInitializer,
            # which adds 3 points per axis: the grid RandomElasticDeformation places the same way
            "num_control_points": int(training.num_ctrl_points) + 3,
            "displacement_std": float(training.deformation_sigma), "locked_borders": 0,
            "p": float(training.proportion_to_deform)}))
    if training.bias_field_range:
        steps.append(("RandomBiasField", {"coefficients": tuple(training.bias_field_range),
                                          "order": int(training.bf_order)}))
    return steps


def augmentation_steps(cfg: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every transform the configuration asks for, in the order applied."""
    section = getattr(cfg, "augmentation", None)
    ordered = section.as_dict().items() if section is not None else ()
    return niftynet_steps(cfg.training) + [(catalogue.canonical_name(name), dict(kwargs)) for name, kwargs in ordered]
