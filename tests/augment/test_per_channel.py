"""``per_channel``: intensity parameters drawn again for every channel (modality), as TorchIO draws them per image."""

import numpy as np
import pytest
import tensorflow as tf

from voxflow.augment.anisotropy import RandomAnisotropy
from voxflow.augment.pipeline import Augmentation, build_layer
from voxflow.errors import ConfigError

PER_CHANNEL = ["RandomBiasField", "RandomGamma", "RandomNoise", "RandomIntensityScale", "RandomIntensityShift",
               "RandomBlur", "RandomMotion", "RandomGhosting", "RandomSpike"]
SEEDS = np.array([[1, 2], [3, 4]])


def _image(channels: int) -> np.ndarray:
    one = np.random.default_rng(0).random((2, 12, 10, 8, 1)).astype(np.float32)
    return np.concatenate([one] * channels, axis=-1)


@pytest.mark.parametrize("name", PER_CHANNEL)
def test_each_channel_is_the_layer_on_that_channel_alone_with_its_own_seeds(name):
    """Channel c of sample b is what the layer gives the one-channel image with seeds (s0, s1·C + c)."""
    layer = build_layer(name, {"per_channel": True})
    out = np.asarray(layer({"image": _image(3), "seed": SEEDS})["image"])
    assert out.shape == (2, 12, 10, 8, 3)
    for c in range(3):
        alone = layer({"image": _image(1), "seed": np.stack([SEEDS[:, 0], SEEDS[:, 1] * 3 + c], axis=1)})["image"]
        # equal up to float rounding: the batch of six rows may be summed in another order than of two
        np.testing.assert_allclose(out[..., c], np.asarray(alone)[..., 0], rtol=0, atol=1e-5)
    assert np.abs(out[..., 0] - out[..., 1]).max() > 1e-4  # equal channels in, different draws out
    assert layer.last_params["apply"].shape == (2,)


@pytest.mark.parametrize("name", [n for n in PER_CHANNEL if n != "RandomNoise"])
def test_by_default_one_draw_serves_every_channel(name):
    out = np.asarray(build_layer(name, {})({"image": _image(2), "seed": SEEDS})["image"])
    np.testing.assert_array_equal(out[..., 0], out[..., 1])


def test_whether_a_sample_changes_is_decided_once_for_all_its_channels():
    layer = build_layer("RandomGamma", {"per_channel": True, "p": 0.5, "log_gamma": (0.3, 0.5)})
    seeds = np.stack([np.arange(16), np.arange(16) * 7], axis=1)
    image = np.concatenate([_image(3)] * 8, axis=0) + 0.5
    out = np.asarray(layer({"image": image, "seed": seeds})["image"])
    changed = np.abs(out - image).max(axis=(1, 2, 3)) > 1e-6  # (B, C)
    apply = np.asarray(layer.last_params["apply"])
    assert 0 < apply.sum() < 16
    assert np.array_equal(changed, np.repeat(apply[:, None], 3, axis=1))


def test_per_channel_in_a_compiled_pipeline():
    aug = Augmentation([("RandomMotion", {"per_channel": True}), ("RandomGamma", {"per_channel": True}),
                        ("RandomFlip", {})])
    batch = {"image": _image(2), "seed": SEEDS}
    eager = aug(batch)["image"]
    compiled = tf.function(lambda b: aug(b)["image"])(batch)
    np.testing.assert_allclose(np.asarray(compiled), np.asarray(eager), atol=1e-5)


def test_per_channel_is_not_offered_where_torchio_draws_once_per_subject():
    with pytest.raises(ValueError, match="per_channel"):
        RandomAnisotropy(per_channel=True)
    with pytest.raises(ConfigError, match="RandomAnisotropy"):
        build_layer("random_anisotropy", {"per_channel": True})
    with pytest.raises(ConfigError, match="per_channel"):
        build_layer("random_flip", {"per_channel": True})
