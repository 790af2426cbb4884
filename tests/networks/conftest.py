"""Tiny configurations of every network, shared by the network tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from voxflow.networks import DenseVNet, HighRes3DNet, SegmentationNet, ToyNet, UNet, VNet

# (class, network_args, window size per axis): small enough to build in well under a second.
TINY: list[tuple[type[SegmentationNet], dict[str, Any], int]] = [
    (ToyNet, {}, 8),
    (UNet, {"base_features": 4, "depth": 2}, 8),
    (HighRes3DNet, {}, 8),
    (VNet, {"base_features": 2, "kernel_size": 3}, 16),
    (DenseVNet, {}, 8),
]
TINY_IDS = [cls.network_name for cls, _, _ in TINY]


def window(spatial_dims: int, size: int, channels: int = 2, batch: int = 2, seed: int = 0) -> np.ndarray:
    """A random float32 batch ``(batch, size, ..., channels)``."""
    shape = (batch, *[size] * spatial_dims, channels)
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.fixture(name="window")
def window_fixture() -> Any:
    """The ``window`` helper, as a fixture (test modules never import conftest)."""
    return window


@pytest.fixture(params=TINY, ids=TINY_IDS)
def tiny(request: pytest.FixtureRequest) -> tuple[type[SegmentationNet], dict[str, Any], int]:
    """One tiny network configuration."""
    return request.param
