"""NiftyNet's label-driven registration keys read by net_reg, the dense Dice losses, and the networks'
activations. (NiftyNet's own config runs end to end in tests/niftynet_configs.)"""

import logging
import textwrap

import numpy as np
import pytest

from voxflow.applications.registration import RegistrationApplication
from voxflow.applications.registration_niftynet import read_niftynet_keys
from voxflow.config import load_config
from voxflow.errors import ConfigError

RegistrationApplication.register()


def _config(tmp_path, network="niftynet.network.interventional_dense_net.INetDense", training="loss_type = Dice_Dense",
            registration="", overrides=()):
    path = tmp_path / "reg.ini"
    path.write_text(textwrap.dedent(f"""
        [us]
        path_to_search = .
        [mr]
        path_to_search = .
        [us_lab]
        path_to_search = .
        [mr_lab]
        path_to_search = .
        [NETWORK]
        name = {network}
        decay = 0.3
        [TRAINING]
        {training}
        [REGISTRATION]
        fixed_image = us
        moving_image = mr
        fixed_label = us_lab
        moving_label = mr_lab
        """) + textwrap.dedent(registration), encoding="utf-8")
    return load_config(path, overrides, app_section="REGISTRATION")


def test_niftynet_label_driven_config_reads_as_niftynet_trained(tmp_path, caplog):
    cfg = _config(tmp_path)
    with caplog.at_level(logging.WARNING):
        read_niftynet_keys(cfg)
    app = cfg.app
    assert (app.method, app.label_loss, app.image_loss, tuple(app.dice_scales), app.num_classes) == (
        "ddf", "dice_squared", "none", (0.0,), 2)
    assert (app.regulariser, app.regulariser_weight) == ("bending", 0.3)
    notice = caplog.text
    assert "INetDense → registration_net with method = ddf" in notice and "decay = 0.3 as the bending weight" in notice


@pytest.mark.parametrize("network, method", [
    ("niftynet.network.interventional_affine_net.INetAffine", "affine"),
    ("niftynet.network.interventional_hybrid_net.INetHybridPreWarp", "affine_ddf"),
    ("niftynet.network.interventional_hybrid_net.INetHybridTwoStream", "affine_ddf"),
    ("registration_net", "ddf"),
])
def test_niftynet_network_sets_the_method(tmp_path, network, method):
    cfg = _config(tmp_path, network=network, training="")
    read_niftynet_keys(cfg)
    assert cfg.app.method == method
    assert cfg.network.name == "registration_net"
    # Without NiftyNet's loss_type, voxflow's own defaults stand (LNCC, no label loss).
    assert (cfg.app.image_loss, cfg.app.label_loss, cfg.app.regulariser_weight) == ("lncc", "none", 0.5)


def test_keys_the_config_sets_win_over_niftynet_readings(tmp_path):
    cfg = _config(tmp_path, training="loss_type = Dice_Dense_NS",
                  registration="image_loss = lncc\nnum_classes = 3\nregulariser_weight = 1.0\n")
    read_niftynet_keys(cfg)
    assert (cfg.app.label_loss, cfg.app.image_loss, cfg.app.num_classes, cfg.app.regulariser_weight) == (
        "dice", "lncc", 3, 1.0)


def test_a_command_line_option_counts_as_given(tmp_path):
    cfg = _config(tmp_path, overrides=("--image_loss", "ssd"))
    read_niftynet_keys(cfg)
    assert cfg.app.image_loss == "ssd"


@pytest.mark.parametrize("network, training, registration, expected", [
    ("niftynet.network.interventional_affine_net.INetAffine", "", "method = svf\n",
     "INetAffine in .* is NiftyNet's network of method affine, but \\[REGISTRATION\\] method = svf"),
    ("registration_net", "loss_type = L2Loss", "", "L2Loss is not a loss of NiftyNet's label-driven registration"),
    ("registration_net", "loss_type = Dice", "label_loss = dice\n", "are both set in .*: keep one"),
])
def test_contradictions_are_refused_in_one_line(tmp_path, network, training, registration, expected):
    cfg = _config(tmp_path, network=network, training=training, registration=registration)
    with pytest.raises(ConfigError, match=expected) as err:
        read_niftynet_keys(cfg)
    assert "\n" not in str(err.value)


def test_dense_dice_losses_match_numpy():
    from voxflow.losses.registration import dice_dense_loss, dice_dense_ns_loss

    rng = np.random.default_rng(0)
    labels = (rng.random((2, 6, 5, 4, 3)) > 0.5).astype(np.float32)
    predictions = rng.random((2, 6, 5, 4, 3)).astype(np.float32)
    weight = rng.random((2, 6, 5, 4, 1)).astype(np.float32)
    axes = (1, 2, 3)
    eps = 1e-5
    overlap = (weight * labels * predictions).sum(axes)
    squared = 1 - ((2 * overlap + eps) / ((weight * (labels ** 2 + predictions ** 2)).sum(axes) + eps)).mean()
    plain = 1 - ((2 * overlap + eps) / ((weight * (labels + predictions)).sum(axes) + eps)).mean()
    np.testing.assert_allclose(float(dice_dense_loss(labels, predictions, weight)), squared, rtol=1e-5)
    np.testing.assert_allclose(float(dice_dense_ns_loss(labels, predictions, weight)), plain, rtol=1e-5)
    assert float(dice_dense_loss(labels, labels)) == pytest.approx(0.0, abs=1e-6)


def test_registry_names_niftynet_dense_dice():
    from voxflow import registry
    from voxflow.losses.registration import dice_dense_loss

    assert registry.resolve("loss", "niftynet.layer.loss_segmentation.dice_dense") is dice_dense_loss
    assert registry.canonical_name("network", "niftynet.network.interventional_affine_net.INetAffine") == "registration_net"


@pytest.mark.parametrize("activation, extra_weights", [(None, 0), ("prelu", 5), ("relu", 0)])
def test_registration_net_takes_the_configured_activation(activation, extra_weights):
    from voxflow.networks.registration import RegistrationNet

    net = RegistrationNet(3, "ddf", encoder=(4, 4), decoder=(4, 4), full_resolution=(4,), activation=activation)
    out = net(np.random.default_rng(0).random((1, 8, 8, 8, 2)).astype(np.float32))
    assert out["displacement"].shape == (1, 8, 8, 8, 3)
    assert len(net.trainable_weights) == 12 + extra_weights  # prelu: one slope vector per convolution
    assert RegistrationNet.from_config(net.get_config()).activation_name == activation
