"""Command-line overrides: precedence, --SECTION.key targeting, shared keys, type checks."""

from __future__ import annotations

import pytest

from voxflow.config import load_config
from voxflow.config.overrides import parse_overrides
from voxflow.errors import ConfigError


def test_precedence_default_file_command_line(write_config):
    path = write_config(extra="\n[TRAINING]\nmax_iter = 50\n")
    assert load_config(path).training.lr == 0.001                       # default
    assert load_config(path).training.max_iter == 50                    # file beats default
    assert load_config(path, ["--max_iter", "7"]).training.max_iter == 7  # CLI beats file
    assert load_config(path, ["--max_iter=8"]).training.max_iter == 8
    assert load_config(path, ["--max_iter="]).training.max_iter == 10000  # empty = back to default


def test_section_qualified_override_hits_only_that_section(write_config):
    cfg = load_config(write_config(), ["--T1.pixdim=2,2,2", "--NETWORK.batch_size", "1",
                                       "--INFERENCE.spatial_window_size", "64,64"])
    assert cfg.inputs["T1"].pixdim == (2.0, 2.0, 2.0)
    assert cfg.inputs["label"].pixdim == ()
    assert cfg.network.batch_size == 1
    assert cfg.inference.spatial_window_size == (64, 64, 1)
    assert cfg.inputs["T1"].spatial_window_size == (32, 32, 32)


def test_section_names_in_overrides_are_case_insensitive(write_config):
    cfg = load_config(write_config(), ["--network.batch_size=3", "--t1.interp_order=2"])
    assert cfg.network.batch_size == 3 and cfg.inputs["T1"].interp_order == 2


def test_bare_shared_key_hits_every_section_that_has_it(write_config):
    cfg = load_config(write_config(), ["--spatial_window_size", "16,16,16", "--path_to_search=elsewhere"])
    assert cfg.inference.spatial_window_size == (16, 16, 16)
    assert cfg.inputs["T1"].spatial_window_size == (16, 16, 16)
    assert cfg.inputs["label"].spatial_window_size == (16, 16, 16)
    assert cfg.inputs["T1"].path_to_search == cfg.inputs["label"].path_to_search


def test_negative_numbers_are_values(write_config):
    cfg = load_config(write_config(), ["--starting_iter", "-1", "--fill_constant", "-0.5"])
    assert cfg.training.starting_iter == -1 and cfg.inference.fill_constant == -0.5


def test_app_section_keys_can_be_overridden(write_config):
    cfg = load_config(write_config(), ["--num_classes", "4", "--SEGMENTATION.output_prob=yes"])
    assert cfg.app.num_classes == 4 and cfg.app.output_prob is True


def test_unknown_option_suggests_nearest(write_config):
    with pytest.raises(ConfigError) as info:
        load_config(write_config(), ["--max_itr", "10"])
    assert str(info.value) == "Unknown command-line option `--max_itr`. Did you mean `--max_iter`?"


def test_override_key_in_wrong_section(write_config):
    with pytest.raises(ConfigError) as info:
        load_config(write_config(), ["--NETWORK.max_iter", "10"])
    message = str(info.value)
    assert "Unknown key `max_iter` in [NETWORK] from the command line" in message
    assert "belongs in [TRAINING]" in message


def test_override_unknown_section(write_config):
    with pytest.raises(ConfigError, match=r"Unknown section \[T3\] in command-line option `--T3.pixdim`\. "
                                          r"Did you mean \[T1\]\?"):
        load_config(write_config(), ["--T3.pixdim", "1"])


def test_overrides_are_type_checked_and_say_command_line(write_config):
    with pytest.raises(ConfigError) as info:
        load_config(write_config(), ["--window_sampling", "uniforn"])
    message = str(info.value)
    assert "Invalid value for `window_sampling` in [NETWORK] from the command line." in message
    assert "config.ini" not in message and message.endswith("Did you mean 'uniform'?")


def test_malformed_override_tokens():
    with pytest.raises(ConfigError, match="Unexpected command-line argument 'max_iter'"):
        parse_overrides(["max_iter", "10"])
    with pytest.raises(ConfigError, match="Missing value for command-line option `--max_iter`"):
        parse_overrides(["--max_iter"])
    with pytest.raises(ConfigError, match="Missing value for command-line option `--lr`"):
        parse_overrides(["--lr", "--max_iter", "3"])


def test_parse_overrides_forms():
    parsed = parse_overrides(["--a", "1", "--B=2", "--T1.pixdim=2,2,2", "--NETWORK.name", "unet"])
    assert [(o.section, o.key, o.value) for o in parsed] == [
        (None, "a", "1"), (None, "b", "2"), ("T1", "pixdim", "2,2,2"), ("NETWORK", "name", "unet")]
