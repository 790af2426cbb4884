"""Shared harness for voxflow.layers: shape, dtype, training flag and serialisation in one call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pytest


def _random(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def run_layer_test(
    layer_cls: type[keras.layers.Layer],
    init_kwargs: dict[str, Any],
    input_shape: tuple[int, ...] | list[tuple[int, ...]],
    expected_output_shape: tuple[int, ...],
    expected_num_trainable_weights: int | None = None,
    expected_num_non_trainable_weights: int | None = None,
    accepts_training: bool = True,
) -> keras.layers.Layer:
    """Build ``layer_cls(**init_kwargs)``, check it, and check it survives serialisation.

    Checks: output shape and float32 dtype in training and inference mode; weight counts; unique
    variable paths; ``get_config``/``from_config`` and ``serialize``/``deserialize_keras_object``
    rebuild a layer with the same config, the same weight shapes and (weights copied) the same
    inference output. Returns the built layer.
    """
    multi = isinstance(input_shape, list)
    shapes = input_shape if multi else [input_shape]
    data = [_random(s, seed=i) for i, s in enumerate(shapes)]
    inputs = data if multi else data[0]

    def apply(layer: keras.layers.Layer, training: bool) -> np.ndarray:
        out = layer(inputs, training=training) if accepts_training else layer(inputs)
        assert out.dtype == "float32", out.dtype
        return keras.ops.convert_to_numpy(out)

    layer = layer_cls(**init_kwargs)
    train_out = apply(layer, True)
    infer_out = apply(layer, False)
    assert train_out.shape == expected_output_shape
    assert infer_out.shape == expected_output_shape
    assert np.all(np.isfinite(infer_out))
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights
    if expected_num_non_trainable_weights is not None:
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights
    paths = [v.path for v in layer.variables]
    assert len(paths) == len(set(paths)), paths

    config = layer.get_config()
    copies = [
        layer_cls.from_config(config),
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer)),
    ]
    for copy in copies:
        assert type(copy) is layer_cls
        assert copy.get_config() == config
        apply(copy, False)
        assert [tuple(w.shape) for w in copy.weights] == [tuple(w.shape) for w in layer.weights]
        copy.set_weights(layer.get_weights())
        np.testing.assert_allclose(apply(copy, False), infer_out, rtol=1e-5, atol=1e-5)
    return layer


@pytest.fixture
def check_layer() -> Callable[..., keras.layers.Layer]:
    """The ``run_layer_test`` harness, as a fixture."""
    return run_layer_test
