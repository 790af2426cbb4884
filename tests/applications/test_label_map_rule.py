"""Label normalisation and num_classes: the label map must hold exactly num_classes values.

Class k of the network is the k-th label value of the map, so a map with fewer values than
num_classes leaves classes with no value to be written as: training used to run and inference then
stopped with "internal error: label indices must be in 0..K-1" after writing some subjects (every
NiftyNet parcellation config has num_classes = 160). The rule is NiftyNet's, and it is checked
before any work: at train start once the map is learnt or loaded, and at inference and evaluation
start when it is loaded.
"""

import os
import sys

import pytest

from voxflow.cli.main import main

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cli"))
from cli_data import make_subject, write_config  # noqa: E402


def run(capsys, *argv):
    """Runs net_segment; returns the exit status and the error output."""
    capsys.readouterr()
    status = main(list(argv), prog="net_segment", application="segmentation")
    return status, capsys.readouterr().err


@pytest.fixture
def project(tmp_path):
    """Three subjects labelled 0, 1, 2 and a config with label_normalisation and num_classes = 20."""
    (tmp_path / "data").mkdir()
    for i in range(3):
        make_subject(str(tmp_path / "data"), f"sub{i:02d}", seed=i)
    config = write_config(tmp_path, extra="label_normalisation = True\n")
    text = open(config, encoding="utf-8").read().replace("num_classes = 3", "num_classes = 20")
    open(config, "w", encoding="utf-8").write(text)
    return config


def _error_line(err):
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1, err
    return lines[0]


def test_training_stops_before_any_work_when_the_map_is_smaller_than_num_classes(tmp_path, project, capsys):
    status, err = run(capsys, "train", "-c", project, "--max_iter", "1", "--validation_every_n", "-1")
    assert status == 2
    line = _error_line(err)
    assert "label_map.json" in line and "[0, 1, 2]" in line and "num_classes = 20" in line
    assert "Set num_classes = 3" in line
    model = tmp_path / "model"
    assert not (model / "models").exists() or not os.listdir(model / "models")  # no checkpoint
    assert not (model / "label_map.json").exists()  # a map that cannot be used is not saved


def _old_model(tmp_path, project, capsys):
    """The state a model trained before the rule left: num_classes = 20, a label map of 3 values."""
    status, err = run(capsys, "train", "-c", project, "--max_iter", "1", "--validation_every_n", "-1",
                      "--label_normalisation", "no")
    assert status == 0, err
    model = tmp_path / "model"
    settings = model / "settings_train.ini"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "label_normalisation = False", "label_normalisation = True"), encoding="utf-8")
    (model / "label_map.json").write_text(
        '{"format": "voxflow-label-map", "version": 1, "section": "label", "values": [0, 1, 2]}',
        encoding="utf-8")
    return model


def test_inference_and_evaluation_refuse_such_a_model_before_writing_anything(tmp_path, project, capsys):
    model = _old_model(tmp_path, project, capsys)
    status, err = run(capsys, "inference", "-c", project)
    assert status == 2  # was 1: "internal error: label indices must be in 0..2", after some outputs
    line = _error_line(err)
    assert str(model / "label_map.json") in line and "[0, 1, 2]" in line and "num_classes = 20" in line
    output = model / "output"
    assert not output.exists() or not [name for name in os.listdir(output) if not name.startswith(".")]
    status, err = run(capsys, "evaluation", "-c", project)
    assert status == 2
    assert "num_classes = 20" in _error_line(err)
