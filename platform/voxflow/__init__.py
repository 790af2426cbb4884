"""voxflow: config-driven deep learning for medical imaging on TensorFlow 2 / Keras 3.

Importing this package is cheap: TensorFlow is imported only by the modules that need it.
"""

__version__ = "0.1.0"
