"""Value syntax: booleans, arrays with or without parentheses, window padding, kwargs, checkpoints."""

from __future__ import annotations

import pytest

from voxflow.config import config_from_dict as _config_from_dict
from voxflow.config.arrays import SpatialIntType, StrArrayType, WindowType
from voxflow.config.kwargs import KwargsType
from voxflow.config.values import BoolType, CheckpointType, ChoiceType, FloatType, IntType, InvalidValue

BASE = {
    "T1": {"path_to_search": "data"},
    "SEGMENTATION": {"image": "T1", "num_classes": "2"},
    "NETWORK": {"name": "toynet"},
}


def config_from_dict(data, config_dir):
    """Build for inference: these configs have no label section."""
    return _config_from_dict(data, config_dir, action="inference")


@pytest.mark.parametrize("word", ["yes", "TRUE", "t", "Y", "1", "True", True, 1])
def test_true_words(word):
    assert BoolType().parse(word, ".") is True


@pytest.mark.parametrize("word", ["no", "False", "F", "n", "0", False, 0])
def test_false_words(word):
    assert BoolType().parse(word, ".") is False


@pytest.mark.parametrize("word", ["2", "maybe", 2, [True]])
def test_bad_booleans(word):
    with pytest.raises(InvalidValue):
        BoolType().parse(word, ".")


def test_arrays_with_or_without_parentheses_and_yaml_lists(tmp_path):
    forms = ["(1.0, 1.0, 2.5)", "1,1,2.5", "[1, 1, 2.5]", [1, 1, 2.5], " ( 1 ,1, 2.5 ) "]
    for form in forms:
        cfg = config_from_dict({**BASE, "T1": {"path_to_search": "d", "pixdim": form}}, tmp_path)
        assert cfg.inputs["T1"].pixdim == (1.0, 1.0, 2.5)
        assert all(isinstance(v, float) for v in cfg.inputs["T1"].pixdim)


def test_str_arrays():
    assert StrArrayType().parse("T1, T2", ".") == ("T1", "T2")
    assert StrArrayType().parse("(T1)", ".") == ("T1",)
    assert StrArrayType().parse(["T1", "T2"], ".") == ("T1", "T2")
    assert StrArrayType().parse("T1", ".") == ("T1",)


def test_window_with_two_values_is_a_2d_window():
    assert WindowType().parse("64,64", ".") == (64, 64, 1)
    assert WindowType().parse("(64, 64, 32)", ".") == (64, 64, 32)
    assert WindowType().parse([96, 96], ".") == (96, 96, 1)
    for bad in ("64", "1,2,3,4", "64,0,64", "64,a"):
        with pytest.raises(InvalidValue):
            WindowType().parse(bad, ".")


def test_spatial_array_with_one_value_is_repeated(tmp_path):
    assert SpatialIntType().parse("5", ".") == (5, 5, 5)
    assert SpatialIntType().parse(5, ".") == (5, 5, 5)
    assert SpatialIntType().parse("5, 5, 0", ".") == (5, 5, 0)
    cfg = config_from_dict({**BASE, "INFERENCE": {"border": "5"},
                            "NETWORK": {"name": "x", "volume_padding_size": "(2)"},
                            "T1": {"path_to_search": "d", "pixdim": "2"}}, tmp_path)
    assert cfg.inference.border == (5, 5, 5)
    assert cfg.network.volume_padding_size == (2, 2, 2)
    assert cfg.inputs["T1"].pixdim == (2.0, 2.0, 2.0)


def test_kwargs_parsing():
    parsed = KwargsType().parse("base_features=8, depth=3, rate=0.5, residual=yes, norm=batch, "
                                "kernel=(3, 3, 1), tag='16', none_value=None", ".")
    assert parsed == {"base_features": 8, "depth": 3, "rate": 0.5, "residual": True, "norm": "batch",
                      "kernel": (3, 3, 1), "tag": "16", "none_value": None}
    assert type(parsed["depth"]) is int
    assert KwargsType().parse({"depth": 3, "kernel": [3, 3]}, ".") == {"depth": 3, "kernel": (3, 3)}
    for bad in ("depth", "depth=3, depth=4", "1x=3", "a=(1, 2"):
        with pytest.raises(InvalidValue):
            KwargsType().parse(bad, ".")


def test_kwargs_format_round_trip():
    kind = KwargsType()
    value = {"a": 1, "b": 2.5, "c": True, "d": "word", "e": "16", "f": (1, 2), "g": None, "h": "x, y", "i": (4,)}
    assert kind.parse(kind.format(value), ".") == value


def test_checkpoint_values():
    kind = CheckpointType()
    assert kind.parse("latest", ".") == -1
    assert kind.parse("BEST", ".") == "best"
    assert kind.parse("1000", ".") == 1000
    assert kind.parse(-1, ".") == -1
    for bad in ("-2", "first", "1.5"):
        with pytest.raises(InvalidValue):
            kind.parse(bad, ".")


def test_numbers_and_choices():
    assert IntType(1).parse(" 4 ", ".") == 4
    with pytest.raises(InvalidValue):
        IntType().parse("2.0", ".")
    with pytest.raises(InvalidValue):
        IntType().parse(True, ".")
    assert FloatType(0.0, open_min=True).parse("1e-3", ".") == pytest.approx(0.001)
    for bad in ("0", "nan", "inf", "-1"):
        with pytest.raises(InvalidValue):
            FloatType(0.0, open_min=True).parse(bad, ".")
    choice = ChoiceType(("L1", "L2"))
    assert choice.parse("l2", ".") == "L2"
    with pytest.raises(InvalidValue) as info:
        choice.parse("L3", ".")
    assert info.value.suggestion in ("L1", "L2")


def test_empty_value_means_default(tmp_path):
    cfg = config_from_dict({**BASE, "NETWORK": {"name": "x", "batch_size": "", "cutoff": "  "},
                            "SYSTEM": {"seed": None}}, tmp_path)
    assert cfg.network.batch_size == 2
    assert cfg.network.cutoff == (0.01, 0.99)
    assert cfg.system.seed is None


def test_typed_defaults(tmp_path):
    cfg = config_from_dict(BASE, tmp_path)
    assert cfg.training.lr == 0.001 and isinstance(cfg.training.lr, float)
    assert cfg.network.volume_padding_size == (0, 0, 0)
    assert cfg.network.network_args == {}
    assert cfg.inference.inference_iter == -1 and cfg.inference.blending == "gaussian"
    assert cfg.evaluation.evaluations == ("dice", "jaccard", "hausdorff95", "average_distance")
    assert cfg.inputs["T1"].interp_order == 1 and cfg.inputs["T1"].loader is None
    assert cfg.app.image == ("T1",) and cfg.app.num_classes == 2 and cfg.app_name == "SEGMENTATION"


def test_niftynet_initializer_names_map_to_keras_and_typos_are_caught(tmp_path):
    from voxflow.config import config_from_dict
    from voxflow.errors import ConfigError

    def network(**keys):
        return config_from_dict({"T1": {"path_to_search": "d"}, "SEGMENTATION": {"image": "T1", "num_classes": 2},
                                 "NETWORK": {"name": "unet", **keys}}, tmp_path, action="inference").network

    assert network(weight_initializer="uniform_scaling").weight_initializer == "lecun_uniform"
    assert network(weight_initializer="Glorot_Uniform").weight_initializer == "glorot_uniform"
    with pytest.raises(ConfigError, match="Did you mean 'glorot_uniform'"):
        network(weight_initializer="glorot_unifrom")
    assert network(window_sampling="my_plugins.CentredSampler").window_sampling == "my_plugins.CentredSampler"
    with pytest.raises(ConfigError, match="window_sampling"):
        network(window_sampling="uniforn")
