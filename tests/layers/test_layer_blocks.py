"""Every block of voxflow.layers through the shared harness, in 2-D and 3-D."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from voxflow.layers import (
    ConvBlock,
    DenseFeatureStack,
    DilatedConvBlock,
    DownSample,
    Dropout,
    GroupNorm,
    LinearResize,
    ResidualUnit,
    UpSample,
)

DIMS = [2, 3]


def shape(spatial_dims: int, size: int, channels: int, batch: int = 2) -> tuple[int, ...]:
    return (batch, *([size] * spatial_dims), channels)


@pytest.mark.parametrize("spatial_dims", DIMS)
@pytest.mark.parametrize(
    "kwargs, size_out, weights",
    [
        ({}, 8, (3, 2)),  # kernel, gamma, beta (no bias with norm) + moving mean/var
        ({"norm": "none", "acti_func": "prelu"}, 8, (3, 0)),  # kernel, bias, alpha
        ({"norm": "instance", "preactivation": True, "acti_func": "elu"}, 8, (4, 0)),
        ({"norm": "group", "strides": 2, "acti_func": "leakyrelu"}, 4, (3, 0)),
        ({"dilation": 2, "keep_prob": 0.5, "kernel_regularizer": 1e-4}, 8, (3, 2)),
        ({"transpose": True, "kernel_size": 2, "strides": 2, "norm": "none"}, 16, (2, 0)),
    ],
)
def test_conv_block(check_layer, spatial_dims, kwargs, size_out, weights):
    check_layer(
        ConvBlock,
        {"filters": 6, "spatial_dims": spatial_dims, **kwargs},
        shape(spatial_dims, 8, 3),
        shape(spatial_dims, size_out, 6),
        *weights,
    )


def test_dilated_conv_block(check_layer):
    kwargs = {"filters": 4, "spatial_dims": 3, "dilation": 3}
    layer = check_layer(DilatedConvBlock, kwargs, shape(3, 8, 2), shape(3, 8, 4))
    assert layer.conv.dilation_rate == (3, 3, 3)


@pytest.mark.parametrize("spatial_dims", DIMS)
@pytest.mark.parametrize(
    "kwargs, channels_in, size_out",
    [
        ({"preactivation": True}, 4, 8),  # identity shortcut
        ({"preactivation": True, "shortcut": "pad", "dilation": 2}, 2, 8),
        ({"preactivation": False, "num_convs": 3, "norm": "none"}, 4, 8),
        ({"preactivation": False, "shortcut": "tile", "num_convs": 1}, 3, 8),
        ({"strides": 2}, 2, 4),  # projection shortcut
    ],
)
def test_residual_unit(check_layer, spatial_dims, kwargs, channels_in, size_out):
    check_layer(
        ResidualUnit,
        {"filters": 4, "spatial_dims": spatial_dims, **kwargs},
        shape(spatial_dims, 8, channels_in),
        shape(spatial_dims, size_out, 4),
    )


@pytest.mark.parametrize("spatial_dims", DIMS)
@pytest.mark.parametrize(
    "kwargs, channels_out, weights",
    [({"mode": "max"}, 3, 0), ({"mode": "avg"}, 3, 0), ({"mode": "conv", "filters": 5, "norm": "batch"}, 5, 3)],
)
def test_downsample(check_layer, spatial_dims, kwargs, channels_out, weights):
    check_layer(
        DownSample,
        {"spatial_dims": spatial_dims, **kwargs},
        shape(spatial_dims, 8, 3),
        shape(spatial_dims, 4, channels_out),
        weights,
    )


@pytest.mark.parametrize("spatial_dims", DIMS)
@pytest.mark.parametrize("mode", ["transpose", "nearest"])
def test_upsample(check_layer, spatial_dims, mode):
    check_layer(
        UpSample,
        {"filters": 5, "spatial_dims": spatial_dims, "mode": mode, "acti_func": "relu"},
        shape(spatial_dims, 4, 3),
        shape(spatial_dims, 8, 5),
        2,
    )


@pytest.mark.parametrize("spatial_dims", DIMS)
def test_dense_feature_stack(check_layer, spatial_dims):
    check_layer(
        DenseFeatureStack,
        {"num_layers": 3, "growth": 2, "spatial_dims": spatial_dims, "norm": "group"},
        shape(spatial_dims, 8, 3),
        shape(spatial_dims, 8, 3 + 3 * 2),
    )


@pytest.mark.parametrize("spatial_dims", DIMS)
def test_linear_resize_fixed_size(check_layer, spatial_dims):
    check_layer(
        LinearResize,
        {"spatial_dims": spatial_dims, "size": [6] * spatial_dims},
        shape(spatial_dims, 3, 2),
        shape(spatial_dims, 6, 2),
        0,
        accepts_training=False,
    )


@pytest.mark.parametrize("spatial_dims", DIMS)
def test_linear_resize_to_reference(check_layer, spatial_dims):
    check_layer(
        LinearResize,
        {"spatial_dims": spatial_dims},
        [shape(spatial_dims, 4, 3), shape(spatial_dims, 8, 1)],
        shape(spatial_dims, 8, 3),
        0,
        accepts_training=False,
    )


def test_group_norm_fits_any_channel_count(check_layer):
    layer = check_layer(GroupNorm, {"groups": 8}, shape(3, 4, 6), shape(3, 4, 6), 2)
    assert layer.groups == 2 and layer.get_config()["groups"] == 8


def test_dropout_paths_are_scoped_and_training_only(check_layer):
    layer = check_layer(Dropout, {"rate": 0.5, "name": "dropout"}, shape(3, 4, 2), shape(3, 4, 2), 0, 0)
    # The random state is a variable (checkpointed by path) but not a weight.
    assert [v.path for v in layer.variables] == ["dropout/seed_generator/seed_generator_state"]
    x = np.ones(shape(3, 4, 2), "float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    dropped = keras.ops.convert_to_numpy(layer(x, training=True))
    assert set(np.unique(dropped)) <= {0.0, 2.0} and 0 < (dropped == 0).sum() < x.size
    block = ConvBlock(4, 2, keep_prob=0.5, name="block")
    block(np.ones((1, 4, 4, 1), "float32"))
    assert [v.path for v in block.variables if "seed" in v.path] == [
        "block/dropout/seed_generator/seed_generator_state"
    ]
