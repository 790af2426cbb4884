"""Path resolution, INI/YAML equivalence, save/load round trip, Section/Config behaviour."""

from __future__ import annotations

import os

import pytest
import yaml

from voxflow.config import Key, config_from_dict, load_config, register_app_section, save_config, schema
from voxflow.config.arrays import StrArrayType
from voxflow.config.values import IntType
from voxflow.errors import ConfigError


def test_paths_in_file_resolve_against_config_folder(tmp_path, write_config, monkeypatch):
    monkeypatch.chdir(tmp_path.parent)
    cfg = load_config(write_config(extra="\n[SYSTEM]\nmodel_dir = runs/../run1\n"))
    assert cfg.config_dir == str(tmp_path) and cfg.path == str(tmp_path / "config.ini")
    assert cfg.system.model_dir == str(tmp_path / "run1")
    assert cfg.inputs["T1"].path_to_search == (str(tmp_path / "data"),)
    # files the run produces default to places inside model_dir
    assert cfg.system.dataset_split_file == str(tmp_path / "run1" / "dataset_split.csv")
    assert cfg.network.histogram_ref_file == str(tmp_path / "run1" / "histogram_ref_file.json")
    assert cfg.inference.save_seg_dir == str(tmp_path / "run1" / "output")
    assert cfg.evaluation.save_csv_dir == str(tmp_path / "run1" / "evaluation")


def test_default_model_dir_is_inside_config_folder(write_config, tmp_path):
    cfg = load_config(write_config())
    assert cfg.system.model_dir == str(tmp_path / "model")
    assert cfg.inference.save_seg_dir == str(tmp_path / "model" / "output")


def test_paths_on_command_line_resolve_against_cwd(tmp_path, write_config, monkeypatch):
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(write_config(), ["--model_dir", "m", "--T1.path_to_search=a,b"])
    assert cfg.system.model_dir == str(elsewhere / "m")
    assert cfg.inference.save_seg_dir == str(elsewhere / "m" / "output")  # defaults follow model_dir
    assert cfg.inputs["T1"].path_to_search == (str(elsewhere / "a"), str(elsewhere / "b"))
    assert cfg.inputs["label"].path_to_search == (str(tmp_path / "data"),)


def test_home_is_expanded_and_absolute_paths_kept(write_config, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cfg = load_config(write_config(extra="\n[SYSTEM]\nmodel_dir = ~/m\n[INFERENCE]\nsave_seg_dir = /abs/out\n"))
    assert cfg.system.model_dir == os.path.join(str(tmp_path / "home"), "m")
    assert cfg.inference.save_seg_dir == os.path.normpath("/abs/out")


def test_ini_and_yaml_give_the_same_config(write_config):
    ini = write_config(
        "[T1]\npath_to_search = data\nspatial_window_size = (64, 64)\npixdim = 1\naxcodes = R, A, S\n"
        "[label]\ncsv_file = labels.csv\ninterp_order = 0\n"
        "[NETWORK]\nname = unet\nwhitening = yes\nnetwork_args = base_features=8, kernel=(3, 3, 1)\n"
        "[TRAINING]\nlr = 1e-4\n[INFERENCE]\ninference_iter = best\nborder = 4\n"
        "[SEGMENTATION]\nimage = T1\nlabel = label\nnum_classes = 3\n"
    )
    yaml_path = write_config(yaml.safe_dump({
        "T1": {"path_to_search": "data", "spatial_window_size": [64, 64], "pixdim": 1.0, "axcodes": ["R", "A", "S"]},
        "label": {"csv_file": "labels.csv", "interp_order": 0},
        "NETWORK": {"name": "unet", "whitening": True, "network_args": {"base_features": 8, "kernel": [3, 3, 1]}},
        "TRAINING": {"lr": 0.0001},
        "INFERENCE": {"inference_iter": "best", "border": 4},
        "SEGMENTATION": {"image": "T1", "label": ["label"], "num_classes": 3},
    }, sort_keys=False), name="config.yaml")
    from_ini, from_yaml = load_config(ini), load_config(yaml_path)
    assert from_ini.to_dict() == from_yaml.to_dict()
    assert from_ini == from_yaml
    assert from_yaml.inputs["T1"].spatial_window_size == (64, 64, 1)
    assert from_yaml.network.network_args == {"base_features": 8, "kernel": (3, 3, 1)}
    assert from_yaml.inference.inference_iter == "best"


def test_save_and_load_round_trip(write_config, base_ini, tmp_path):
    text = base_ini.replace("name = toynet", "name = toynet\nnetwork_args = depth=3, mode='x, y'")
    cfg = load_config(write_config(text + "[TRAINING]\nvars_to_restore = ^conv%d+\n"
                                          "[INFERENCE]\ninference_iter = best\n"),
                      ["--NETWORK.batch_size", "1"])
    cfg.system.seed = 1234  # the engine fills in a drawn seed
    written = save_config(cfg, tmp_path / "model" / "settings_train.ini")
    assert written == str(tmp_path / "model" / "settings_train.ini")
    assert not [name for name in os.listdir(tmp_path / "model") if name.startswith(".tmp")]
    again = load_config(written)
    assert again.to_dict() == cfg.to_dict()
    assert again.system.seed == 1234 and again.training.vars_to_restore == "^conv%d+"
    text = open(written, encoding="utf-8").read()
    assert f"model_dir = {tmp_path / 'model'}" in text and "seed = 1234" in text
    assert "\nloader =\n" in text  # unset values are written empty


def test_section_attribute_access_and_mutation(write_config):
    cfg = load_config(write_config())
    assert cfg.network.name == "toynet"  # the key wins over the section name in [NETWORK]
    assert cfg.network.section_name == "NETWORK" and cfg.training.name == "TRAINING"
    assert cfg.inputs["T1"].name == "T1"
    assert cfg.network["batch_size"] == 2 and "batch_size" in cfg.network
    assert cfg.training.as_dict()["max_iter"] == 10000
    cfg.training.max_iter = 3
    assert cfg.to_dict()["TRAINING"]["max_iter"] == 3
    with pytest.raises(AttributeError, match="Did you mean `batch_size`"):
        cfg.network.batchsize = 3
    with pytest.raises(AttributeError, match="Did you mean `max_iter`"):
        _ = cfg.training.max_itr
    assert list(cfg.to_dict()) == ["SYSTEM", "NETWORK", "TRAINING", "INFERENCE", "EVALUATION",
                                   "AUGMENTATION", "SEGMENTATION", "T1", "label"]
    assert cfg.augmentation.as_dict() == {}  # only the transforms given, in file order


def test_config_from_dict_without_file(tmp_path):
    cfg = config_from_dict({"T1": {"path_to_search": "d"}, "SEGMENTATION": {"image": "T1", "num_classes": 2},
                            "NETWORK": {"name": "unet"}},
                           tmp_path, action="inference")
    assert cfg.path is None and cfg.config_dir == str(tmp_path)
    assert cfg.inputs["T1"].path_to_search == (str(tmp_path / "d"),)


@pytest.fixture
def restore_app_sections(monkeypatch):
    monkeypatch.setattr(schema, "_APP_TABLES", dict(schema._APP_TABLES))


def test_register_app_section(tmp_path, restore_app_sections):
    from voxflow import registry

    registry.register_builtin_applications()  # [SEGMENTATION] below is another application's section
    register_app_section("DENOISE_TEST", [
        Key("image", StrArrayType(), (), "Inputs.", required=True, role=True),
        Key("output", StrArrayType(), (), "Targets.", required=("train",), role=True),
        Key("loss_border", IntType(0), 0, "Voxels cropped before the loss."),
    ])
    data = {"T1": {"path_to_search": "d"}, "target": {"path_to_search": "d"},
            "DENOISE_TEST": {"image": "T1", "output": "targte"}, "NETWORK": {"name": "x"}}
    with pytest.raises(ConfigError, match=r"`output` in \[DENOISE_TEST\].*Did you mean 'target'\?"):
        config_from_dict(data, tmp_path, app_section="DENOISE_TEST")
    data["DENOISE_TEST"]["output"] = "target"
    cfg = config_from_dict(data, tmp_path, app_section="denoise_test")
    assert cfg.app_name == "DENOISE_TEST" and cfg.app.loss_border == 0
    # a config holding another application's section does not treat it as an input source
    data["SEGMENTATION"] = {"image": "T1", "num_classes": 2}
    assert "SEGMENTATION" not in config_from_dict(data, tmp_path, app_section="DENOISE_TEST").inputs
    with pytest.raises(ValueError):
        register_app_section("NETWORK", [])


def test_ini_comments_percent_and_continuation_lines(write_config, base_ini):
    text = base_ini.replace("name = toynet", "name = toynet  # the tiny net\n; full-line comment\n"
                                             "batch_size = 4 ; four\nNAME_IS_CASE_INSENSITIVE_TOO =")
    text = text.replace("NAME_IS_CASE_INSENSITIVE_TOO =", "Queue_Length = 7")
    text = text.replace("filename_contains = T1", "filename_contains = T1,\n    flair\nfilename_removefromid = _%d+")
    cfg = load_config(write_config(text))
    assert cfg.network.name == "toynet" and cfg.network.batch_size == 4 and cfg.network.queue_length == 7
    assert cfg.inputs["T1"].filename_contains == ("T1", "flair")
    assert cfg.inputs["T1"].filename_removefromid == "_%d+"


def test_config_saved_by_notepad_with_a_byte_order_mark_and_crlf(write_config, base_ini):
    path = write_config(base_ini)
    path.write_bytes("\ufeff".encode() + base_ini.replace("\n", "\r\n").encode())
    cfg = load_config(path)
    assert cfg.network.name == "toynet"


def test_augmentation_section_keeps_file_order_overrides_and_round_trips(tmp_path, write_config):
    path = write_config(extra="\n[AUGMENTATION]\nrandom_motion = degrees=10, p=0.25\nRandomFlip = axes=0\n")
    cfg = load_config(path, overrides=["--random_noise", "std=0.1"])
    assert list(cfg.augmentation.as_dict()) == ["random_motion", "random_flip", "random_noise"]
    assert cfg.augmentation.random_motion == {"degrees": 10, "p": 0.25}
    saved = tmp_path / "saved.ini"
    save_config(cfg, str(saved))
    assert load_config(str(saved)) == cfg
