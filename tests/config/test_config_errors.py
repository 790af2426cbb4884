"""Every kind of config mistake gives one ConfigError line naming file, section, key and a fix."""

from __future__ import annotations

import pytest

from voxflow.config import config_from_dict, load_config
from voxflow.errors import ConfigError, VoxflowError


def _error(path, overrides=(), action="train") -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides=overrides, action=action)
    message = str(info.value)
    assert "\n" not in message, message
    assert isinstance(info.value, VoxflowError)
    return message


def test_invalid_choice_names_file_section_key_expected_received_and_suggestion(write_config, base_ini):
    path = write_config(base_ini.replace("name = toynet", "name = toynet\nwindow_sampling = uniforn"))
    message = _error(path)
    assert message == (
        f"Invalid value for `window_sampling` in [NETWORK] of {path}. Expected one of: uniform, weighted, "
        "balanced, resize, selective, patch, or a dotted import path such as my_pkg.module.Name. Received: 'uniforn'. "
        "Did you mean 'uniform'?"
    )
    assert "Expected one of: uniform, weighted, balanced, resize, selective, patch, or a dotted import path" in message
    assert "Received: 'uniforn'." in message
    assert message.endswith("Did you mean 'uniform'?")


def test_unknown_key_suggests_nearest_key_of_that_section(write_config, base_ini):
    message = _error(write_config(base_ini.replace("name = toynet", "name = toynet\nbatchsize = 4")))
    assert message.startswith("Unknown key `batchsize` in [NETWORK] of ")
    assert "config.ini" in message
    assert message.endswith("Did you mean `batch_size`?")


def test_key_in_wrong_section_says_where_it_belongs(write_config):
    message = _error(write_config(extra="\n[SYSTEM]\nbatch_size = 10\n"))
    assert "Unknown key `batch_size` in [SYSTEM] of" in message
    assert "`batch_size` belongs in [NETWORK], not [SYSTEM]." in message


def test_input_key_in_system_section_points_to_input_sections(write_config):
    message = _error(write_config(extra="\n[TRAINING]\npixdim = 1,1,1\n"))
    assert "`pixdim` belongs in an input section (e.g. [T1]), not [TRAINING]" in message


def test_niftynet_only_key_is_explained(write_config):
    message = _error(write_config(extra="\n[SYSTEM]\nevent_handler = model_saver\n"))
    assert "Unknown key `event_handler` in [SYSTEM]" in message and "NiftyNet" in message


@pytest.mark.parametrize(
    ("line", "expected", "received"),
    [
        ("batch_size = two", "Expected an integer >= 1.", "Received: 'two'."),
        ("batch_size = 0", "Expected an integer >= 1.", "Received: '0'."),
        ("keep_prob = 0", "Expected a number in (0.0, 1.0].", "Received: '0'."),
        ("whitening = maybe", "Expected a boolean", "Received: 'maybe'."),
        ("cutoff = 0.9, 0.1", "Expected 2 numbers in [0.0, 1.0], increasing", "Received: '0.9, 0.1' (not increasing)."),
        ("volume_padding_size = 1, 2", "Expected 1 or 3 integers in [0, 65535]", "Received: '1, 2' (2 values)."),
        ("network_args = depth", "Expected keyword arguments", "Received: 'depth' ('depth' has no '=')."),
    ],
)
def test_wrong_type_or_out_of_range(write_config, line, expected, received, base_ini):
    key = line.split(" = ")[0]
    message = _error(write_config(base_ini.replace("name = toynet", f"name = toynet\n{line}")))
    assert message.startswith(f"Invalid value for `{key}` in [NETWORK] of ")
    assert expected in message and received in message


def test_out_of_range_in_input_section(write_config, base_ini):
    message = _error(write_config(base_ini.replace("interp_order = 0", "interp_order = 5")))
    assert "Invalid value for `interp_order` in [label] of" in message
    assert "Expected an integer in [0, 3]." in message and "Received: '5'." in message


def test_bad_axcodes_and_regex(write_config, base_ini):
    message = _error(write_config(base_ini.replace("interp_order = 0", "axcodes = R, L, S")))
    assert "`axcodes` in [label]" in message and "one from each of L/R, A/P, S/I" in message
    message = _error(write_config(base_ini.replace("interp_order = 0", "filename_removefromid = (")))
    assert "`filename_removefromid` in [label]" in message and "regular expression" in message


def test_missing_required_key(write_config, base_ini):
    message = _error(write_config(base_ini.replace("num_classes = 2\n", "")))
    assert message.startswith("Missing required key `num_classes` in [SEGMENTATION] of ")
    assert "config.ini" in message and "Expected an integer >= 2." in message


def test_required_depends_on_action(write_config, base_ini):
    path = write_config(base_ini.replace("name = toynet\n", ""))
    message = _error(path, action="inference")
    assert "Missing required key `name` in [NETWORK]" in message and "for inference" in message
    assert load_config(path, action="evaluation").network.name is None
    path = write_config(base_ini.replace("label = label\n", ""))
    assert "Missing required key `label` in [SEGMENTATION]" in _error(path, action="evaluation")
    assert load_config(path, action="inference").app.label == ()


def test_role_naming_missing_input_section_suggests_nearest(write_config, base_ini):
    message = _error(write_config(base_ini.replace("image = T1", "image = t1")))
    assert message.startswith("Invalid value for `image` in [SEGMENTATION] of ")
    assert "config.ini" in message and "Received: 't1'" in message
    assert message.endswith("Did you mean 'T1'?")


def test_used_input_section_needs_files(write_config, base_ini):
    message = _error(write_config(base_ini.replace("path_to_search = ./data\nfilename_contains = seg", "")))
    assert "Missing `path_to_search`, `csv_file` or `csv_data_file` in [label] of" in message
    assert "`label` in [SEGMENTATION]" in message
    # csv_file alone is enough
    load_config(write_config(base_ini.replace("path_to_search = ./data\nfilename_contains = seg", "csv_file = l.csv")))


def test_unused_input_section_without_files_is_allowed(write_config):
    cfg = load_config(write_config(extra="\n[T2]\nfilename_contains = T2\n"))
    assert list(cfg.inputs) == ["T1", "label", "T2"]


def test_section_typo_is_not_taken_for_an_input_source(write_config):
    message = _error(write_config(extra="\n[TRAINNG]\nmax_iter = 5\n"))
    assert message.startswith("Unknown section [TRAINNG] in ")
    assert message.endswith("Did you mean [TRAINING]?")


def test_lower_case_system_section_is_accepted(write_config):
    cfg = load_config(write_config(extra="\n[training]\nmax_iter = 5\n"))
    assert cfg.training.max_iter == 5 and "training" not in cfg.inputs


def test_missing_app_section_suggests_nearest(write_config, base_ini):
    message = _error(write_config(base_ini.replace("[SEGMENTATION]", "[SEGMENTAION]")))
    assert message.startswith("Missing section [SEGMENTATION] in ")
    assert message.endswith("Did you mean [SEGMENTAION]?")


def test_malformed_ini_names_the_line(write_config):
    message = _error(write_config("[SEGMENTATION]\nimage = T1\nthis line has no equals sign\n"))
    assert "Cannot parse" in message and "config.ini at line 3" in message
    message = _error(write_config("image = T1\n[SEGMENTATION]\n"))
    assert "at line 1" in message
    message = _error(write_config("[SEGMENTATION]\nimage = T1\nIMAGE = T2\n"))
    assert "at line 3" in message and "`image` appears twice" in message


def test_malformed_yaml_names_the_line(write_config):
    message = _error(write_config("SEGMENTATION:\n  image: T1\n  label: [label\n", name="config.yaml"))
    assert "Cannot parse" in message and "config.yaml at line" in message
    message = _error(write_config("SEGMENTATION:\n  - image\n", name="config.yml"))
    assert "Section [SEGMENTATION] of" in message and "must be a mapping" in message


def test_file_not_found(tmp_path):
    message = _error(tmp_path / "nope.ini")
    assert message.startswith("Configuration file not found: ") and "nope.ini" in message


def test_unknown_app_section_and_action(tmp_path):
    with pytest.raises(ConfigError, match=r"Unknown application section \[NOPE\]"):
        config_from_dict({}, tmp_path, app_section="NOPE")
    with pytest.raises(ConfigError, match="Unknown action 'fit'"):
        config_from_dict({}, tmp_path, action="fit")


def test_dict_source_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"in \[NETWORK\] of the configuration mapping"):
        config_from_dict({"SEGMENTATION": {"image": "T1"}, "NETWORK": {"batch_size": "x"}}, tmp_path)
