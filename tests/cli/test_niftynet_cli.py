"""NiftyNet's command line: ``net_run --app``, NiftyNet's application names, and a config's every
problem printed as its own ``error:`` line (exit status 2) before any work."""

from __future__ import annotations

import textwrap

import pytest

from voxflow import registry
from voxflow.cli.main import main

CONFIG = textwrap.dedent("""\
    [T1]
    path_to_search = data
    filename_contains = T1
    spatial_window_size = 16, 16, 8

    [label]
    path_to_search = data
    filename_contains = seg
    interp_order = 9

    [SYSTEM]
    queue_length = 20

    [NETWORK]
    name = toynet
    batch_size = two

    [TRAINING]
    max_itr = 3

    [SEGMENTATION]
    image = T1
    label = label
    """)
PROBLEMS = ("Invalid value for `batch_size` in [NETWORK]", "Unknown key `max_itr` in [TRAINING]",
            "Missing required key `num_classes` in [SEGMENTATION]", "Invalid value for `interp_order` in [label]")


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.ini"
    path.write_text(CONFIG, encoding="utf-8")
    return str(path)


def _errors(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if ": error: " in line]


@pytest.mark.parametrize("option", ["-a", "--application_name", "--app"])
def test_every_config_problem_is_its_own_error_line(config, capsys, option):
    assert main(["train", "-c", config, option, "segmentation"], prog="net_run", application=None) == 2
    errors = _errors(capsys)
    assert len(errors) == len(PROBLEMS), errors
    for line in errors:
        assert line.startswith("net_run: error: ")
    for problem in PROBLEMS:
        assert sum(problem in line for line in errors) == 1, problem


def test_app_is_the_same_option_as_a(config, capsys):
    main(["train", "-c", config, "-a", "net_segment"], prog="net_run", application=None)
    with_a = capsys.readouterr().err
    main(["train", "-c", config, "--app", "net_segment"], prog="net_run", application=None)
    assert capsys.readouterr().err == with_a


def test_niftynet_import_path_of_an_application_is_voxflows(config, capsys):
    path = "niftynet.application.segmentation_application.SegmentationApplication"
    assert main(["train", "-c", config, "--app", path], prog="net_run", application=None) == 2
    assert len(_errors(capsys)) == len(PROBLEMS)  # the config was validated for [SEGMENTATION]


def test_niftynet_application_voxflow_does_not_have_is_one_line(config, capsys, monkeypatch):
    # voxflow has all six of NiftyNet's applications: a seventh stands in for one it would lack
    monkeypatch.setitem(registry.NIFTYNET_NAMES["application"], "niftynet.application.vx_missing.VxApp", "net_vxmissing")
    assert main(["train", "-c", config, "--app", "net_vxmissing"], prog="net_run", application=None) == 2
    (line,) = _errors(capsys)
    assert "'net_vxmissing' is NiftyNet's niftynet.application.vx_missing.VxApp" in line
    assert "voxflow offers: " in line and "Did you mean" not in line


def test_a_single_problem_is_still_one_line(tmp_path, capsys):
    path = tmp_path / "config.ini"
    text = CONFIG.replace("batch_size = two", "").replace("max_itr = 3", "").replace("interp_order = 9", "")
    path.write_text(text, encoding="utf-8")
    assert main(["train", "-c", str(path), "--app", "segmentation"], prog="net_run", application=None) == 2
    (line,) = _errors(capsys)
    assert "Missing required key `num_classes` in [SEGMENTATION]" in line
