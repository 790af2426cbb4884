"""voxflow: config-driven deep learning for medical imaging on TensorFlow 2 / Keras 3.

Importing this package is cheap: TensorFlow is imported only by the modules that need it.

Importing it does set one TensorFlow default, before TensorFlow is loaded: ``TF_ENABLE_ONEDNN_OPTS=1``.
TensorFlow turns its oneDNN CPU kernels on by itself only on some Intel processors; elsewhere (AMD,
AVX2-only machines) 3-D convolutions fall back to Eigen's im2col kernels, which spend a third of
their time in page faults: the demo's training ran 2.6x slower (0.42 against 1.1 iterations/s on 2
cores). An explicit ``TF_ENABLE_ONEDNN_OPTS`` in the environment wins (``0`` turns oneDNN off).
"""

import os as _os

_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"
