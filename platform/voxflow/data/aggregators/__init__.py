"""Aggregators: stitch network outputs back into volumes (NumPy; no TensorFlow import)."""

from voxflow.data.aggregators.grid import GridAggregator, gaussian_importance
from voxflow.data.aggregators.resize import ResizeAggregator, resize_volume

__all__ = ["GridAggregator", "ResizeAggregator", "gaussian_importance", "resize_volume"]
