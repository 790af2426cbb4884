"""The classifiers resnet, se_resnet and densenet: ClassificationNet's contract (a window in, one
logit vector out), their network_args and window divisors, squeeze-and-excitation, and learning."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from voxflow import registry
from voxflow.networks import (
    ClassificationNet,
    DenseNet,
    ResNet,
    SegmentationNet,
    SEResNet,
    UNet,
    check_window,
)
from voxflow.networks.resnet import BottleneckUnit
from voxflow.networks.se_resnet import SEBottleneckUnit, SqueezeExcitation

# (class, tiny network_args): each builds in well under a second.
TINY: list[tuple[type[ClassificationNet], dict[str, Any]]] = [
    (ResNet, {"n_features": (4, 8, 16), "n_blocks_per_resolution": 1}),
    (SEResNet, {"n_features": (4, 8, 16), "reduction_ratio": 4}),
    (DenseNet, {"init_features": 4, "growth_rate": 2, "block_config": (1, 1), "bn_size": 2}),
]
IDS = [cls.network_name for cls, _ in TINY]


def batch(spatial: tuple[int, ...], channels: int = 2, size: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(size, *spatial, channels)).astype("float32")


def numpy(x: Any) -> np.ndarray:
    return keras.ops.convert_to_numpy(x)


@pytest.fixture(params=TINY, ids=IDS)
def tiny(request: pytest.FixtureRequest) -> tuple[type[ClassificationNet], dict[str, Any]]:
    return request.param


# ----------------------------------------------------------------------------- the contract
@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_logits_are_one_vector_per_window_for_windows_of_several_sizes(tiny, spatial_dims):
    cls, args = tiny
    net = cls(3, spatial_dims=spatial_dims, **args)
    d = net.window_divisor
    windows = [(d,) * spatial_dims, (2 * d,) * spatial_dims, (3 * d, d, 2 * d)[:spatial_dims]]
    if spatial_dims == 3:
        windows.append((2 * d, 2 * d, 1))  # a 2-D window in a 3-D network (NiftyNet's 32×32×1)
    for window in windows:
        for training in (True, False):
            logits = net(batch(window), training=training)
            assert tuple(logits.shape) == (2, 3) and logits.dtype == "float32", window
        assert net.output_window(window) == ()
    paths = [v.path for v in net.variables]
    assert len(paths) == len(set(paths)) and all(p.startswith(f"{cls.network_name}/") for p in paths)


def test_a_classifier_declares_it_has_no_dense_output(tiny):
    cls, args = tiny
    assert issubclass(cls, ClassificationNet) and issubclass(cls, SegmentationNet)
    assert cls.dense_output is False and cls(2, **args).dense_output is False
    assert SegmentationNet.dense_output is True and UNet.dense_output is True
    assert UNet(2, depth=1).output_window((4, 6, 8)) == (4, 6, 8)


def test_config_round_trip(tiny):
    cls, args = tiny
    net = cls(2, spatial_dims=2, acti_func="prelu", keep_prob=0.8, w_regularizer=1e-5, **args)
    x = batch((2 * net.window_divisor,) * 2)
    expected = numpy(net(x, training=False))
    config = net.get_config()
    for key, value in args.items():
        assert config[key] == value
    deserialised = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(net))
    for copy in (cls.from_config(config), deserialised):
        assert type(copy) is cls and copy.get_config() == config
        copy(x)
        assert [(v.path, tuple(v.shape)) for v in copy.variables] == [(v.path, tuple(v.shape)) for v in net.variables]
        copy.set_weights(net.get_weights())
        np.testing.assert_allclose(numpy(copy(x, training=False)), expected, atol=1e-5)


def test_build_gives_the_same_variables_as_a_call(tiny):
    cls, args = tiny
    called = cls(2, spatial_dims=3, keep_prob=0.5, **args)
    called(batch((2 * called.window_divisor,) * 3))
    built = cls(2, spatial_dims=3, keep_prob=0.5, **args)
    built.build((None, None, None, None, 2))
    assert [(v.path, tuple(v.shape)) for v in built.variables] == [(v.path, tuple(v.shape)) for v in called.variables]


def test_w_regularizer_covers_every_kernel_and_keep_prob_drops_only_in_training(tiny):
    cls, args = tiny
    net = cls(2, spatial_dims=2, w_regularizer=1e-3, keep_prob=0.5, **args)
    x = batch((net.window_divisor,) * 2, size=4)
    train_a, train_b = (numpy(net(x, training=True)) for _ in range(2))
    kernels = [v for v in net.trainable_variables if v.path.endswith("kernel")]
    assert len(net.losses) == len(kernels) > 0
    assert not np.allclose(train_a, train_b)
    np.testing.assert_array_equal(numpy(net(x, training=False)), numpy(net(x, training=False)))


# ----------------------------------------------------------------------------- network_args
def test_network_arg_defaults_are_niftynets_and_densenet121():
    assert ResNet.network_arg_defaults() == {
        "n_features": (16, 64, 128, 256), "n_blocks_per_resolution": 10, "norm": "batch"}
    assert SEResNet.network_arg_defaults() == {
        "n_features": (16, 64, 128), "n_blocks_per_resolution": 1, "reduction_ratio": 16, "norm": "batch"}
    assert DenseNet.network_arg_defaults() == {
        "init_features": 64, "growth_rate": 32, "block_config": (6, 12, 24, 16), "bn_size": 4, "norm": "batch"}


def test_densenet121_has_torchvisions_parameter_count():
    """2-D DenseNet121 on RGB with 1000 classes: 7,978,856 parameters, as torchvision's densenet121
    (MONAI's DenseNet121 has the same layers); a wrong width or an extra bias would change it."""
    net = DenseNet(1000, spatial_dims=2)
    net.build((None, None, None, 3))
    assert sum(int(np.prod(v.shape)) for v in net.trainable_variables) == 7_978_856
    assert net.fc.kernel.shape == (1024, 1000) and net.transition_features() == [128, 256, 512]


def test_resnet_args_shape_the_network():
    net = ResNet(3, spatial_dims=2, n_features=(4, 8, 16, 32, 64), n_blocks_per_resolution=2)
    net(batch((8, 8)))
    assert [u.name for u in net.units] == [f"res_{r}_{u}" for r in range(4) for u in range(2)]
    assert [u.strides for u in net.units] == [1, 1, 2, 1, 2, 1, 2, 1]
    assert [u.filters for u in net.units] == [8, 8, 16, 16, 32, 32, 64, 64]
    assert [u.bottleneck_features for u in net.units[::2]] == [2, 4, 8, 16]  # out / 4
    # a strided 1×1 projection where the width changes; identity shortcuts elsewhere
    assert [u.projection is not None for u in net.units] == [True, False] * 4
    assert net.units[2].projection.strides == (2, 2) and net.units[2].projection.kernel_size == (1, 1)
    assert net.window_divisor == 8 and net.fc.kernel.shape == (64, 3)
    same_width = ResNet(2, spatial_dims=2, n_features=(8, 8, 8), n_blocks_per_resolution=1)
    same_width(batch((4, 4)))  # the first unit keeps the width: identity; the strided one projects
    assert [u.projection is not None for u in same_width.units] == [False, True]


def test_densenet_args_shape_the_network():
    net = DenseNet(2, spatial_dims=3, init_features=6, growth_rate=3, block_config=(2, 3, 1), bn_size=2)
    net(batch((16, 16, 16)))
    assert [b.num_layers for b in net.blocks] == [2, 3, 1] and net.window_divisor == 16
    assert net.transition_features() == [6, 7] and [t.filters for t in net.transitions] == [6, 7]
    assert net.blocks[0].bottlenecks[0].filters == 6 and net.blocks[0].convs[0].filters == 3
    assert net.fc.kernel.shape == (7 + 1 * 3, 2)


def test_unknown_network_args_are_rejected(tiny):
    cls = tiny[0]
    with pytest.raises(TypeError, match="'growth'") as info:
        cls(2, growth=8)
    assert f"Accepted network_args: {', '.join(cls.network_arg_defaults())}" in str(info.value)
    with pytest.raises(TypeError, match="Did you mean 'n_blocks_per_resolution'"):
        ResNet(2, n_blocks_per_resolutions=2)
    with pytest.raises(TypeError, match="Did you mean 'block_config'"):
        DenseNet(2, block_configs=(1, 1))


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: ResNet(2, n_features=(16,)), "Expected a list of at least 2 integers"),
        (lambda: ResNet(2, n_blocks_per_resolution=0), "n_blocks_per_resolution"),
        (lambda: ResNet(2, norm="batchnorm"), "Expected one of: batch, instance, group, none"),
        (lambda: SEResNet(2, reduction_ratio=0), "reduction_ratio"),
        (lambda: DenseNet(2, block_config=(6, 0)), "block_config"),
        (lambda: DenseNet(2, growth_rate=2.5), "growth_rate"),
        (lambda: DenseNet(2, spatial_dims=1), "spatial_dims"),
    ],
)
def test_invalid_values(build, match):
    with pytest.raises(ValueError, match=match):
        build()


# ----------------------------------------------------------------------------- squeeze-excitation
def test_se_gates_lie_in_0_1_and_scale_the_channels():
    se = SqueezeExcitation(reduction_ratio=2, name="se")
    x = batch((6, 6, 6), channels=8, size=3) + 1.0
    out = numpy(se(x))
    gates = numpy(se.gates(x))
    assert gates.shape == (3, 8) and np.all((gates > 0) & (gates < 1))
    assert se.squeeze.units == 4 and se.excite.units == 8
    np.testing.assert_allclose(out, x * gates[:, None, None, None, :], rtol=1e-5)
    assert not np.allclose(out, x)
    assert SqueezeExcitation(16).get_config()["reduction_ratio"] == 16
    small = SqueezeExcitation(16)
    small(x)  # 8 channels, ratio 16: one hidden unit (NiftyNet refused)
    assert small.squeeze.units == 1


def test_se_unit_gates_its_residual_branch_before_the_shortcut():
    """With the first SE layer zeroed every gate is sigmoid(0) = 0.5: an SE unit (identity
    shortcut) returns x + 0.5 · branch where the plain unit with the same weights returns x + branch."""
    x = batch((4, 4), channels=8, size=2)
    plain, gated = BottleneckUnit(8, spatial_dims=2, name="unit"), SEBottleneckUnit(8, spatial_dims=2, name="unit")
    plain(x), gated(x)
    values = {v.path: v for v in gated.variables}
    for v in plain.variables:
        v.assign(values[v.path])
    gated.excitation.squeeze.kernel.assign(np.zeros(gated.excitation.squeeze.kernel.shape, "float32"))
    branch = numpy(plain(x, training=False)) - x
    np.testing.assert_allclose(numpy(gated(x, training=False)) - x, 0.5 * branch, atol=1e-5)
    assert np.abs(branch).max() > 0.1
    assert {v.path for v in gated.variables} - {v.path for v in plain.variables} == {
        "unit/excitation/fc_1/kernel", "unit/excitation/fc_2/kernel"}


def test_se_resnet_has_one_excitation_per_unit():
    net = SEResNet(2, spatial_dims=2, n_features=(4, 16, 32), n_blocks_per_resolution=2, reduction_ratio=4)
    net(batch((4, 4)))
    assert all(isinstance(u, SEBottleneckUnit) for u in net.units) and len(net.units) == 4
    assert [u.excitation.squeeze.units for u in net.units] == [4, 4, 8, 8]


# ----------------------------------------------------------------------------- windows
def test_window_divisors_are_the_down_sampling_factor():
    assert (ResNet.window_divisor, SEResNet.window_divisor, DenseNet.window_divisor) == (4, 2, 32)
    assert ResNet(2).window_divisor == 4 and SEResNet(2).window_divisor == 2 and DenseNet(2).window_divisor == 32
    assert ResNet(2, n_features=(8, 16)).window_divisor == 1
    assert DenseNet(2, block_config=(2, 2)).window_divisor == 8


def test_a_window_the_network_cannot_pool_gets_check_windows_message():
    with pytest.raises(ValueError) as info:
        check_window(DenseNet, (48, 48, 48))
    assert str(info.value).startswith("window 48×48×48 cannot fit densenet: every axis must be a multiple of 32")
    assert "32×32×32 or 64×64×64" in str(info.value) and "\n" not in str(info.value)
    check_window(ResNet, (32, 32, 1))  # NiftyNet's modality classification window
    net = ResNet(2, spatial_dims=2, n_features=(4, 8, 16), n_blocks_per_resolution=1)
    with pytest.raises(ValueError, match="window 6×5 cannot fit resnet: every axis must be a multiple of 2"):
        net(batch((6, 5)))
    with pytest.raises(ValueError, match="cannot fit se_resnet"):
        SEResNet(2).output_window((9, 9, 9))


# ----------------------------------------------------------------------------- registry
def test_registry_and_niftynet_names():
    for name, cls in {"resnet": ResNet, "se_resnet": SEResNet, "densenet": DenseNet}.items():
        assert registry.resolve("network", name) is cls and cls.network_name == name
    assert registry.resolve("network", "niftynet.network.resnet.ResNet") is ResNet
    assert registry.resolve("network", "niftynet.network.se_resnet.SE_ResNet") is SEResNet


# ----------------------------------------------------------------------------- learning
def blobs(count: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """2-D windows of noise with one Gaussian blob at a random place: bright (class 1) or dark (0)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="ij"), axis=-1)
    centres = rng.uniform(3, size - 3, (count, 1, 1, 2))
    blob = np.exp(-np.sum((grid - centres) ** 2, axis=-1) / (2 * 2.0**2))
    images = (2 * labels[:, None, None] - 1) * blob + rng.normal(0, 0.3, (count, size, size))
    return images[..., None].astype("float32"), labels.astype("int32")


def test_a_classifier_learns_bright_from_dark_blobs(tiny):
    """64 training windows, 60 Adam steps; ≥ 0.95 accuracy on 128 held-out windows (all three
    networks reached 0.99–1.0 over seeds 0–3)."""
    cls, args = tiny
    keras.utils.set_random_seed(0)
    images, labels = blobs(64, 16, seed=0)
    held_out, held_out_labels = blobs(128, 16, seed=1)
    net = cls(2, spatial_dims=2, **args)
    optimizer = keras.optimizers.Adam(learning_rate=0.01)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, net(x, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))
        return loss

    for _epoch in range(15):
        for start in range(0, 64, 16):
            step(images[start:start + 16], labels[start:start + 16])
    predicted = np.argmax(numpy(net(held_out, training=False)), axis=-1)
    assert np.mean(predicted == held_out_labels) >= 0.95
