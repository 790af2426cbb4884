"""The shared warp layer (voxflow.layers.warp): its convention, 2-D/3-D, integration, and its agreement
with the augmentation warps."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from voxflow.augment.warp import affine_warp
from voxflow.layers.warp import affine_displacement, compose, integrate_velocity, rescale_field, warp


def _grid(shape):
    return np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing="ij"), -1)


@pytest.mark.parametrize("shape", [(20, 24), (12, 14, 10)])
def test_pull_warp_matches_map_coordinates_with_edge_voxels(shape):
    rng = np.random.default_rng(0)
    volume = rng.normal(size=(1, *shape, 2)).astype(np.float32)
    field = rng.normal(0, 3, size=(1, *shape, len(shape))).astype(np.float32)  # reaches past the edges
    out = warp(volume, field, 1).numpy()[0]
    points = np.moveaxis(_grid(shape) + field[0], -1, 0)
    for c in range(2):
        expected = ndimage.map_coordinates(volume[0, ..., c].astype(np.float64), points, order=1, mode="nearest")
        assert np.abs(out[..., c] - expected).max() < 1e-4
    nearest = warp(volume, field, 0).numpy()[0, ..., 0]
    expected = ndimage.map_coordinates(volume[0, ..., 0], points, order=0, mode="nearest")
    assert np.mean(nearest == expected) > 0.999  # ties at exactly .5 may round either way


def test_warp_is_differentiable_in_the_field_and_the_volume():
    volume = tf.Variable(np.random.default_rng(1).normal(size=(1, 8, 8, 8, 1)).astype(np.float32))
    field = tf.Variable(np.full((1, 8, 8, 8, 3), 0.3, np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(warp(volume, field, 1) ** 2)
    grads = tape.gradient(loss, [volume, field])
    assert all(g is not None and float(tf.reduce_max(tf.abs(tf.convert_to_tensor(g)))) > 0 for g in grads)


def test_the_registration_warp_agrees_with_the_augmentation_affine_warp():
    rng = np.random.default_rng(2)
    volume = rng.normal(size=(2, 16, 16, 8, 1)).astype(np.float32)
    matrix = (np.eye(3, 4) + rng.normal(0, 0.05, (2, 3, 4)) * [1, 1, 1, 20]).astype(np.float32)
    by_field = warp(volume, affine_displacement(matrix, (16, 16, 8)), 1).numpy()
    by_matrix = affine_warp(volume, matrix, 1).numpy()
    assert np.abs(by_field - by_matrix).max() < 1e-4


def test_affine_displacement_and_composition():
    shift = np.array([[[1, 0, 2.5], [0, 1, -1.0]]], np.float32)
    field = affine_displacement(shift, (4, 5)).numpy()
    assert np.allclose(field[0], [2.5, -1.0])
    # a linear image and a linear outer field are interpolated exactly: both ways give a·(x + inner + outer(x + inner))
    grid = _grid((24, 24))
    image = (grid @ np.array([0.7, -1.3]))[None, ..., None].astype(np.float32)
    outer = (0.05 * grid[..., ::-1] + [0.3, -0.2])[None].astype(np.float32)
    inner = np.full((1, 24, 24, 2), 0.5, np.float32)
    twice = warp(warp(image, outer, 1), inner, 1).numpy()[0, 4:-6, 4:-6, 0]
    once = warp(image, compose(outer, inner), 1).numpy()[0, 4:-6, 4:-6, 0]
    moved = grid + 0.5
    expected = ((moved + 0.05 * moved[..., ::-1] + [0.3, -0.2]) @ np.array([0.7, -1.3]))[4:-6, 4:-6]
    assert np.abs(twice - expected).max() < 1e-3 and np.abs(once - expected).max() < 1e-3


def test_scaling_and_squaring_of_a_constant_velocity_is_that_translation():
    velocity = np.zeros((1, 16, 16, 16, 3), np.float32)
    velocity[..., 0], velocity[..., 2] = 2.0, -1.5
    field = integrate_velocity(velocity, 7).numpy()
    assert np.allclose(field, velocity, atol=1e-4)


def test_scaling_and_squaring_of_a_rotation_velocity_is_the_rotation():
    """v(x) = W (x - c) with W skew-symmetric integrates to the rotation exp(W) about c."""
    angle = np.deg2rad(10.0)
    grid = _grid((41, 41)) - 20.0
    velocity = np.stack([-angle * grid[..., 1], angle * grid[..., 0]], -1)[None].astype(np.float32)
    field = integrate_velocity(velocity, 7).numpy()[0]
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    expected = grid @ rotation.T - grid
    inside = np.linalg.norm(grid, axis=-1) < 12  # away from the edge voxels the composition clamps to
    assert np.abs(field - expected)[inside].max() < 0.05


def test_integrating_minus_the_velocity_inverts_the_warp():
    rng = np.random.default_rng(4)
    coarse = rng.normal(0, 2.0, (1, 4, 4, 2))
    velocity = ndimage.zoom(coarse, (1, 8, 8, 1), order=3).astype(np.float32)  # smooth 32x32 field
    forward = integrate_velocity(velocity, 7)
    backward = integrate_velocity(-velocity, 7)
    identity = compose(forward, backward).numpy()[0]  # first the inverse, then the warp
    assert np.abs(identity)[6:-6, 6:-6].max() < 0.15


def test_rescale_field_keeps_a_translation_in_world_terms():
    field = np.zeros((1, 16, 16, 2), np.float32)
    field[..., 0] = 4.0  # 4 voxels of the fine grid
    coarse = rescale_field(field, (8, 8)).numpy()
    assert np.allclose(coarse[..., 0], 2.0) and np.allclose(coarse[..., 1], 0.0)
