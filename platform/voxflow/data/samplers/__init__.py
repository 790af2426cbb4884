"""Window samplers: training windows as infinite ``tf.data`` pipelines, grid windows for inference.

Exports are loaded on first use, so ``import voxflow.data.samplers.grid_layout`` (NumPy only)
does not import TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "WindowSampler": "base",
    "CroppingSampler": "base",
    "SamplerError": "base",
    "UniformSampler": "uniform",
    "WeightedSampler": "weighted",
    "BalancedSampler": "balanced",
    "ResizeSampler": "resize",
    "SelectiveSampler": "selective",
    "CSVLocationSampler": "csv_locations",
    "GridSampler": "grid",
    "grid_locations": "grid_layout",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
