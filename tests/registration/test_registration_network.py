"""RegistrationNet learns known transforms of exact 2-D pairs; an identity pair gives a zero field."""

import numpy as np
import pytest
import tensorflow as tf

from voxflow.applications.registration import METHODS as APP_METHODS
from voxflow.layers.warp import warp
from voxflow.losses.registration import bending_energy, lncc_loss, ssd_loss
from voxflow.networks.registration import METHODS, RegistrationNet

SHAPE = (96, 96)
RNG = np.random.default_rng(0)
CENTRES, WIDTHS, AMPLITUDES = RNG.uniform(10, 86, (40, 2)), RNG.uniform(3, 8, 40), RNG.uniform(0.5, 1.5, 40)


def blobs(points: np.ndarray) -> np.ndarray:
    """A smooth image (a sum of Gaussians) evaluated at continuous points ``(…, 2)``: exact at any transform."""
    return sum(a * np.exp(-((points - c) ** 2).sum(-1) / (2 * w * w))
               for c, w, a in zip(CENTRES, WIDTHS, AMPLITUDES, strict=True)).astype(np.float32)


def grid() -> np.ndarray:
    return np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in SHAPE], indexing="ij"), -1)


def fit(moving, fixed, method, steps, loss=ssd_loss, lr=1e-3, regulariser=0.0):
    tf.keras.utils.set_random_seed(0)
    net = RegistrationNet(spatial_dims=2, method=method, encoder=(8, 16, 16), decoder=(16, 16, 16),
                          full_resolution=(8,))
    optimizer = tf.keras.optimizers.Adam(lr)
    pair = tf.constant(np.concatenate([moving, fixed], -1)[None])

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            out = net(pair, training=True)
            value = loss(fixed[None], warp(moving[None], out["displacement"], 1))
            value += regulariser * bending_energy(out["regularised"])
        grads = tape.gradient(value, net.trainable_variables)
        optimizer.apply_gradients(zip(grads, net.trainable_variables, strict=True))
        return out["displacement"]

    for _ in range(steps):
        step()
    return net(pair)["displacement"].numpy()[0]


def test_the_application_offers_the_network_methods():
    assert APP_METHODS == METHODS


@pytest.mark.parametrize("method", METHODS)
def test_an_untrained_network_returns_the_identity(method):
    net = RegistrationNet(spatial_dims=3, method=method, encoder=(4, 8), decoder=(8, 8), full_resolution=(4,))
    field = net(np.random.default_rng(1).normal(size=(1, 16, 16, 8, 2)).astype(np.float32))["displacement"]
    assert field.shape == (1, 16, 16, 8, 3) and float(tf.reduce_max(tf.abs(field))) == 0.0


def test_a_known_translation_is_recovered_to_a_fraction_of_a_voxel():
    """moving(y) = fixed(y − t): the displacement that pulls it back is +t everywhere."""
    shift = np.array([6.5, -4.25])
    fixed = blobs(grid())[..., None]
    moving = blobs(grid() - shift)[..., None]
    field = fit(moving, fixed, "affine", 150)
    assert np.abs(field[20:76, 20:76] - shift).max() < 0.25


def test_a_known_rotation_is_recovered_to_a_fraction_of_a_voxel():
    angle = np.deg2rad(10.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = (np.array(SHAPE) - 1) / 2
    points = grid()
    fixed = blobs(points)[..., None]
    moving = blobs((points - centre) @ rotation + centre)[..., None]  # moving(y) = fixed(R⁻¹(y − c) + c)
    truth = (points - centre) @ rotation.T + centre - points  # fixed x sits at R(x − c) + c in the moving image
    field = fit(moving, fixed, "affine", 250)
    inside = np.linalg.norm(points - centre, axis=-1) < 30
    assert np.abs(field - truth)[inside].max() < 0.5


def test_an_identity_pair_gives_a_zero_field():
    image = blobs(grid())[..., None]
    field = fit(image, image, "svf", 20, loss=lambda f, w: lncc_loss(f, w, 5), regulariser=0.5)
    assert np.abs(field).max() < 0.05


@pytest.mark.parametrize("velocity", [False, True])
def test_instance_optimisation_refines_a_field_on_its_pair(velocity):
    """From a zero prediction, the refinement alone registers a translated pair: the images match (SSD down
    tenfold) and the free-form field is near the shift where the image has structure."""
    from voxflow.applications.registration_instance import refine

    shift = np.array([3.0, -2.0])
    fixed = blobs(grid())[None, ..., None]
    moving = blobs(grid() - shift)[None, ..., None]
    field = refine(tf.constant(fixed), tf.constant(moving), tf.zeros((1, *SHAPE, 2)), velocity, 150, 0.05,
                   ssd_loss, bending_energy, 0.1)
    before = float(ssd_loss(fixed, moving))
    after = float(ssd_loss(fixed, warp(moving, field, 1)))
    assert after < 0.1 * before
    assert np.abs(field.numpy()[0, 24:72, 24:72] - shift).mean() < 0.6 < np.linalg.norm(shift)
