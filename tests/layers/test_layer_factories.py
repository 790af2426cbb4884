"""The activation and normalisation factories, initialiser/regulariser handling, linear resize values."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from voxflow.layers import (
    ACTIVATIONS,
    NORMALIZATIONS,
    ConvBlock,
    get_activation,
    get_normalization,
    linear_resize,
    serialize_regularizer,
)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_every_activation_builds_and_keeps_shape(name, spatial_dims):
    x = np.linspace(-2, 2, 2 * 4**spatial_dims * 3, dtype="float32").reshape((2, *[4] * spatial_dims, 3))
    layer = get_activation(name.upper(), spatial_dims, name="acti")
    y = keras.ops.convert_to_numpy(layer(x))
    assert y.shape == x.shape and y.dtype == np.float32
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    restored(x)
    restored.set_weights(layer.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(x)), y, rtol=1e-6)


def test_prelu_starts_as_relu_and_shares_spatial_axes():
    layer = get_activation("prelu", 3)
    x = np.linspace(-1, 1, 2 * 5 * 6 * 7 * 3, dtype="float32").reshape((2, 5, 6, 7, 3))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), np.maximum(x, 0))
    assert tuple(layer.weights[0].shape) == (1, 1, 1, 3)  # works for any window size


def test_no_activation_and_unknown_names():
    assert get_activation(None) is None and get_activation("none") is None
    with pytest.raises(ValueError, match="Did you mean 'relu'"):
        get_activation("rleu")


@pytest.mark.parametrize("name", NORMALIZATIONS)
def test_every_normalization(name):
    layer = get_normalization(name, name="norm")
    if name == "none":
        assert layer is None
        return
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(2, 4, 4, 4, 6)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    assert y.shape == x.shape
    assert abs(float(y.mean())) < 0.1 and abs(float(y.std()) - 1.0) < 0.1


def test_instance_norm_normalises_each_sample_and_channel():
    x = np.random.default_rng(1).normal(size=(2, 4, 4, 4, 3)).astype("float32") * [1.0, 5.0, 9.0] + [0.0, 3.0, -4.0]
    y = keras.ops.convert_to_numpy(get_normalization("instance")(x))
    np.testing.assert_allclose(y.mean(axis=(1, 2, 3)), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(1, 2, 3)), 1.0, atol=1e-3)


def test_unknown_normalization():
    with pytest.raises(ValueError, match="Expected one of: batch, instance, group, none"):
        get_normalization("batchnorm")


def test_regularizer_forms():
    assert serialize_regularizer(None) is None
    assert serialize_regularizer(0.0) is None
    assert serialize_regularizer(1e-4)["config"]["l2"] == pytest.approx(1e-4)
    assert serialize_regularizer("l2") == "l2"
    block = ConvBlock(4, 2, kernel_regularizer=keras.regularizers.L1(0.1))
    block(np.ones((1, 4, 4, 1), "float32"))
    assert len(block.losses) == 1 and float(block.losses[0]) > 0


def test_linear_resize_is_exact_on_linear_ramps():
    # Half-pixel centres: output voxel p samples input coordinate 2p + 0.5 when halving, so a
    # linear function of the indices is reproduced exactly; different sizes catch axis mix-ups.
    i, j, k = np.meshgrid(np.arange(8), np.arange(6), np.arange(4), indexing="ij")
    ramp = (1.0 * i + 10.0 * j + 100.0 * k).astype("float32")[None, ..., None]
    out = keras.ops.convert_to_numpy(linear_resize(ramp, [4, 3, 2]))[0, ..., 0]
    p, q, r = np.meshgrid(np.arange(4), np.arange(3), np.arange(2), indexing="ij")
    expected = 1.0 * (2 * p + 0.5) + 10.0 * (2 * q + 0.5) + 100.0 * (2 * r + 0.5)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
