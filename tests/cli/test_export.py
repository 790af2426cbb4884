"""net_segment export: the SavedModel and the .keras file give the network's own probabilities."""

import json
import os

import keras
import numpy as np
import tensorflow as tf
from cli_data import write_config

from voxflow.cli.main import main


def run(*argv):
    return main(list(argv), prog="net_segment", application="segmentation")


def test_export_reload_gives_the_same_probabilities(tmp_path, tiny_dataset):
    config = write_config(tmp_path, network="unet", window="16,16,8", extra="")
    text = open(config, encoding="utf-8").read().replace("name = unet", "name = unet\nnetwork_args = base_features=4, depth=2")
    open(config, "w", encoding="utf-8").write(text)
    assert run("train", "-c", config, "--max_iter", "2", "--validation_every_n", "-1") == 0
    out = tmp_path / "exported"
    assert run("export", "-c", config, "--output", str(out)) == 0
    manifest = json.loads((out / "voxflow_export.json").read_text(encoding="utf-8"))
    assert manifest["window"] == [16, 16, 8] and manifest["num_classes"] == 3 and manifest["channels"] == 1
    assert (out / "settings_train.ini").is_file()

    windows = np.random.default_rng(0).normal(size=(2, 16, 16, 8, 1)).astype(np.float32)
    served = tf.saved_model.load(str(out / "saved_model")).signatures["serving_default"]
    probabilities = served(windows=tf.constant(windows))["probabilities"].numpy()
    assert probabilities.shape == (2, 16, 16, 8, 3)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    # Another window size through the same signature (spatial axes are flexible).
    larger = served(windows=tf.zeros((1, 24, 16, 8, 1)))["probabilities"]
    assert tuple(larger.shape) == (1, 24, 16, 8, 3)

    reloaded = keras.saving.load_model(str(out / "model.keras"))
    keras_probabilities = tf.nn.softmax(reloaded(windows, training=False), axis=-1).numpy()
    np.testing.assert_allclose(keras_probabilities, probabilities, atol=1e-5)


def test_export_refuses_an_existing_folder(tmp_path, tiny_dataset, capsys):
    config = write_config(tmp_path)
    assert run("train", "-c", config, "--max_iter", "1", "--validation_every_n", "-1") == 0
    out = tmp_path / "exported"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    assert run("export", "-c", config, "--output", str(out)) == 2
    assert "already exists" in capsys.readouterr().err
    assert os.listdir(out) == ["keep.txt"]
