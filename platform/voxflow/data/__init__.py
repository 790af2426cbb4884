"""Data: subjects, per-volume preprocessing, samplers and aggregators.

Import the submodules you need (``voxflow.data.subjects``, ``voxflow.data.preprocessing``...);
this package imports nothing eagerly, so importing it never pulls TensorFlow.
"""
