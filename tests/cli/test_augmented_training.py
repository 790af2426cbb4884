"""`net_segment train` with NiftyNet's augmentation keys and an [AUGMENTATION] section."""

import os

import pytest
from cli_data import write_config

from voxflow.cli.main import main

AUGMENTATION = """
[AUGMENTATION]
random_gamma = log_gamma=0.2, p=0.5
RandomMotion = degrees=5, translation=2, num_transforms=2, p=0.5
random_noise = std=(0, 0.1)
"""


def _segment(*argv):
    return main(list(argv), prog="net_segment", application="segmentation")


def test_training_with_augmentation_runs_two_iterations(tmp_path, tiny_dataset, capsys, caplog):
    caplog.set_level("INFO", logger="voxflow")
    config = write_config(tmp_path, extra=AUGMENTATION)
    status = _segment("train", "-c", config, "--max_iter", "2", "--validation_every_n", "-1",
                      "--rotation_angle=-10,10", "--scaling_percentage=-5,5", "--random_flipping_axes", "0,1",
                      "--do_elastic_deformation", "yes", "--deformation_sigma", "1", "--bias_field_range=-0.3,0.3")
    assert status == 0, capsys.readouterr().err
    assert os.path.isdir(tmp_path / "model" / "models")
    assert "augmentation: RandomFlip, RandomAffine, RandomElasticDeformation, RandomBiasField, RandomGamma" \
        in caplog.text


@pytest.mark.parametrize("line, expected", [
    ("random_motoin = degrees=10", "Did you mean `random_motion`?"),
    ("random_motion = degres=10", "did you mean 'degrees'?"),
])
def test_bad_augmentation_key_is_one_line_error(tmp_path, tiny_dataset, capsys, line, expected):
    config = write_config(tmp_path, extra=f"\n[AUGMENTATION]\n{line}\n")
    assert _segment("train", "-c", config, "--max_iter", "1") == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1


def test_spatial_augmentation_margin_with_a_network_that_needs_divisible_windows(tmp_path, tiny_dataset, capsys):
    """The sampler cuts window + 2·margin; the network (and TensorBoard's slices) see the cropped window."""
    config = write_config(tmp_path, network="unet", window="16,16,8")
    text = open(config, encoding="utf-8").read().replace("name = unet", "name = unet\nnetwork_args = base_features=4, depth=2")
    open(config, "w", encoding="utf-8").write(text)
    status = _segment("train", "-c", config, "--max_iter", "2", "--validation_every_n", "-1", "--tensorboard_every_n", "1",
                      "--rotation_angle=-10,10")
    assert status == 0, capsys.readouterr().err
