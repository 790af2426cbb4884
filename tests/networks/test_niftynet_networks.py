"""NiftyNet's remaining networks: deepmedic, unet_2d, nonewnet, scalenet, holisticnet and the
highres3dnet variants; their window rules, smaller centred outputs and network-specific properties."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from voxflow import registry
from voxflow.networks import (
    DeepMedic,
    HighRes3DNet,
    HighRes3DNetLarge,
    HighRes3DNetSmall,
    HolisticNet,
    NoNewNet,
    ScaleNet,
    SegmentationNet,
    UNet2D,
    WindowRule,
    check_window,
    output_window,
    smallest_valid_window,
)
from voxflow.networks.holisticnet import ScoreFusion

# (class, tiny network_args, window size per axis, spatial dims the shape test runs)
TINY: list[tuple[type[SegmentationNet], dict[str, Any], int, tuple[int, ...]]] = [
    (DeepMedic, {"features": (3, 3), "fc_features": (4,)}, 18, (2, 3)),
    (UNet2D, {"features": (2, 4)}, 22, (2,)),
    (NoNewNet, {"features": (2, 4, 8)}, 8, (2, 3)),
    (ScaleNet, {"features": 2}, 8, (2, 3)),
    (HolisticNet, {"features": 4, "score_features": 4, "units_per_stage": 1}, 8, (2, 3)),
    (HighRes3DNetSmall, {}, 8, (3,)),  # 2-D: the round-trip and regulariser tests
    (HighRes3DNetLarge, {}, 8, (3,)),
]
IDS = [cls.network_name for cls, *_ in TINY]
CASES = [(cls, args, size, dims) for cls, args, size, all_dims in TINY for dims in all_dims]
CASE_IDS = [f"{cls.network_name}-{dims}d" for cls, _, _, dims in CASES]


def batch(spatial: tuple[int, ...], channels: int = 2, size: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(size, *spatial, channels)).astype("float32")


def numpy(x: Any) -> np.ndarray:
    return keras.ops.convert_to_numpy(x)


# ----------------------------------------------------------------------------- the contract
@pytest.mark.parametrize("cls, args, size, dims", CASES, ids=CASE_IDS)
def test_output_shape_dtype_and_paths(cls, args, size, dims):
    net = cls(3, spatial_dims=dims, **args)
    window = (size,) * dims
    x = batch(window)
    expected = net.output_window(window)
    for training in (True, False):
        y = net(x, training=training)
        assert tuple(y.shape) == (2, *expected, 3) and y.dtype == "float32"
    if cls not in (DeepMedic, UNet2D):
        assert expected == window
    paths = [v.path for v in net.variables]
    assert len(paths) == len(set(paths)) and all(p.startswith(f"{cls.network_name}/") for p in paths)
    built = cls(3, spatial_dims=dims, **args)
    built.build((None, *[None] * dims, 2))  # probes the smallest valid window
    assert [(v.path, tuple(v.shape)) for v in built.variables] == [(v.path, tuple(v.shape)) for v in net.variables]


@pytest.mark.parametrize("cls, args, size", [(c, a, s) for c, a, s, _ in TINY], ids=IDS)
def test_config_round_trip(cls, args, size):
    net = cls(2, spatial_dims=2, acti_func="elu", keep_prob=0.8, w_regularizer=1e-5, **args)
    x = batch((size, size))
    expected = numpy(net(x, training=False))
    config = net.get_config()
    assert {k: config[k] for k in args} == args
    assert config["acti_func"] == "elu"
    deserialised = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(net))
    for copy in (cls.from_config(config), deserialised):
        assert type(copy) is cls and copy.get_config() == config
        copy(x)
        copy.set_weights(net.get_weights())
        np.testing.assert_allclose(numpy(copy(x, training=False)), expected, atol=1e-5)


@pytest.mark.parametrize("cls, args, size", [(c, a, s) for c, a, s, _ in TINY], ids=IDS)
def test_regulariser_and_dropout_are_honoured(cls, args, size):
    net = cls(2, spatial_dims=2, keep_prob=0.5, w_regularizer=1e-3, **args)
    x = batch((size, size))
    train_a, train_b = (numpy(net(x, training=True)) for _ in range(2))
    assert not np.allclose(train_a, train_b)
    np.testing.assert_array_equal(numpy(net(x, training=False)), numpy(net(x, training=False)))
    kernels = [v for v in net.trainable_variables if v.path.endswith("kernel")]
    assert len(net.losses) == len(kernels) > 0


def test_unknown_network_args_are_rejected():
    with pytest.raises(TypeError, match="Did you mean 'd_factor'") as info:
        DeepMedic(2, d_facter=3)
    assert "Accepted network_args: d_factor, features, fc_features, norm." in str(info.value)
    with pytest.raises(TypeError, match="Accepted network_args: features, norm"):
        UNet2D(2, base_features=8)
    with pytest.raises(TypeError, match="'depth'"):
        NoNewNet(2, depth=3)


def test_network_arg_defaults_and_default_activations():
    assert DeepMedic.network_arg_defaults() == {
        "d_factor": 3, "features": (30, 30, 40, 40, 40, 40, 50, 50), "fc_features": (150, 150), "norm": "batch"}
    assert UNet2D.network_arg_defaults() == {"features": (64, 128, 256, 512, 1024), "norm": "batch"}
    assert NoNewNet.network_arg_defaults() == {"features": (30, 60, 120, 240, 480), "norm": "instance"}
    assert ScaleNet.network_arg_defaults() == {"features": 16, "backend_units": 1, "merge": "average", "norm": "batch"}
    assert HolisticNet.network_arg_defaults() == {
        "features": 70, "score_features": 140, "units_per_stage": 3, "norm": "batch"}
    assert HighRes3DNetSmall.network_arg_defaults() == HighRes3DNetLarge.network_arg_defaults() == {"norm": "batch"}
    assert HolisticNet(2).acti_func == "elu" and NoNewNet(2).acti_func == "leakyrelu"
    assert DeepMedic(2).acti_func == ScaleNet(2).acti_func == "prelu"
    assert HolisticNet(2, acti_func="relu").acti_func == "relu"


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: DeepMedic(2, d_factor=2), "Invalid value for `d_factor`. Expected an odd integer"),
        (lambda: DeepMedic(2, features=()), "Invalid value for `features`"),
        (lambda: DeepMedic(2, features=(8, 0)), "Invalid value for `features`"),
        (lambda: UNet2D(2, spatial_dims=3), "unet_2d is a 2-D network: expected 2"),
        (lambda: UNet2D(2, features=(8,)), "Expected a list of at least 2 integers"),
        (lambda: NoNewNet(2, features=16), "Invalid value for `features`"),
        (lambda: ScaleNet(2, merge="mean"), "Expected one of: average, max. Received: 'mean'"),
        (lambda: HolisticNet(2, units_per_stage=0), "units_per_stage"),
    ],
)
def test_invalid_values(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_registry_names():
    expected = {"deepmedic": DeepMedic, "unet_2d": UNet2D, "nonewnet": NoNewNet, "scalenet": ScaleNet,
                "holisticnet": HolisticNet, "highres3dnet_small": HighRes3DNetSmall,
                "highres3dnet_large": HighRes3DNetLarge}
    for name, cls in expected.items():
        assert registry.resolve("network", name) is cls and cls.network_name == name


# ----------------------------------------------------------------------------- window rules
def test_output_windows_of_niftynets_examples():
    assert DeepMedic.window_rule == WindowRule(start=51, step=3, shrink=48)
    assert DeepMedic(2).output_window((57, 57, 57)) == (9, 9, 9)
    assert DeepMedic(2).output_window((105, 105, 105)) == (57, 57, 57)
    assert output_window(DeepMedic, (54, 105, 1)) == (6, 57, 1)  # a class: its default network_args
    assert UNet2D(2).output_window((572, 572)) == (388, 388)
    assert UNet2D.window_rule.start == 188 and UNet2D(2).output_window((188, 204)) == (4, 20)
    assert HighRes3DNetSmall(2).output_window((8, 6, 4)) == (8, 6, 4)


@pytest.mark.parametrize(
    "net, windows",
    [
        (DeepMedic(2, spatial_dims=3, features=(2,), fc_features=()), [(9, 12, 15), (18, 9, 21)]),
        (DeepMedic(2, spatial_dims=2, d_factor=5, features=(2,), fc_features=()), [(15, 20), (25, 30)]),
        (DeepMedic(2, spatial_dims=2, d_factor=1, features=(2, 2, 2)), [(7, 8), (11, 16)]),
        (UNet2D(2, features=(2, 4)), [(18, 20), (24, 30)]),
        (UNet2D(2, features=(2, 2, 2)), [(44, 48), (52, 60)]),
    ],
    ids=["deepmedic-3d", "deepmedic-d5", "deepmedic-d1", "unet_2d-depth1", "unet_2d-depth2"],
)
def test_output_window_agrees_with_the_output_and_is_centred(net, windows):
    for window in windows:
        out = net.output_window(window)
        assert tuple(net(batch(window, size=1)).shape[1:-1]) == out
        assert all((w - o) > 0 and (w - o) % 2 == 0 for w, o in zip(window, out))
        assert out == output_window(net, window)


def centred_support(net: SegmentationNet, window: tuple[int, ...], block: int) -> list[tuple[int, int]]:
    """Per axis, the first and last input voxel the central ``block`` output voxels depend on."""
    x = tf.constant(batch(window, channels=1, size=1, seed=3))
    out = net.output_window(window)
    starts = [(o - block) // 2 for o in out]
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = net(x, training=False)
        centre = y[(0, *[slice(s, s + block) for s in starts], slice(None))]
        total = tf.reduce_sum(centre)
    grad = np.abs(tape.gradient(total, x).numpy()[0, ..., 0])
    bounds = []
    for axis in range(grad.ndim):
        profile = grad.sum(axis=tuple(a for a in range(grad.ndim) if a != axis))
        used = np.nonzero(profile > 0)[0]
        bounds.append((int(used.min()), int(used.max())))
    return bounds


@pytest.mark.parametrize(
    "net, window, block, silenced",
    [
        (DeepMedic(2, spatial_dims=3, features=(3, 3), fc_features=(4,)), (21, 21, 21), 1, ()),
        (DeepMedic(2, spatial_dims=2, features=(3, 3), fc_features=(4,)), (21, 27), 1, ()),
        # 2 or 4: whole pooling blocks, so the block is aligned with the coarse levels
        (UNet2D(2, features=(2, 4)), (30, 30), 2, ()),
        (UNet2D(2, features=(2, 4)), (30, 26), 2, ("up_0",)),  # only the cropped skip connection
        (UNet2D(2, features=(2, 4, 8)), (48, 52), 4, ("up_1",)),  # the skips of levels 0 and 1
    ],
    ids=["deepmedic-3d", "deepmedic-2d", "unet_2d", "unet_2d-skip", "unet_2d-depth2-skips"],
)
def test_the_output_centre_sees_a_window_centred_on_it(net, window, block, silenced):
    """The receptive field of the output's centre is symmetric in the input window: the output is
    centred (an off-centre crop or sub-sampling would shift it to one side). ``silenced`` layers
    get zero weights, so what they feed (the coarser levels) no longer hides the finer paths."""
    net = type(net).from_config({**net.get_config(), "acti_func": "elu", "norm": "none"})
    net.build((None, *[None] * len(window), 1))
    for variable in net.variables:
        if variable.path.split("/")[1] in silenced:
            variable.assign(np.zeros(variable.shape, "float32"))
    for (low, high), size in zip(centred_support(net, window, block), window):
        assert 0 < low and low + high == size - 1


def test_deepmedic_context_pathway_sees_beyond_the_centre_crop():
    net = DeepMedic(2, spatial_dims=3, features=(3, 3), fc_features=(4,), norm="none", acti_func="elu")
    window = (21, 21, 21)  # normal pathway: the centre 17³ (2 voxels cropped per side), output 9³
    x = batch(window, channels=1, size=1)
    base = numpy(net(x, training=False))

    def changed(voxel: tuple[int, int, int]) -> bool:
        moved = x.copy()
        moved[(0, *voxel, 0)] += 5.0
        return not np.allclose(numpy(net(moved, training=False)), base)

    assert changed((1, 1, 1))  # outside the normal crop, the centre of the first 3³ block: sub-sampled
    assert changed((19, 1, 10))
    assert not changed((0, 0, 0))  # neither sub-sampled nor in the normal crop
    assert changed((10, 10, 10))


def test_check_window_messages_name_the_rule_and_the_nearest_windows():
    with pytest.raises(ValueError) as info:
        check_window(DeepMedic, (50, 56, 100))
    message = str(info.value)
    assert message.startswith("window 50×56×100 cannot fit deepmedic: every axis must be one of 51, 54, 57, ...")
    assert "the output is 48 voxels shorter" in message and "\n" not in message
    assert message.endswith("Try 51×54×99 or 51×57×102.")
    with pytest.raises(ValueError, match=r"gives no output.*Try 51×51×51\.$"):
        check_window(DeepMedic, (30, 30, 30))
    with pytest.raises(ValueError, match=r"cannot fit unet_2d: every axis must be one of 188, 204, 220.*Try 572×556 "
                                         r"or 572×572\.$"):
        check_window(UNet2D, (572, 570))
    with pytest.raises(ValueError, match="one of 15, 18, 21"):
        check_window(DeepMedic(2, features=(3, 3)), (15, 14, 15))
    with pytest.raises(ValueError, match="cannot fit deepmedic"):
        DeepMedic(2, spatial_dims=2, features=(3, 3))(batch((15, 16)))
    with pytest.raises(ValueError, match="cannot fit highres3dnet_small: every axis must be a multiple of 2"):
        check_window(HighRes3DNetSmall, (8, 7, 8))
    with pytest.raises(ValueError, match="cannot fit nonewnet: every axis must be a multiple of 16"):
        check_window(NoNewNet, (32, 24, 32))


def test_check_window_accepts_valid_windows():
    check_window(DeepMedic, (57, 105, 51))
    check_window(DeepMedic, (57, 57, 1))  # a 2-D window's flat axis
    check_window(DeepMedic(2, features=(3, 3)), (15, 18, 21))
    check_window(UNet2D, (572, 188))
    check_window(UNet2D(2, features=(2, 4)), (18, 20))
    check_window(NoNewNet(2, features=(2, 4, 8)), (8, 12, 4))
    check_window(HolisticNet, (8, 6, 2))


def test_window_rule_arithmetic_and_smallest_valid_window():
    rule = WindowRule(start=51, step=3, shrink=48)
    assert [rule.fits(n) for n in (48, 51, 52, 54)] == [False, True, False, True]
    assert (rule.below(50), rule.below(56), rule.above(50), rule.above(56), rule.output_length(105)) == (
        None, 54, 51, 57, 57)
    with pytest.raises(ValueError, match="even shrink"):
        WindowRule(start=10, step=2, shrink=3)
    assert smallest_valid_window(DeepMedic, (45, 60, 1)) == (51, 60, 1)
    assert smallest_valid_window(UNet2D(2, features=(2, 4)), (5, 19)) == (18, 20)
    assert smallest_valid_window(NoNewNet, (20, 3, 32)) == (32, 16, 32)
    assert UNet2D.window_divisor == 4 and DeepMedic.window_divisor == 3 and DeepMedic(2, d_factor=5).window_divisor == 5
    assert NoNewNet(2, features=(2, 4, 8)).window_divisor == 4 and HighRes3DNetSmall.window_divisor == 2


# ----------------------------------------------------------------------------- network-specific properties
@pytest.mark.parametrize("merge", ["average", "max"])
def test_scalenet_is_invariant_to_the_order_and_count_of_modalities(merge):
    net = ScaleNet(2, spatial_dims=2, features=2, backend_units=2, merge=merge)
    x = batch((8, 8), channels=4)
    for training in (False, True):  # batch statistics too are shared by the modalities
        reference = numpy(net(x, training=training))
        permuted = numpy(net(x[..., [2, 0, 3, 1]], training=training))
        np.testing.assert_allclose(permuted, reference, rtol=1e-4, atol=1e-4)
    variables = [(v.path, tuple(v.shape)) for v in net.variables]
    assert tuple(net(x[..., :3]).shape) == (2, 8, 8, 2)  # trained on four modalities, run on three
    assert [(v.path, tuple(v.shape)) for v in net.variables] == variables
    if merge == "average":
        other = ScaleNet(2, spatial_dims=2, features=2, backend_units=2, merge=merge)
        other(x[..., :1])  # the weights do not depend on the modality count
        assert [(v.path, tuple(v.shape)) for v in other.variables] == variables


def test_scalenet_merge_changes_the_output():
    x = batch((8, 8), channels=3)
    average = ScaleNet(2, spatial_dims=2, features=2)
    maximum = ScaleNet(2, spatial_dims=2, features=2, merge="max")
    average(x), maximum(x)
    maximum.set_weights(average.get_weights())
    assert not np.allclose(numpy(average(x, training=False)), numpy(maximum(x, training=False)))


def test_holisticnet_fusion_is_a_convex_combination_of_the_stage_probabilities():
    rng = np.random.default_rng(0)
    scores = [rng.normal(size=(2, 4, 4, 3)).astype("float32") for _ in range(4)]
    fusion = ScoreFusion()
    probabilities = numpy(keras.ops.softmax(fusion(scores), axis=-1))
    mean = np.mean([numpy(keras.ops.softmax(s, axis=-1)) for s in scores], axis=0)
    np.testing.assert_allclose(probabilities, mean, atol=1e-6)  # equal weights at the start
    fusion.stage_logits.assign(np.array([[9.0] * 3, [-9.0] * 3, [-9.0] * 3, [-9.0] * 3], "float32"))
    np.testing.assert_allclose(numpy(keras.ops.softmax(fusion(scores), axis=-1)),
                               numpy(keras.ops.softmax(scores[0], axis=-1)), atol=1e-3)


def test_holisticnet_has_a_score_layer_per_stage():
    net = HolisticNet(2, spatial_dims=2, features=4, score_features=4, units_per_stage=2)
    net(batch((8, 8)))
    paths = {v.path.split("/")[1] for v in net.variables}
    assert {f"score_{s}_head" for s in range(4)} <= paths and {f"res_{s}_1" for s in range(4)} <= paths
    assert "fusion" in paths


def test_highres3dnet_variants_share_the_body_and_differ_in_the_tail():
    x = batch((8, 8))
    layers = {}
    for cls in (HighRes3DNet, HighRes3DNetSmall, HighRes3DNetLarge):
        net = cls(2, spatial_dims=2)
        net(x)
        layers[cls] = {v.path.split("/", 1)[1] for v in net.variables}
    body = {p for p in layers[HighRes3DNet] if p.startswith("res_")}
    assert all(body <= paths for paths in layers.values())
    assert any(p.startswith("deconv/") for p in layers[HighRes3DNetSmall])
    assert any(p.startswith("conv_2/") for p in layers[HighRes3DNetLarge])
    assert not any(p.startswith(("deconv/", "conv_2/")) for p in layers[HighRes3DNet])


def test_nonewnet_uses_instance_norm_and_linear_upsampling():
    net = NoNewNet(2, spatial_dims=3, features=(2, 4, 8))
    y = net(batch((8, 8, 8)))
    assert tuple(y.shape) == (2, 8, 8, 8, 2)
    assert net.norm == "instance"
    assert not any("up" in v.path for v in net.variables)  # no learned up-sampling


# ----------------------------------------------------------------------------- learning
def test_deepmedic_learns_a_tiny_problem_on_its_smaller_output():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(4, 21, 21, 1)).astype("float32")
    net = DeepMedic(2, spatial_dims=2, features=(4, 4), fc_features=(8,), acti_func="relu")
    crop = (21 - net.output_window((21, 21))[0]) // 2
    labels = (images[:, crop:-crop, crop:-crop, 0] > 0.3).astype("int32")  # targets cropped to the output
    optimizer = keras.optimizers.Adam(learning_rate=0.02)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, net(images, training=True))
        grads = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(grads, net.trainable_variables))
        return loss

    losses = [float(step()) for _ in range(40)]
    assert losses[-1] < 0.5 * losses[0], losses[::10]
