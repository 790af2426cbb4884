"""Importing TensorFlow the quiet way leaves out what Keras would import for features voxflow never uses."""

import importlib.util
import subprocess
import sys

import pytest


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed")
def test_tensorflow_starts_without_keras_optional_packages_and_they_still_import_afterwards():
    """Keras imported matplotlib's pyplot (and pandas, scikit-learn when installed) on every command's
    start-up: about a second on 2 cores, for an image-gallery plot, DataFrame inputs and scikit-learn wrappers."""
    code = (
        "import sys\n"
        "from voxflow.engine.quiet import KERAS_OPTIONAL, import_tensorflow_quietly\n"
        "tf = import_tensorflow_quietly()\n"
        "loaded = [name for name in sys.modules if name.partition('.')[0] in KERAS_OPTIONAL]\n"
        "assert not loaded, loaded\n"
        "assert tf.constant(2.0).numpy() == 2.0 and tf.keras.layers.Dense(1) is not None\n"
        "import matplotlib.pyplot  # afterwards: imported as usual (voxflow's plots, plugins)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
