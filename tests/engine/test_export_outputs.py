"""export serves the application's declared outputs: a regression's values are not passed through a softmax."""

import types

import keras
import numpy as np
import tensorflow as tf

from voxflow.applications.dense import DenseApplication
from voxflow.engine.export import _save_keras, _write_saved_model, export_summary


def test_a_regression_export_serves_its_values(tmp_path):
    inputs = keras.Input((None, None, None, 1))
    model = keras.Model(inputs, keras.layers.Conv3D(2, 1, kernel_initializer="ones", bias_initializer=
                                                     keras.initializers.Constant(-3.0))(inputs))
    app = types.SimpleNamespace(output_activation=lambda outputs: outputs)  # a regression's identity activation
    app.serving_outputs = lambda net, windows: DenseApplication.serving_outputs(app, net, windows)
    _write_saved_model(app, model, str(tmp_path / "saved"), 3, 1)
    served = tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"]
    windows = np.full((1, 4, 4, 4, 1), 2.0, np.float32)
    out = served(windows=tf.constant(windows))["output"].numpy()
    np.testing.assert_allclose(out, -1.0)  # 2·1 − 3 in both channels; a softmax would give 0.5


def test_the_closing_line_claims_a_keras_file_only_when_one_was_written(tmp_path):
    class Unserialisable(keras.Model):  # a plugin network without get_config arguments
        def __init__(self, scale):
            super().__init__()
            self.scale = scale

        def call(self, x):
            return x * self.scale

    model = Unserialisable(tf.constant(2.0))
    model(np.zeros((1, 2, 2, 2, 1), np.float32))
    written = _save_keras(model, str(tmp_path / "model.keras"))
    assert written is None and not (tmp_path / "model.keras").exists()
    line = export_summary({"iteration": 4, "folder": "out", "keras_file": written})
    assert ".keras file of" not in line and "no .keras file" in line
    assert export_summary({"iteration": 4, "folder": "out", "keras_file": "model.keras"}).startswith(
        "export: SavedModel and .keras file of iteration 4")
