"""Import TensorFlow without its start-up banner and CUDA noise.

The oneDNN banner and CUDA probing messages are written straight to file descriptor 2 and ignore
``TF_CPP_MIN_LOG_LEVEL``; the only reliable way to keep a CPU machine's console clean is to point
fd 2 at /dev/null while ``import tensorflow`` runs, then restore it.

``import tensorflow`` also imports Keras, and Keras imports pandas, matplotlib's pyplot and scikit-learn
whenever they are installed, for features voxflow never uses (DataFrame inputs to ``fit``, an image
gallery plot, scikit-learn wrappers): about 1 s of every command's start-up on 2 cores. While TensorFlow
starts, those three are reported missing (Keras then leaves the features off); afterwards they import
as usual, for voxflow's plots and for plugins.
"""

from __future__ import annotations

import importlib.abc
import logging
import os
import sys
import warnings

#: Packages Keras imports only if installed, for features voxflow does not use; not loaded while TensorFlow starts.
KERAS_OPTIONAL = ("pandas", "matplotlib", "sklearn")


class _NotWhileStarting(importlib.abc.MetaPathFinder):
    """Reports :data:`KERAS_OPTIONAL` packages as missing (Keras's ``try: import … except ImportError``)."""

    def find_spec(self, name, path=None, target=None):  # noqa: ANN001, ANN201 - the finder protocol
        if name.partition(".")[0] in KERAS_OPTIONAL:
            raise ImportError(f"{name} is not imported while TensorFlow starts (voxflow.engine.quiet)")
        return None


def import_tensorflow_quietly():
    """Import and return the ``tensorflow`` module with start-up logging silenced."""
    if "tensorflow" in sys.modules:  # imported before (e.g. by a plugin): quiet its Python loggers at least
        tf = sys.modules["tensorflow"]
        tf.get_logger().setLevel(logging.ERROR)
        logging.getLogger("absl").setLevel(logging.ERROR)
        return tf
    # 3: TensorFlow's C++ error lines too (grappler's "E0000 ... remapper failed" after start-up): real failures
    # raise Python exceptions. An explicit TF_CPP_MIN_LOG_LEVEL in the environment wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    blocker = _NotWhileStarting()
    sys.meta_path.insert(0, blocker)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf  # noqa: PLC0415

        tf.get_logger().setLevel(logging.ERROR)
        tf.config.list_physical_devices("GPU")  # trigger CUDA probing while muted
    finally:
        sys.meta_path.remove(blocker)
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    logging.getLogger("absl").setLevel(logging.ERROR)
    return tf
