"""Every network honours SegmentationNet's contract, in 2-D and 3-D."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from voxflow import registry
from voxflow.networks import DenseVNet, HighRes3DNet, ToyNet, UNet, VNet


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_output_shape_dtype_and_unique_paths(tiny, window, spatial_dims):
    cls, args, size = tiny
    net = cls(3, spatial_dims=spatial_dims, **args)
    x = window(spatial_dims, size)
    for training in (True, False):
        y = net(x, training=training)
        assert tuple(y.shape) == (2, *[size] * spatial_dims, 3)
        assert y.dtype == "float32"
    paths = [v.path for v in net.variables]
    assert len(paths) == len(set(paths))
    assert all(p.startswith(f"{cls.network_name}/") for p in paths)
    # Paths are fixed names, not session counters: a second instance gets the same ones,
    # so a checkpoint keyed by path restores in another process.
    again = cls(3, spatial_dims=spatial_dims, **args)
    again(x)
    assert [v.path for v in again.variables] == paths


def test_config_round_trip(tiny, window):
    cls, args, size = tiny
    net = cls(2, spatial_dims=2, acti_func="prelu", keep_prob=0.8, w_regularizer=1e-5, **args)
    x = window(2, size)
    expected = keras.ops.convert_to_numpy(net(x, training=False))
    config = net.get_config()
    for key, value in args.items():
        assert config[key] == value
    deserialised = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(net))
    for copy in (cls.from_config(config), deserialised):
        assert type(copy) is cls and copy.get_config() == config
        copy(x)
        assert [(v.path, tuple(v.shape)) for v in copy.variables] == [(v.path, tuple(v.shape)) for v in net.variables]
        copy.set_weights(net.get_weights())
        np.testing.assert_allclose(keras.ops.convert_to_numpy(copy(x, training=False)), expected, atol=1e-5)


def test_build_and_deserialisation_give_the_same_paths_as_a_call(tiny, window):
    cls, args, size = tiny
    called = cls(2, spatial_dims=3, keep_prob=0.5, **args)
    called(window(3, size))
    expected = [(v.path, tuple(v.shape)) for v in called.variables]
    built = cls(2, spatial_dims=3, keep_prob=0.5, **args)
    built.build((None, None, None, None, 2))
    assert [(v.path, tuple(v.shape)) for v in built.variables] == expected
    loaded = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(called))
    assert [(v.path, tuple(v.shape)) for v in loaded.variables] == expected


def test_restore_by_variable_path(window):
    """What the engine does: save {path: value}, build a fresh model, assign by path."""
    net = UNet(2, spatial_dims=2, base_features=4, depth=2)
    x = window(2, 8)
    net(x, training=True)  # moves BatchNorm statistics away from their initial values
    saved = {v.path: keras.ops.convert_to_numpy(v) for v in net.variables}
    fresh = UNet(2, spatial_dims=2, base_features=4, depth=2)
    fresh(x)
    assert set(saved) == {v.path for v in fresh.variables}
    for v in fresh.variables:
        v.assign(saved[v.path])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(fresh(x, training=False)),
        keras.ops.convert_to_numpy(net(x, training=False)),
        atol=1e-5,
    )


def test_unknown_network_args_raise_type_error(tiny):
    cls = tiny[0]
    with pytest.raises(TypeError, match="'base_featurs'") as info:
        cls(2, base_featurs=8)
    accepted = ", ".join(cls.network_arg_defaults()) or "none"
    assert f"Accepted network_args: {accepted}" in str(info.value)


def test_network_arg_defaults():
    assert UNet.network_arg_defaults() == {"base_features": 16, "depth": 3, "norm": "batch", "pool_sizes": None,
                                           "max_features": None, "deep_supervision": False}
    assert VNet.network_arg_defaults() == {"base_features": 16, "kernel_size": 5, "norm": "none"}
    assert HighRes3DNet.network_arg_defaults() == {"norm": "batch"}
    assert DenseVNet.network_arg_defaults() == {"norm": "batch"}
    assert ToyNet.network_arg_defaults() == {}
    with pytest.raises(TypeError, match="Did you mean 'depth'"):
        UNet(2, deph=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"spatial_dims": 4}, "spatial_dims"),
        ({"keep_prob": 0.0}, "keep_prob"),
        ({"depth": 0}, "depth"),
        ({"base_features": 2.5}, "base_features"),
        ({"norm": "batchnorm"}, "norm"),
        ({"acti_func": "rleu"}, "acti_func"),
    ],
)
def test_invalid_values_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        UNet(2, **kwargs)


def test_wrong_input_rank(window):
    with pytest.raises(ValueError, match="spatial_dims=3 expects inputs of rank 5"):
        ToyNet(2)(window(2, 8))


def test_w_regularizer_adds_losses(tiny, window):
    cls, args, size = tiny
    plain = cls(2, spatial_dims=2, **args)
    plain(window(2, size))
    assert len(plain.losses) == 0
    regularised = cls(2, spatial_dims=2, w_regularizer=1e-3, **args)
    regularised(window(2, size))
    kernels = [v for v in regularised.trainable_variables if v.path.endswith("kernel")]
    assert len(regularised.losses) == len(kernels) > 0
    assert float(keras.ops.sum(keras.ops.stack(regularised.losses))) > 0


def test_keep_prob_dropout_only_in_training(tiny, window):
    cls, args, size = tiny
    net = cls(2, spatial_dims=2, keep_prob=0.5, **args)
    x = window(2, size)
    train_a, train_b = (keras.ops.convert_to_numpy(net(x, training=True)) for _ in range(2))
    infer_a, infer_b = (keras.ops.convert_to_numpy(net(x, training=False)) for _ in range(2))
    assert not np.allclose(train_a, train_b)
    np.testing.assert_array_equal(infer_a, infer_b)


def test_registry_names_resolve_to_the_networks():
    expected = {"toynet": ToyNet, "unet": UNet, "highres3dnet": HighRes3DNet, "vnet": VNet, "dense_vnet": DenseVNet}
    for name, cls in expected.items():
        assert registry.resolve("network", name) is cls
        assert cls.network_name == name
