"""scripts/build_registration_data.py on tiny synthetic arrays: the known fields undo the deformations."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from script_loader import load_script

builder = load_script("build_registration_data")


def test_random_velocity_is_smooth_and_bounded():
    velocity = builder.random_velocity(np.random.default_rng(0), (24, 20, 16), control=8, max_velocity=3.0)
    assert velocity.shape == (24, 20, 16, 3)
    assert np.isclose(np.abs(velocity).max(), 3.0)
    assert np.abs(np.diff(velocity, axis=0)).max() < 1.5  # no voxel-to-voxel jumps


def test_the_true_field_brings_the_moving_image_back():
    rng = np.random.default_rng(1)
    fixed = ndimage.gaussian_filter(rng.normal(size=(32, 32, 32)), 3)
    velocity = builder.random_velocity(rng, fixed.shape, control=8, max_velocity=2.0)
    truth, inverse = builder.integrate(velocity), builder.integrate(-velocity)
    moving = builder.pull(fixed, inverse, 1)
    back = builder.pull(moving, truth, 1)
    inner = (slice(6, -6),) * 3
    assert np.abs(back - fixed)[inner].max() < 0.1 * np.abs(fixed).max()
    assert np.abs(moving - fixed)[inner].mean() > 3 * np.abs(back - fixed)[inner].mean()


def test_a_constant_velocity_integrates_to_itself():
    velocity = np.zeros((8, 8, 8, 3))
    velocity[..., 1] = 1.5
    assert np.allclose(builder.integrate(velocity), velocity)


def test_t2_like_contrast_inverts_the_tissue_order():
    t1 = np.zeros((30, 10, 10), np.float32)
    t1[0:10], t1[10:20], t1[20:30] = 30.0, 60.0, 90.0  # CSF, GM, WM
    t1 += np.random.default_rng(2).normal(0, 1, t1.shape).astype(np.float32)
    t2 = builder.t2_like(t1)
    assert t2[0:10].mean() > t2[10:20].mean() > t2[20:30].mean() > 0


def test_the_brain_mask_keeps_dark_ventricles_inside():
    # a bright ball with a zero-valued "ventricle" inside, as the FSL MNI152 brain has
    grid = np.indices((20, 20, 20)) - 9.5
    radius = np.sqrt((grid ** 2).sum(0))
    brain = np.where(radius < 8, 1.0, 0.0)
    brain[radius < 2.5] = 0.0
    mask = builder.brain_mask(brain)
    assert mask[radius < 8].all() and not mask[radius >= 8.5].any()
