"""The U-Net nnU-Net's planner configures: per-axis pool_sizes, max_features and deep supervision."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from voxflow.layers import DownSample, UpSample
from voxflow.networks import UNet, check_window
from voxflow.networks.window import axis_divisors, smallest_valid_window

ANISOTROPIC = ((1, 2, 2), (2, 2, 2))  # thick slices along the first axis: pool in-plane first
BN = ("gamma", "beta", "moving_mean", "moving_variance")


def _block(name: str, kernel: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    return [(f"unet/{name}/conv/kernel", kernel)] + [(f"unet/{name}/norm/{v}", (kernel[-1],)) for v in BN]


# Recorded from UNet(2, spatial_dims=3, base_features=4, depth=2) before pool_sizes, max_features and
# deep_supervision existed: checkpoints of the default U-Net must keep loading.
RECORDED_DEFAULT_3D = [
    *_block("enc_0_conv_0", (3, 3, 3, 1, 4)), *_block("enc_0_conv_1", (3, 3, 3, 4, 4)),
    *_block("enc_1_conv_0", (3, 3, 3, 4, 8)), *_block("enc_1_conv_1", (3, 3, 3, 8, 8)),
    *_block("bottom_conv_0", (3, 3, 3, 8, 16)), *_block("bottom_conv_1", (3, 3, 3, 16, 16)),
    ("unet/up_0/conv/conv/kernel", (2, 2, 2, 4, 8)), ("unet/up_0/conv/conv/bias", (4,)),
    ("unet/up_1/conv/conv/kernel", (2, 2, 2, 8, 16)), ("unet/up_1/conv/conv/bias", (8,)),
    *_block("dec_0_conv_0", (3, 3, 3, 8, 4)), *_block("dec_0_conv_1", (3, 3, 3, 4, 4)),
    *_block("dec_1_conv_0", (3, 3, 3, 16, 8)), *_block("dec_1_conv_1", (3, 3, 3, 8, 8)),
    ("unet/head/conv/kernel", (1, 1, 1, 4, 2)), ("unet/head/conv/bias", (2,)),
]


def _variables(net: UNet) -> list[tuple[str, tuple[int, ...]]]:
    return [(v.path, tuple(v.shape)) for v in net.variables]


def _numpy(x) -> np.ndarray:
    return keras.ops.convert_to_numpy(x)


def _input(*spatial: int, batch: int = 1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(batch, *spatial, 1)).astype("float32")


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_default_arguments_create_the_recorded_variables(spatial_dims):
    net = UNet(2, spatial_dims=spatial_dims, base_features=4, depth=2)
    net(_input(*[8] * spatial_dims))
    recorded = [(p, s[1:] if p.endswith("kernel") and spatial_dims == 2 else s) for p, s in RECORDED_DEFAULT_3D]
    assert _variables(net) == recorded
    assert net.window_divisor == 4 and not hasattr(net, "deep_heads")


def test_isotropic_pool_sizes_build_the_default_network():
    default = UNet(2, base_features=4, depth=2)
    explicit = UNet(2, base_features=4, depth=2, pool_sizes=((2, 2, 2), (2, 2, 2)))
    x = _input(8, 8, 8)
    default(x)
    explicit(x)
    assert _variables(explicit) == _variables(default)
    explicit.set_weights(default.get_weights())
    np.testing.assert_array_equal(_numpy(explicit(x)), _numpy(default(x)))
    assert explicit.window_divisor == (4, 4, 4)


def test_anisotropic_pool_sizes_pool_in_plane_first():
    net = UNet(2, base_features=4, depth=2, pool_sizes=ANISOTROPIC)
    assert net.window_divisor == (2, 4, 4)
    x = _input(2, 8, 12, batch=2)  # 2 slices: too few for the isotropic depth-2 U-Net (multiples of 4)
    assert tuple(net(x, training=True).shape) == (2, 2, 8, 12, 2)
    assert tuple(net.pools[0].compute_output_shape((None, 2, 8, 12, 4))) == (None, 2, 4, 6, 4)
    assert tuple(net.pools[1].compute_output_shape((None, 2, 4, 6, 4))) == (None, 1, 2, 3, 4)
    shapes = dict(_variables(net))
    assert shapes["unet/up_0/conv/conv/kernel"] == (1, 2, 2, 4, 8)
    assert shapes["unet/up_1/conv/conv/kernel"] == (2, 2, 2, 8, 16)
    with pytest.raises(ValueError, match="multiple of 4"):
        check_window(UNet(2, base_features=4, depth=2), (2, 8, 12))


def test_a_window_that_does_not_divide_is_refused_per_axis():
    net = UNet(2, base_features=4, depth=2, pool_sizes=ANISOTROPIC)
    with pytest.raises(ValueError) as info:
        check_window(net, (3, 8, 10))
    assert str(info.value) == (
        "window 3×8×10 cannot fit unet: axis by axis, the window must be a multiple of 2×4×4 (axes of size 1 "
        "excepted; axis 0 (3) is not a multiple of 2, axis 2 (10) is not a multiple of 4). Try 2×8×8 or 4×8×12."
    )
    with pytest.raises(ValueError, match=r"multiple of 2×4×4 .*axis 1 \(6\) is not a multiple of 4"):
        net(_input(2, 6, 8))
    check_window(net, (2, 4, 8))
    check_window(net, (1, 8, 4))  # a flat axis is exempt
    assert smallest_valid_window(net, (3, 5, 9)) == (4, 8, 12)
    assert axis_divisors(net, (6, 1, 8)) == (2, 1, 4)


def test_per_axis_divisors_of_a_2d_network_in_a_3d_layout():
    net = UNet(2, spatial_dims=2, base_features=4, depth=2, pool_sizes=((1, 2), (2, 2)))
    assert net.window_divisor == (2, 4)
    check_window(net, (6, 1, 8))
    with pytest.raises(ValueError, match=r"axis 2 \(6\) is not a multiple of 4\)\. Try 6×1×4 or 6×1×8\."):
        check_window(net, (6, 1, 6))
    with pytest.raises(ValueError, match="it has 3 axes, the network takes 2"):
        check_window(net, (6, 4, 8))


def test_uniform_per_axis_divisors_keep_the_one_number_message():
    net = UNet(2, base_features=4, depth=2, pool_sizes=((2, 2, 2), (2, 2, 2)))
    with pytest.raises(ValueError) as info:
        check_window(net, (6, 8, 8))
    assert str(info.value) == ("window 6×8×8 cannot fit unet: every axis must be a multiple of 4 (axes of size 1 "
                               "excepted). Try 4×8×8 or 8×8×8.")


def test_max_features_caps_every_level():
    net = UNet(2, base_features=4, depth=3, max_features=8)
    net(_input(8, 8, 8))
    assert [net.level_features(level) for level in range(4)] == [4, 8, 8, 8]
    kernels = {p: s for p, s in _variables(net) if p.endswith("kernel")}
    assert kernels["unet/bottom_conv_1/conv/kernel"] == (3, 3, 3, 8, 8)
    assert kernels["unet/up_2/conv/conv/kernel"] == (2, 2, 2, 8, 8)
    assert kernels["unet/dec_2_conv_0/conv/kernel"] == (3, 3, 3, 16, 8)
    assert max(s[-1] for p, s in kernels.items() if "head" not in p) == 8
    uncapped = UNet(2, base_features=4, depth=3)
    uncapped(_input(8, 8, 8))
    assert dict(_variables(uncapped))["unet/bottom_conv_1/conv/kernel"] == (3, 3, 3, 32, 32)


@pytest.mark.parametrize(
    "pool_sizes, spatial_dims",
    [((2, 2), 3), (((1, 2, 2),), 3), (((1, 2, 2), (3, 2, 2)), 3), (((1, 2, 2), (2, 2)), 3), (((1, 2, 2),) * 2, 2)],
)
def test_invalid_pool_sizes_are_refused(pool_sizes, spatial_dims):
    with pytest.raises(ValueError, match=r"Invalid value for `pool_sizes`\. Expected one tuple of .* depth = 2"):
        UNet(2, spatial_dims=spatial_dims, depth=2, pool_sizes=pool_sizes)


def test_invalid_max_features_and_deep_supervision_are_refused():
    with pytest.raises(ValueError, match="`max_features`"):
        UNet(2, max_features=0)
    with pytest.raises(ValueError, match="`deep_supervision`"):
        UNet(2, deep_supervision="yes")


def test_deep_outputs_match_the_deep_supervision_scales():
    net = UNet(2, base_features=4, depth=3, pool_sizes=((1, 2, 2), (2, 2, 2), (2, 2, 2)), deep_supervision=True)
    assert net.window_divisor == (4, 8, 8)
    assert net.deep_supervision_scales == [(1, 1, 1), (1, 2, 2), (2, 4, 4)]
    window = (4, 8, 16)
    x = _input(*window, batch=2)
    outputs = net.deep_outputs(x, training=False)
    assert len(outputs) == len(net.deep_supervision_scales)
    for output, scale in zip(outputs, net.deep_supervision_scales):
        assert tuple(output.shape) == (2, *[w // s for w, s in zip(window, scale)], 2)
        assert output.dtype == "float32"
    np.testing.assert_allclose(_numpy(outputs[0]), _numpy(net(x, training=False)), atol=1e-6)
    assert tuple(net(x).shape) == (2, *window, 2)  # call() keeps returning the full-resolution logits only


def test_deep_supervision_heads_exist_only_when_asked_for_and_learn():
    args = {"base_features": 4, "depth": 3, "pool_sizes": ((1, 2, 2), (2, 2, 2), (2, 2, 2))}
    plain, deep = UNet(2, **args), UNet(2, deep_supervision=True, **args)
    x = _input(4, 8, 8)
    plain(x)
    deep(x)  # built by the call: the heads too
    extra = sorted(set(_variables(deep)) - set(_variables(plain)))
    assert extra == [("unet/deep_head_1/conv/bias", (2,)), ("unet/deep_head_1/conv/kernel", (1, 1, 1, 8, 2)),
                     ("unet/deep_head_2/conv/bias", (2,)), ("unet/deep_head_2/conv/kernel", (1, 1, 1, 16, 2))]
    assert set(_variables(plain)) < set(_variables(deep))
    assert plain.deep_supervision_scales == [(1, 1, 1)] and len(plain.deep_outputs(x)) == 1
    with tf.GradientTape() as tape:
        loss = sum(keras.ops.mean(y**2) for y in deep.deep_outputs(x, training=True))
    grads = tape.gradient(loss, deep.trainable_variables)
    assert all(g is not None for g in grads)


def test_keras_file_round_trip_with_pool_sizes(tmp_path):
    net = UNet(3, base_features=4, depth=2, pool_sizes=ANISOTROPIC, max_features=6, deep_supervision=True)
    x = _input(2, 8, 8, batch=2)
    net(x, training=True)  # moves the BatchNorm statistics away from their initial values
    path = tmp_path / "planned.keras"
    net.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is UNet
    assert loaded.get_config() == net.get_config()
    assert loaded.pool_sizes == ANISOTROPIC and loaded.window_divisor == (2, 4, 4) and loaded.max_features == 6
    assert _variables(loaded) == _variables(net)
    np.testing.assert_allclose(_numpy(loaded(x, training=False)), _numpy(net(x, training=False)), atol=1e-5)
    for ours, theirs in zip(loaded.deep_outputs(x), net.deep_outputs(x)):
        np.testing.assert_allclose(_numpy(ours), _numpy(theirs), atol=1e-5)


def test_config_round_trip_of_the_new_arguments():
    net = UNet(2, spatial_dims=2, depth=2, pool_sizes=[[1, 2], [2, 2]], max_features=320, deep_supervision=True)
    config = net.get_config()
    assert (config["pool_sizes"], config["max_features"], config["deep_supervision"]) == (((1, 2), (2, 2)), 320, True)
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(net))
    assert copy.get_config() == config
    assert UNet.from_config(config).get_config() == config


def test_2d_planned_unet():
    net = UNet(2, spatial_dims=2, base_features=4, depth=2, pool_sizes=((1, 2), (2, 2)), max_features=6,
               deep_supervision=True, norm="instance")
    assert net.deep_supervision_scales == [(1, 1), (1, 2)]
    x = _input(2, 12, batch=2)
    assert tuple(net(x).shape) == (2, 2, 12, 2)
    assert [tuple(y.shape) for y in net.deep_outputs(x)] == [(2, 2, 12, 2), (2, 2, 6, 2)]
    shapes = dict(_variables(net))
    assert shapes["unet/up_0/conv/conv/kernel"] == (1, 2, 4, 6)
    assert shapes["unet/bottom_conv_1/conv/kernel"] == (3, 3, 6, 6)
    with pytest.raises(ValueError, match=r"multiple of 2×4 \(axes of size 1 excepted; axis 1 \(10\)"):
        net(_input(2, 10))


def test_per_axis_resampling_layers():
    x = np.ones((1, 2, 4, 6, 3), "float32")
    assert tuple(DownSample(3, "avg", factor=(1, 2, 3))(x).shape) == (1, 2, 2, 2, 3)
    assert tuple(UpSample(5, 3, "transpose", factor=(1, 2, 2))(x).shape) == (1, 2, 8, 12, 5)
    assert tuple(UpSample(5, 3, "nearest", factor=(2, 1, 1))(x).shape) == (1, 4, 4, 6, 5)
    assert DownSample(3, factor=[2, 2, 2]).get_config()["factor"] == 2
    up = UpSample(5, 3, factor=(1, 2, 2), name="up")
    assert UpSample.from_config(up.get_config()).factors == (1, 2, 2)
    with pytest.raises(ValueError, match="per-axis factors are for mode='max' or 'avg'"):
        DownSample(3, "conv", factor=(1, 2, 2))
    with pytest.raises(ValueError, match=r"Invalid value for `factor`.*\(3 integers >= 1\)"):
        UpSample(4, 3, factor=(1, 2))
