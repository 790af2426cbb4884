"""Hostile or absurd configs: YAML bombs, duplicates, huge values, NUL bytes, giant windows.

Each must end in one short ConfigError line naming the file, section or key, never a traceback,
an internal error, or memory growing without bound.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from voxflow.config import load_config
from voxflow.errors import ConfigError

#: Nine anchors, each a list of nine aliases of the previous one: 9**9 strings once expanded.
BILLION_LAUGHS = "".join(
    ["TRAINING:\n", '  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n']
    + [f"  a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)]
    + ["SEGMENTATION:\n  image: T1\n  num_classes: *a8\n"]  # validated (and echoed) first
)


def _error(path, overrides=()) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides=overrides)
    message = str(info.value)
    assert "\n" not in message, message
    return message


def test_yaml_alias_bomb_fails_fast_in_one_line(tmp_path):
    """Run in a child with 1 GiB of address space: expanding the aliases would need far more."""
    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    assert len(BILLION_LAUGHS) < 1000
    code = textwrap.dedent(f"""\
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
        from voxflow.config import load_config
        from voxflow.errors import ConfigError
        try:
            load_config({str(path)!r})
        except ConfigError as err:
            print(err)
            sys.exit(0)
        sys.exit(3)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 300, lines
    assert "bomb.yaml at line 3" in lines[0] and "aliases" in lines[0]


def test_yaml_alias_is_refused_even_when_small(write_config):
    message = _error(write_config("SEGMENTATION:\n  image: &x T1\n  label: *x\n  num_classes: 2\n",
                                  name="config.yaml"))
    assert "config.yaml at line 3" in message and "aliases" in message


@pytest.mark.parametrize("key, filler, size", [("window_sampling", "x", 50_000_000), ("batch_size", "9", 50_000_000),
                                               ("keep_prob", "7", 50_000_000), ("network_args", "y", 5_000_000)])
def test_huge_value_is_not_echoed_whole(write_config, base_ini, key, filler, size):
    message = _error(write_config(base_ini.replace("name = toynet", f"name = toynet\n{key} = {filler * size}")))
    assert message.startswith(f"Invalid value for `{key}` in [NETWORK] of ")
    assert len(message) < 500 and f"({size} characters)" in message


def test_huge_unknown_key_and_option_are_not_echoed_whole(write_config, base_ini):
    message = _error(write_config(base_ini.replace("name = toynet", f"name = toynet\n{'k' * 1_000_000} = 1")))
    assert message.startswith("Unknown key `kkkk") and "(1000000 characters)" in message
    assert len(message) < 1000  # the key is clipped; the valid keys of [NETWORK] are listed
    message = _error(write_config(), [f"--{'o' * 1_000_000}", "1"])
    assert message.startswith("Unknown command-line option `--ooo") and len(message) < 500
    message = _error(write_config(), ["z" * 1_000_000])
    assert message.startswith("Unexpected command-line argument 'zzz") and len(message) < 500


def test_huge_malformed_ini_line_is_not_echoed_whole(write_config):
    message = _error(write_config("[SEGMENTATION]\nimage = T1\n" + "w" * 5_000_000 + "\n"))
    assert "config.ini at line 3" in message and len(message) < 500


def test_yaml_duplicate_key_names_the_line(write_config):
    text = "SEGMENTATION:\n  image: T1\n  num_classes: 2\n  num_classes: 7\n"
    message = _error(write_config(text, name="config.yaml"))
    assert "config.yaml at line 4" in message and "`num_classes` appears twice in [SEGMENTATION]" in message


def test_yaml_duplicate_key_differing_in_case_names_the_line(write_config):
    """INI keys are case-insensitive (configparser rejects `image` and `IMAGE`): YAML keys too."""
    text = "SEGMENTATION:\n  image: T1\n  num_classes: 2\n  NUM_Classes: 7\n"
    message = _error(write_config(text, name="config.yaml"))
    assert "config.yaml at line 4" in message and "`num_classes` appears twice in [SEGMENTATION]" in message


def test_yaml_duplicate_section_names_the_line(write_config):
    text = "SEGMENTATION:\n  image: T1\n  num_classes: 2\nNETWORK:\n  name: toynet\nNETWORK:\n  batch_size: 4\n"
    message = _error(write_config(text, name="config.yaml"))
    assert "config.yaml at line 6" in message and "section [NETWORK] appears twice" in message


@pytest.mark.parametrize("name, header", [("config.ini", "[network]\nbatch_size = 4\n"),
                                          ("config.yaml", "network:\n  batch_size: 4\n")])
def test_system_section_twice_in_different_case_names_the_line(write_config, name, header):
    """System and application section names are case-insensitive in both formats."""
    if name.endswith(".ini"):
        text = "[SEGMENTATION]\nimage = T1\nnum_classes = 2\n[NETWORK]\nname = toynet\n" + header
    else:
        text = "SEGMENTATION:\n  image: T1\n  num_classes: 2\nNETWORK:\n  name: toynet\n" + header
    message = _error(write_config(text, name=name))
    assert f"{name} at line 6" in message and "[network]" in message and "[NETWORK]" in message


@pytest.mark.parametrize("name, text", [
    ("config.ini", "[T1]\npath_to_search = a\n[t1]\npath_to_search = b\n[NETWORK]\nname = toynet\n"
                   "[SEGMENTATION]\nimage = T1\nlabel = t1\nnum_classes = 2\n"),
    ("config.yaml", "T1:\n  path_to_search: a\nt1:\n  path_to_search: b\nNETWORK:\n  name: toynet\n"
                    "SEGMENTATION:\n  image: T1\n  label: t1\n  num_classes: 2\n"),
])
def test_input_sections_differing_in_case_are_distinct_in_both_formats(write_config, name, text):
    cfg = load_config(write_config(text, name=name), action="inference")
    assert list(cfg.inputs) == ["T1", "t1"]


@pytest.mark.parametrize("where", ["file", "override"])
@pytest.mark.parametrize("key", ["model_dir", "path_to_search", "csv_file", "histogram_ref_file"])
def test_nul_byte_in_a_path_names_the_key(write_config, base_ini, where, key):
    section = {"model_dir": "SYSTEM", "histogram_ref_file": "NETWORK"}.get(key, "T1")
    if where == "file":
        text = base_ini.replace("path_to_search = ./data\n", "", 1) if key == "path_to_search" else base_ini
        text = text.replace(f"[{section}]\n", f"[{section}]\n{key} = a\0b\n") if f"[{section}]" in text \
            else text + f"\n[{section}]\n{key} = a\0b\n"
        message = _error(write_config(text))
    else:
        message = _error(write_config(), [f"--{section}.{key}", "a\0b"])
    assert f"Invalid value for `{key}` in [{section}]" in message and "NUL" in message


def test_nul_byte_in_the_config_file_name(tmp_path):
    message = _error(str(tmp_path / "a\0b.ini"))
    assert "NUL" in message and "\0" not in message


@pytest.mark.parametrize("value", ["100000,100000,100000", "1e20", "100000000000000000000", "0, 64, 64"])
def test_window_sizes_are_bounded(write_config, base_ini, value):
    message = _error(write_config(base_ini.replace("32, 32, 32", value)))
    assert message.startswith("Invalid value for `spatial_window_size` in [T1] of ")
    assert "integers in [1, 65535]" in message


def test_window_size_from_yaml_integer_and_override_is_bounded(write_config):
    text = ("T1:\n  path_to_search: data\n  spatial_window_size: [100000000000000000000, 64, 64]\n"
            "NETWORK:\n  name: toynet\nSEGMENTATION:\n  image: T1\n  label: T1\n  num_classes: 2\n")
    message = _error(write_config(text, name="config.yaml"))
    assert "`spatial_window_size` in [T1]" in message and "65535" in message
    message = _error(write_config(), ["--spatial_window_size", str(10**20)])
    assert "`spatial_window_size`" in message and "from the command line" in message


def test_giant_integers_anywhere_are_one_line(write_config, base_ini):
    message = _error(write_config(base_ini.replace("num_classes = 2", f"num_classes = {'9' * 5000}")))
    assert message.startswith("Invalid value for `num_classes` in [SEGMENTATION]") and len(message) < 500
    message = _error(write_config(base_ini.replace("name = toynet", f"name = toynet\nbatch_size = {10**30}")))
    assert message.startswith("Invalid value for `batch_size` in [NETWORK]")


def test_yaml_integer_of_thousands_of_digits_and_deep_nesting_are_one_line(write_config):
    message = _error(write_config(f"SEGMENTATION:\n  num_classes: {'9' * 5000}\n", name="config.yaml"))
    assert message.startswith("Cannot parse") and "config.yaml" in message and len(message) < 500
    message = _error(write_config("SEGMENTATION:\n  image: " + "[" * 100_000 + "]" * 100_000 + "\n",
                                  name="config.yaml"))
    assert message.startswith("Cannot parse") and "nests too deeply" in message


def test_yaml_merge_key_is_refused(write_config):
    text = "SEGMENTATION:\n  image: T1\n  <<: {num_classes: 2}\n"
    assert "config.yaml at line 3" in _error(write_config(text, name="config.yaml"))
