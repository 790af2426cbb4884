"""Test-time mirroring (``[INFERENCE] tta_mirror_axes``)."""

import numpy as np
import pytest
import tensorflow as tf

from voxflow.augment.test_time import MirrorTTA, check_centred, mirror_combinations


def test_combinations_cover_every_subset_and_skip_flat_axes():
    assert len(mirror_combinations((0, 1, 2), (8, 8, 8))) == 8
    assert mirror_combinations((0, 1, 2), (8, 8, 1)) == [(False, False, False), (True, False, False),
                                                        (False, True, False), (True, True, False)]
    assert mirror_combinations((), (8, 8, 8)) == [(False, False, False)]


def test_mirroring_a_mirror_symmetric_prediction_changes_nothing():
    rng = np.random.default_rng(0)
    windows = tf.constant(rng.normal(size=(2, 6, 5, 4, 3)), tf.float32)
    weights = tf.constant(rng.normal(size=(3, 4)), tf.float32)

    def pointwise(x):  # a 1×1×1 convolution + softmax: commutes with every mirroring
        return tf.nn.softmax(tf.einsum("bxyzc,ck->bxyzk", x, weights), axis=-1)

    np.testing.assert_allclose(MirrorTTA((0, 1, 2))(pointwise, windows), pointwise(windows), atol=1e-6)


def test_mirroring_averages_the_mirrored_predictions():
    windows = tf.zeros((1, 4, 3, 2, 1))
    ramp = tf.reshape(tf.range(4, dtype=tf.float32), (1, 4, 1, 1, 1))

    def position(x):  # depends on where a voxel is, not on what it holds
        return x + tf.broadcast_to(ramp, tf.shape(x))

    averaged = MirrorTTA((0,))(position, windows).numpy()[0, :, 0, 0, 0]
    np.testing.assert_allclose(averaged, [1.5, 1.5, 1.5, 1.5])  # (i + (3 - i)) / 2


def test_an_off_centre_output_is_refused():
    check_centred((16, 16, 16), (12, 12, 16))
    with pytest.raises(ValueError, match="not centred"):
        check_centred((16, 16, 16), (13, 12, 16))
