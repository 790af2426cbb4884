"""NiftyNet's early-stopping modes as documented, and a run that stops early."""

import os
import sys

import pytest

from voxflow.engine.early_stopping import MODES, EarlyStopping, should_stop

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cli"))


@pytest.mark.parametrize("mode, improving, worsening", [
    ("mean", [5, 4, 3, 2], [2, 2, 2, 3]),
    ("robust_mean", [5, 4, 3, 2, 1.5], [2, 2, 2, 2, 3]),
    ("median", [5, 4, 3, 2], [3, 1, 2, 2.5]),
    ("generalisation_loss", [1.0, 0.9, 0.95, 0.9], [1.0, 0.8, 0.9, 1.0]),
    ("median_smoothing", [5, 4, 3, 2, 1], [1.0, 1.01, 1.0, 1.01, 1.0]),
    ("validation_up", [10, 9, 8, 7, 6, 5, 4, 3], [3, 4, 3, 4, 3, 4, 3, 4]),
])
def test_each_mode_keeps_training_while_improving_and_stops_when_not(mode, improving, worsening):
    assert not should_stop(improving, mode)
    assert should_stop(worsening, mode)


def test_the_history_is_the_last_patience_rounds_and_a_higher_is_better_metric_is_turned():
    stopper = EarlyStopping(patience=3, mode="mean", maximise=True)  # e.g. a Dice: higher is better
    assert [stopper.update(v) for v in (0.5, 0.6, 0.7, 0.8)] == [False, False, False, False]
    assert stopper.update(0.2)  # the Dice fell below the mean of the two rounds before
    assert EarlyStopping(None).update(1e9) is False and set(MODES) == {
        "mean", "robust_mean", "median", "generalisation_loss", "median_smoothing", "validation_up"}


def test_a_run_stops_early_and_keeps_its_checkpoints(tmp_path, capsys):
    from cli_data import make_subject, write_config

    from voxflow.cli.main import main

    (tmp_path / "data").mkdir()
    for i in range(4):
        make_subject(str(tmp_path / "data"), f"sub{i:02d}", seed=i)
    config = write_config(tmp_path)
    argv = ["train", "-c", config, "--max_iter", "20", "--validation_every_n", "1", "--save_every_n", "0",
            "--lr", "1e-12", "--patience", "3", "--early_stopping_mode", "median_smoothing"]
    assert main(argv, prog="net_segment", application="segmentation") == 0
    assert "early stopping at iteration 3" in capsys.readouterr().err  # a flat validation loss
    checkpoints = sorted(os.listdir(tmp_path / "model" / "models"))
    assert "ckpt-3" in checkpoints and not any(n in checkpoints for n in ("ckpt-4", "ckpt-20"))
