"""Jacobian statistics, centroid TRE and end-point error (voxflow.evaluation.registration)."""

import numpy as np
import pytest

from voxflow.evaluation.registration import (
    centroid_distance,
    end_point_error,
    jacobian_determinant,
    jacobian_statistics,
    landmark_errors,
)


def _world_grid(shape, affine):
    index = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing="ij"), -1)
    return index @ affine[:3, :3].T + affine[:3, 3]


def test_the_jacobian_of_an_affine_map_on_an_oblique_grid_is_its_determinant():
    angle = np.deg2rad(30)
    affine = np.eye(4)
    affine[:3, :3] = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]) @ \
        np.diag([1.2, 0.8, 2.5])
    points = _world_grid((10, 12, 8), affine)
    matrix = np.array([[1.1, 0.05, 0], [0.02, 0.9, 0.1], [0, -0.03, 1.2]])
    field = points @ matrix.T - points + [3, -2, 1]
    det = jacobian_determinant(field, affine)
    assert np.allclose(det, np.linalg.det(matrix), atol=1e-6)


def test_folding_and_sd_log_jacobian_match_a_numpy_reference():
    rng = np.random.default_rng(0)
    field = rng.normal(0, 0.6, (12, 12, 12, 3))  # rough enough to fold
    det = jacobian_determinant(field)
    grads = np.stack([np.stack(np.gradient(field[..., i]), -1) for i in range(3)], -2)
    reference = np.linalg.det(np.eye(3) + grads)
    assert np.allclose(det, reference)
    mask = np.zeros((12, 12, 12), bool)
    mask[2:10, 2:10, 2:10] = True
    stats = jacobian_statistics(det, mask)
    inside = reference[mask]
    assert stats["folded_percent"] == pytest.approx(100 * np.mean(inside <= 0))
    assert 0 < stats["folded_percent"] < 100
    assert stats["sd_log_jacobian"] == pytest.approx(np.std(np.log(np.clip(inside, 1e-9, 1e9))))
    assert jacobian_statistics(np.ones((4, 4, 4)))["folded_percent"] == 0.0


def test_a_two_dimensional_field_stored_with_one_slice():
    field = np.zeros((8, 8, 1, 3))
    field[..., 0] = 0.1 * np.arange(8)[:, None, None]  # stretch x by 1.1
    assert np.allclose(jacobian_determinant(field, np.eye(4)), 1.1)


def test_centroid_distance_is_in_millimetres_and_end_point_error():
    a = np.zeros((10, 10, 10), bool)
    a[2:4, 2:4, 2:4] = True
    b = np.roll(a, 3, axis=0)
    affine = np.diag([2.0, 1.0, 1.0, 1.0])
    assert centroid_distance(a, b, affine) == pytest.approx(6.0)
    assert np.isnan(centroid_distance(a, np.zeros_like(a), affine))
    field = np.zeros((4, 4, 4, 3))
    truth = np.zeros_like(field)
    truth[..., 0] = 3.0
    truth[..., 1] = 4.0
    assert end_point_error(field, truth) == pytest.approx(5.0)


def test_landmark_errors_map_fixed_points_by_the_field():
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (-10, -10, -10)
    field = np.zeros((12, 12, 12, 3))
    field[..., 0] = 3.0  # fixed point p corresponds to moving point p + (3, 0, 0)
    fixed = np.array([[0.0, 0.0, 0.0], [4.0, -2.0, 6.0]])
    moving = fixed + [3.0, 0.0, 4.0]
    before, after = landmark_errors(field, affine, fixed, moving)
    assert np.allclose(before, 5.0) and np.allclose(after, 4.0)
