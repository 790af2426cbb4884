"""Networks whose output window is smaller than their input (valid convolutions: NiftyNet's unet_2d,
deepmedic): windows, targets and whole-volume prediction."""

import numpy as np
import pytest
import tensorflow as tf

from voxflow.data.volume_prediction import GridSettings, predict_volume
from voxflow.data.windows import WindowLayout
from voxflow.errors import ConfigError
from voxflow.networks.contract import build_network


def valid_net(layers=2, spatial_dims=3):
    """A fully convolutional net of ``layers`` valid 3-wide convolutions (output smaller by 2·layers)."""
    conv = tf.keras.layers.Conv3D if spatial_dims == 3 else tf.keras.layers.Conv2D
    rng = np.random.default_rng(0)
    model = tf.keras.Sequential([conv(2, 3, padding="valid", activation="tanh") for _ in range(layers)])
    model.build((None, *(16,) * spatial_dims, 1))
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.3 for w in model.get_weights()])
    return model


@pytest.mark.parametrize("window, border", [((12, 12, 12), (0, 0, 0)), ((10, 8, 12), (1, 2, 0))])
def test_stitched_valid_windows_equal_the_network_on_the_whole_padded_volume(window, border):
    net = valid_net(layers=2)  # crop 2 on each side
    image = np.random.default_rng(1).normal(size=(23, 17, 14, 1)).astype(np.float32)
    layout = WindowLayout(window)
    output = tuple(w - 4 for w in window)
    settings = GridSettings(batch_size=3, border=border, blending="constant", padding_mode="edge")
    stitched = predict_volume(image, lambda x: net(x), layout, 2, settings, tf.distribute.get_strategy(),
                              output_window=output)
    whole = net(np.pad(image, [(2, 2)] * 3 + [(0, 0)], mode="edge")[None]).numpy()[0]
    assert stitched.shape == (23, 17, 14, 2)
    np.testing.assert_allclose(stitched, whole, atol=1e-5)


def test_a_volume_smaller_than_the_output_window_is_extended_and_cropped_back():
    net = valid_net(layers=1)
    image = np.random.default_rng(2).normal(size=(5, 9, 4, 1)).astype(np.float32)
    settings = GridSettings(batch_size=2, blending="constant", padding_mode="constant")
    stitched = predict_volume(image, lambda x: net(x), WindowLayout((8, 8, 8)), 2, settings,
                              tf.distribute.get_strategy(), output_window=(6, 6, 6))
    whole = net(np.pad(image, [(1, 1 + 1), (1, 1), (1, 1 + 2), (0, 0)])[None]).numpy()[0]
    assert stitched.shape == (5, 9, 4, 2)
    np.testing.assert_allclose(stitched, whole[:5, :9, :4], atol=1e-5)


def test_the_contract_accepts_declared_centred_smaller_outputs_only():
    from voxflow.errors import PluginError

    def declared(**_):
        model = valid_net(layers=2)
        model.output_window = lambda window: tuple(w - 4 for w in window)
        return model

    model, output = build_network(declared, {}, np.zeros((1, 12, 12, 12, 1), np.float32), 2,
                                  "[NETWORK] name = valid", plugin=True)
    assert output == (8, 8, 8)
    with pytest.raises(PluginError, match="or of the smaller centred window \\(or none: a classifier\\) its"):  # undeclared
        build_network(lambda **_: valid_net(layers=2), {}, np.zeros((1, 12, 12, 12, 1), np.float32), 2,
                      "[NETWORK] name = valid", plugin=True)

    class Shifted(tf.keras.Model):  # loses 3 voxels on one side of x only
        def call(self, x, training=None):
            return tf.concat([x[:, 3:], x[:, 3:]], -1)

    with pytest.raises(PluginError, match="expected \\(1, 12, 12, 12, 2\\)"):
        build_network(lambda **_: Shifted(), {}, np.zeros((1, 12, 12, 12, 1), np.float32), 2, "[NETWORK] name = s",
                      plugin=True)


def test_section_windows_name_the_input_and_the_output_window():
    layout = WindowLayout((12, 12, 12), {"T1": (12, 12, 12), "label": (8, 8, 8)})
    layout.check_output_window((8, 8, 8), "valid")
    assert layout.output_crop == (2, 2, 2)
    targets = tf.reshape(tf.range(2 * 12**3, dtype=tf.float32), (2, 12, 12, 12, 1))
    np.testing.assert_array_equal(layout.crop_to_output(targets).numpy(), targets.numpy()[:, 2:10, 2:10, 2:10])
    with pytest.raises(ConfigError, match="spatial_window_size 8×8×8 of \\[label\\] is neither the input window "
                                          "12×12×12 nor the window 10×10×10 that \\[NETWORK\\] name = v returns"):
        WindowLayout((12, 12, 12), {"T1": (12, 12, 12), "label": (8, 8, 8)}).check_output_window((10, 10, 10), "v")


def test_full_extent_axes_take_each_volumes_size_grown_to_a_window_the_network_takes():
    from voxflow.networks.deepmedic import DeepMedic
    from voxflow.networks.unet import UNet

    layout = WindowLayout((32, 32, 16), full_extent=(0, 1))
    layout.output_window = (28, 28, 12)  # a plugin's valid network without a window rule: same crop
    one = layout.for_volume((45, 30, 99), network=object())
    assert one.window == (45, 30, 16) and one.output_window == (41, 26, 12)
    unet = layout.for_volume((45, 30, 99), network=UNet(2))
    assert unet.window[2] == 16 and all(w >= s and w % UNet(2).window_divisor == 0
                                        for w, s in zip(unet.window[:2], (45, 30)))
    deepmedic = WindowLayout((57, 57, 57), full_extent=(2,)).for_volume((57, 57, 20), network=DeepMedic(2))
    assert deepmedic.window == (57, 57, 51) and deepmedic.output_window == (9, 9, 3)  # 51 is DeepMedic's smallest
    assert WindowLayout((8, 8, 8)).for_volume((45, 30, 99), UNet(2)).window == (8, 8, 8)
