"""``net_segment export``: a trained checkpoint as a TensorFlow SavedModel and a ``.keras`` file.

The SavedModel's ``serving_default`` signature takes a batch of windows
``(batch, *spatial, channels)`` float32 — any spatial size the network accepts — and returns what the
application's ``serving_outputs`` says (segmentation: ``{"probabilities": (batch, *spatial,
num_classes)}``; regression ``{"output": …}``; registration ``{"displacement": …}``), so the model can be served outside voxflow
(TF Serving, a C++ application, a notebook with ``tf.saved_model.load``). ``voxflow_export.json``
records what a caller must reproduce: window, channels, classes, and the training configuration
and preprocessing state are copied beside it.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any

import tensorflow as tf

from voxflow import __version__
from voxflow.atomic import atomic_directory, atomic_write_json
from voxflow.engine.checkpoints import CheckpointStore
from voxflow.errors import ConfigError, first_line

log = logging.getLogger(__name__)

# Files of model_dir that describe how inputs were prepared during training.
STATE_FILES = ("settings_train.ini", "label_map.json")


def _write_saved_model(app: Any, model: Any, path: str, spatial_dims: int, channels: int) -> None:
    """A SavedModel whose ``serving_default`` returns ``app.serving_outputs`` for any window size.

    Keras' ``ExportArchive`` tracks every variable of the model (a plain ``tf.Module`` wrapper
    misses Keras 3 variables that TensorFlow's tracking does not see).
    """
    import keras  # noqa: PLC0415

    spec = tf.TensorSpec([None] * (1 + spatial_dims) + [channels], tf.float32, name="windows")

    def serve(windows: tf.Tensor) -> dict[str, tf.Tensor]:
        return app.serving_outputs(model, windows)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[spec])
    archive.write_out(path, verbose=False)


def export_model(app: Any, cfg: Any, output_dir: str) -> dict:
    """Write the checkpoint chosen by ``[INFERENCE] inference_iter`` to ``output_dir``.

    Raises:
        ConfigError: ``output_dir`` exists and is not empty.
        CheckpointError: no such checkpoint.
    """
    output_dir = os.path.abspath(output_dir)
    if os.path.exists(output_dir) and (not os.path.isdir(output_dir) or os.listdir(output_dir)):
        raise ConfigError(f"--output {output_dir} already exists: choose a new folder (an export never overwrites).")
    store = CheckpointStore(os.path.join(cfg.system.model_dir, "models"))
    iteration = store.select(cfg.inference.inference_iter)
    app.configure_from_checkpoint(store.meta(iteration))
    models = app.build_models()  # each built on an example input
    store.restore(iteration, models)
    model = app.serving_model(models)
    example = app.example_input()
    spatial_dims = example.ndim - 2
    # Written beside the output and renamed into place: an interrupted export leaves nothing behind.
    with atomic_directory(output_dir, kind="export") as staging:
        _write_saved_model(app, model, os.path.join(staging, "saved_model"), spatial_dims, int(example.shape[-1]))
        keras_file = _save_keras(model, os.path.join(staging, "model.keras"))
        for name in dict.fromkeys((*STATE_FILES, *getattr(app, "STATE_FILES", ()))):
            source = os.path.join(cfg.system.model_dir, name)
            if os.path.isfile(source):
                shutil.copy2(source, os.path.join(staging, name))
        histogram = cfg.network.histogram_ref_file
        if cfg.network.normalisation and histogram and os.path.isfile(histogram):
            shutil.copy2(histogram, os.path.join(staging, os.path.basename(histogram)))
        manifest = {
            "voxflow_version": __version__,
            "iteration": iteration,
            "network": cfg.network.name,
            "window": [int(v) for v in example.shape[1:-1]],
            "spatial_dims": spatial_dims,
            "channels": int(example.shape[-1]),
            **({"num_classes": int(cfg.app.num_classes)} if "num_classes" in cfg.app else {}),
            "signature": "serving_default: windows (batch, *spatial, channels) float32 -> "
                         + ", ".join(app.serving_outputs(model, example)),
            "keras_file": keras_file,
        }
        atomic_write_json(os.path.join(staging, "voxflow_export.json"), manifest)
    return {"folder": output_dir, "iteration": iteration, "keras_file": keras_file}


def export_summary(result: dict) -> str:
    """The console's closing line: what was written, and where (no ``.keras`` file claimed when none was)."""
    what = "SavedModel and .keras file" if result.get("keras_file") else "SavedModel (no .keras file: see the warning)"
    return f"export: {what} of iteration {result['iteration']} written to {result['folder']}"


def _save_keras(model: Any, path: str) -> str | None:
    try:
        model.save(path)
    except Exception as err:  # noqa: BLE001 - a plugin network may not be serialisable
        log.warning("no .keras file: %s cannot be serialised (%s); the SavedModel is complete",
                    type(model).__name__, first_line(err))
        if os.path.exists(path):  # Keras leaves the archive it had begun: never ship a broken file
            os.remove(path)
        return None
    return os.path.basename(path)
