"""TensorBoard image grids, and the engine's inference loop as an application sees it."""

import glob

import numpy as np
import pytest
import tensorflow as tf

from voxflow.applications.base import Application
from voxflow.engine.inference import run_inference
from voxflow.engine.summaries import SummaryLogger, image_grid
from voxflow.errors import ConfigError


def test_a_grid_tiles_middle_slices_each_scaled_on_its_own():
    volumes = [np.full((4, 3, 5), float(i)) for i in range(5)]
    volumes[2] = np.arange(60, dtype=np.float64).reshape(4, 3, 5)
    grid = image_grid(volumes)
    # ceil(sqrt(5)) = 3 columns, 2 rows of rot90'd 4x3 slices (3 rows x 4 columns), one-pixel gaps
    assert grid.shape == (2 * 4 - 1, 3 * 5 - 1)
    third = grid[0:3, 10:14]
    assert third.min() == 0.0 and third.max() == 1.0  # the varying slice spans [0, 1]
    assert np.all(grid[3, :] == 0) and np.all(grid[:, 4] == 0)  # gaps
    assert image_grid([]).shape == (1, 1)


def test_lists_are_logged_as_one_grid_image(tmp_path):
    logger = SummaryLogger(str(tmp_path))
    logger.image_slices("train", 3, {"samples": [np.ones((6, 6, 6))] * 4, "image": np.zeros((6, 6, 6))})
    logger.close()
    events = glob.glob(str(tmp_path / "train" / "events.*"))
    images = {}
    for record in tf.compat.v1.train.summary_iterator(events[0]):
        for value in record.summary.value:
            images[value.tag] = tf.io.decode_png(tf.make_ndarray(value.tensor)[2]).shape
    assert images == {"samples": (13, 13, 1), "image": (6, 6, 1)}


class _Items(Application):
    SECTION = "ITEMS"

    def __init__(self):
        self.calls = []

    def output_writer(self):
        app = self

        class Writer:
            def result(self):
                return {"outputs": app.calls}
        return Writer()

    def inference_items(self):
        return ["a", "b"]

    def predictor(self, models):
        return lambda x: x * models["network"]

    def predict_item(self, predict, item, strategy):
        return predict(len(item) + ord(item[0]))

    def write_item(self, writer, item, prediction):
        self.calls.append((item, prediction))


def test_the_loop_predicts_and_writes_each_item_in_order():
    assert _Items().infer({"network": 2}, strategy=None) == {"outputs": [("a", 196), ("b", 198)]}
    assert run_inference(_Items(), {"network": 1}, None)["outputs"][1] == ("b", 99)


def test_an_application_without_an_output_writer_has_no_inference_action():
    class TrainOnly(Application):
        SECTION = "TRAIN_ONLY"

    with pytest.raises(ConfigError, match="TrainOnly \\(\\[TRAIN_ONLY\\]\\) has no inference action"):
        TrainOnly(None, "inference").infer({}, None)
