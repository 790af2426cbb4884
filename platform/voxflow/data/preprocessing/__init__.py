"""Per-volume, invertible preprocessing: orientation, resampling, padding, intensity and labels.

Public API: :class:`Preprocessor` (load / fit / load_state / invert / labels_to_original),
:class:`PreprocessedSubject` and :class:`VolumeGeometry`. The step modules
(``orientation``, ``resampling``, ``padding``, ``histogram``, ``foreground``, ``whitening``,
``label_normalisation``) are plain NumPy/SciPy functions usable on their own.
"""

from voxflow.data.preprocessing.geometry import VolumeGeometry
from voxflow.data.preprocessing.label_normalisation import LabelMap
from voxflow.data.preprocessing.pipeline import PreprocessedSubject, Preprocessor

__all__ = ["LabelMap", "PreprocessedSubject", "Preprocessor", "VolumeGeometry"]
