"""Augmentation arguments are checked before any work: counts are bounded integers, numbers finite.

``num_iterations=1e9`` for RandomSwap used to end as an internal error (a 24 GB tensor of corners,
then hours of swaps); ``degrees=inf`` or ``locked_borders=1e400`` as OverflowError. These checks
run without TensorFlow, for ``net_transform --kwargs`` and for the ``[AUGMENTATION]`` section alike.
"""

from __future__ import annotations

import pytest

from voxflow.augment import catalogue
from voxflow.config import config_from_dict
from voxflow.errors import ConfigError


@pytest.mark.parametrize("name, kwargs, needles", [
    ("RandomSwap", {"num_iterations": 1e9}, ("num_iterations", "an integer in [1, 10000]", "1e+09")),
    ("RandomSwap", {"num_iterations": 2.5}, ("num_iterations", "an integer")),
    ("RandomSwap", {"patch_size": (15, 0, 15)}, ("patch_size", "in [1, 65535]")),
    ("RandomSwap", {"patch_size": 100, "num_iterations": 10000}, ("num_iterations", "patch_size", "voxels")),
    ("RandomElasticDeformation", {"num_control_points": 10**6}, ("num_control_points", "[4, 100]")),
    ("RandomElasticDeformation", {"locked_borders": float("inf")}, ("locked_borders",)),
    ("RandomElasticDeformation", {"max_displacement": float("nan")}, ("max_displacement", "finite")),
    ("RandomMotion", {"num_transforms": 1000}, ("num_transforms", "[1, 20]")),
    ("RandomMotion", {"degrees": 1e30}, ("degrees", "[-360, 360]")),
    ("RandomBiasField", {"order": 10**9}, ("order", "[0, 20]")),
    ("RandomSpike", {"num_spikes": (1, 10**6)}, ("num_spikes", "[0, 100]")),
    ("RandomGhosting", {"num_ghosts": (4, 2**40)}, ("num_ghosts", "[0, 65535]")),
    ("RandomBlur", {"std": 1e6}, ("std", "[0, 50]")),
    ("RandomAffine", {"translation": float("inf")}, ("translation", "finite")),
    ("RandomAffine", {"scales": "big"}, ("scales", "number")),
    ("RandomFlip", {"p": 2}, ("p", "[0, 1]")),
    ("RandomSwap", {"include_labels": "maybe"}, ("include_labels", "true or false")),
    ("RandomNoise", {"seed": -1}, ("seed", "integer")),
])
def test_bad_argument_names_transform_and_argument(name, kwargs, needles):
    problem = catalogue.check_arguments(name, kwargs)
    assert problem is not None and problem.startswith(f"{name}: ")
    for needle in needles:
        assert needle in problem, problem
    assert "\n" not in problem and len(problem) < 300


@pytest.mark.parametrize("name, kwargs", [
    ("RandomSwap", {"num_iterations": 10000, "patch_size": 15}),
    ("RandomSwap", {"num_iterations": 1e3, "patch_size": (15, 15, 1)}),
    ("RandomElasticDeformation", {"num_control_points": (4, 5, 6), "displacement_std": None, "locked_borders": 0}),
    ("RandomGhosting", {"num_ghosts": 10, "restore": None, "axes": (0, 2)}),
    ("RandomAffine", {"degrees": (-10, 10, 0, 0, -5, 5), "isotropic": True, "num_classes": 3}),
    ("RandomBlur", {"std": (0, 2, 0, 2, 0, 0.5), "per_channel": True}),
    ("RandomMotion", {"num_transforms": 20, "image_interpolation": "cubic", "seed": 7}),
])
def test_sane_arguments_pass(name, kwargs):
    assert catalogue.check_arguments(name, kwargs) is None


def test_every_default_passes_its_own_check():
    for name in catalogue.names():
        defaults = {argument: default for argument, (default, _) in catalogue.ARGUMENTS[name].items()}
        assert catalogue.check_arguments(name, defaults) is None, name


def test_augmentation_section_shares_the_check(tmp_path):
    data = {"T1": {"path_to_search": "d"}, "label": {"path_to_search": "d"}, "NETWORK": {"name": "toynet"},
            "SEGMENTATION": {"image": "T1", "label": "label", "num_classes": 2},
            "AUGMENTATION": {"random_swap": "num_iterations=1e9"}}
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, tmp_path)
    message = str(info.value)
    assert message.startswith("Invalid value for `random_swap` in [AUGMENTATION]")
    assert "RandomSwap: num_iterations must be an integer in [1, 10000]" in message


def test_niftynet_augmentation_keys_are_bounded_like_the_transforms(tmp_path):
    base = {"T1": {"path_to_search": "d"}, "label": {"path_to_search": "d"}, "NETWORK": {"name": "toynet"},
            "SEGMENTATION": {"image": "T1", "label": "label", "num_classes": 2}}
    for key, value in (("num_ctrl_points", 10**6), ("bf_order", 10**9)):
        with pytest.raises(ConfigError, match=f"Invalid value for `{key}` in \\[TRAINING\\]"):
            config_from_dict({**base, "TRAINING": {key: value}}, tmp_path)


def test_huge_names_are_clipped_and_get_no_suggestion():
    problem = catalogue.check_arguments("x" * 1_000_000, {})
    assert problem.startswith("unknown transform 'xxx") and "(1000000 characters)" in problem and len(problem) < 300
    problem = catalogue.check_arguments("RandomSwap", {"a" * 1_000_000: 1})
    assert "has no argument 'aaa" in problem and "(1000000 characters)" in problem and len(problem) < 400
