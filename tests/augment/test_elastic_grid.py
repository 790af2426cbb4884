"""RandomElasticDeformation's control grid is TorchIO's (SimpleITK's), checked without torchio.

TorchIO's ``ElasticDeformation`` builds its grid with ``sitk.BSplineTransformInitializer(image, n - 3)``:
``n - 3`` equal cells over the image's extent widened by ITK's 1/8 voxel at each end (``N + 1/4``
voxels), one point beyond each end, evaluated with the plain cubic B-spline. The reference below is
an independent per-voxel evaluation in ITK's form (continuous grid index, four basis polynomials);
the knot values were read from SimpleITK 2.x (``GetCoefficientImages()[0]``, mapped to voxel indices).
"""

import numpy as np
import pytest
import tensorflow as tf
from augment_data import sphere_batch

from voxflow.augment.elastic import RandomElasticDeformation, bspline_weights, control_positions


def _itk_weights(size: int, num_points: int) -> np.ndarray:
    """``(size, num_points)`` weights as ITK's BSplineTransform evaluates them, one voxel at a time."""
    step = (size + 0.25) / (num_points - 3)
    origin = -0.5 - 0.125 - step  # the domain starts 1/8 voxel before the first voxel's edge; one point before it
    weights = np.zeros((size, num_points))
    for x in range(size):
        u = (x - origin) / step
        first = int(np.floor(u)) - 1
        t = u - np.floor(u)
        basis = [(1 - t) ** 3 / 6, (3 * t**3 - 6 * t**2 + 4) / 6, (-3 * t**3 + 3 * t**2 + 3 * t + 1) / 6, t**3 / 6]
        for offset, value in enumerate(basis):
            weights[x, first + offset] = value
    return weights


@pytest.mark.parametrize(("shape", "mesh"), [((24, 22, 20), (4, 4, 4)), ((13, 17, 1), (1, 6, 2)), ((40, 9, 31), (3, 2, 5))])
def test_control_points_sit_where_simpleitk_puts_them(shape, mesh):
    """SimpleITK (a voxflow dependency) itself: ``BSplineTransformInitializer(image, mesh)`` on a unit-spaced
    image at the origin puts ``mesh + 3`` control points per axis at voxel coordinates ``origin + k spacing``."""
    import SimpleITK as sitk

    transform = sitk.BSplineTransformInitializer(sitk.Image(list(shape), sitk.sitkFloat32), list(mesh))
    grid = transform.GetCoefficientImages()[0]
    for axis, (size, cells) in enumerate(zip(shape, mesh, strict=True)):
        expected = grid.GetOrigin()[axis] + np.arange(cells + 3) * grid.GetSpacing()[axis]
        assert np.allclose(control_positions(size, cells + 3), expected, atol=1e-9)


def test_niftynet_mesh_size_becomes_that_many_cells():
    """NiftyNet's ``num_ctrl_points`` is the mesh size it gave ``BSplineTransformInitializer``: mesh + 3 points."""
    from types import SimpleNamespace

    from voxflow.augment.steps import niftynet_steps

    training = SimpleNamespace(random_flipping_axes=(), rotation_angle=(), rotation_angle_x=(), rotation_angle_y=(),
                               rotation_angle_z=(), scaling_percentage=(), isotropic_scaling=False,
                               do_elastic_deformation=True, num_ctrl_points=4, deformation_sigma=2.0,
                               proportion_to_deform=0.5, bias_field_range=(), bf_order=3)
    (name, kwargs), = niftynet_steps(training)
    assert name == "RandomElasticDeformation" and kwargs["num_control_points"] == 7


@pytest.mark.parametrize(("size", "n"), [(24, 7), (22, 5), (13, 4), (17, 9), (40, 6), (1, 5), (1, 7), (2, 4)])
def test_weights_are_the_unnormalised_cubic_bspline_at_torchio_knots(size, n):
    weights = bspline_weights(size, n)
    assert weights.shape == (size, n) and weights.dtype == np.float32
    assert np.allclose(weights, _itk_weights(size, n), atol=1e-7)
    assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-6) and weights.min() >= 0


@pytest.mark.parametrize(("shape", "points"), [((24, 22, 20), (7, 7, 7)), ((19, 12, 1), (5, 6, 7)),
                                               ((9, 16, 13), (4, 8, 5))], ids=["cube", "2d", "per-axis"])
def test_field_is_the_spline_evaluated_at_every_voxel(shape, points):
    control = np.random.default_rng(3).uniform(-2, 2, (2, *points, 3)).astype(np.float32)
    field = np.asarray(RandomElasticDeformation(num_control_points=points, locked_borders=1).field(
        shape, {"control": tf.constant(control)}))
    wx, wy, wz = (_itk_weights(size, n) for size, n in zip(shape, points, strict=True))
    expected = np.einsum("xi,yj,zk,bijkc->bxyzc", wx, wy, wz, control)
    assert field.shape == (2, *shape, 3)
    assert np.abs(field - expected).max() <= 1e-5


def test_a_grid_linear_in_knot_position_gives_a_linear_field():
    """Cubic B-splines reproduce linear functions: displacing each control point by ``a · knot + b``
    moves every voxel ``x`` by ``a · x + b`` exactly, up to the window's edge voxels."""
    shape, points = (24, 15, 10), (7, 5, 6)
    slope, offset = np.array([0.05, -0.1, 0.02]), np.array([0.3, 0.2, -0.4])
    knots = [control_positions(size, n) for size, n in zip(shape, points, strict=True)]
    grid = np.stack(np.meshgrid(*knots, indexing="ij"), axis=-1)
    control = (grid * slope + offset)[None].astype(np.float32)
    layer = RandomElasticDeformation(num_control_points=points, locked_borders=0)
    field = np.asarray(layer.field(shape, {"control": tf.constant(control)}))[0]
    voxels = np.stack(np.meshgrid(*(np.arange(size) for size in shape), indexing="ij"), axis=-1)
    assert np.abs(field - (voxels * slope + offset)).max() <= 1e-5


def test_field_never_exceeds_the_largest_control_displacement_and_margin_covers_it():
    window = (20, 18, 1)
    layer = RandomElasticDeformation(num_control_points=(6, 5, 7), max_displacement=(3.0, 2.0, 1.0),
                                     locked_borders=1, spacing=(0.5, 1.0, 2.0))
    margin = layer.margin(window)
    assert margin[2] == 0
    batch = sphere_batch(size=20)
    flat = {key: value[:, :, :18, 7:8] if value.ndim == 5 else value for key, value in batch.items()}
    params = layer.sample(flat)
    control = np.asarray(params["control"])
    field = np.asarray(layer.field(window, params))
    assert np.all(control[..., 2] == 0) and np.all(field[..., 2] == 0)  # nothing moves along the flat axis
    for axis in range(2):
        assert np.abs(field[..., axis]).max() <= np.abs(control[..., axis]).max() * (1 + 1e-6)
        assert np.abs(control[..., axis]).max() <= margin[axis]  # mm bound / spacing: 6 and 2 voxels
    # a uniform grid is a uniform shift, to the last voxel
    uniform = tf.constant(np.broadcast_to(np.float32([1.5, -2.0, 0.0]), (1, 6, 5, 7, 3)))
    assert np.allclose(np.asarray(layer.field(window, {"control": uniform})), [1.5, -2.0, 0.0], atol=1e-6)


def test_torchio_spacing_between_control_points():
    """For 24 voxels and 7 points TorchIO's points are (24 + 1/4) / 4 = 6.06 voxels apart (voxel centres
    0 .. 23 with the points spread over them would be 3.83 apart): a displaced point moves voxels up
    to 2 h = 12.1 voxels away, so the middle point (at 11.5) reaches the whole window and the one
    before it (at 5.4375) voxels 0 .. 17."""
    weights = bspline_weights(24, 7)
    assert np.all(weights[:, 3] > 0) and np.allclose(weights[:, 3], weights[::-1, 3])
    assert np.all(weights[:18, 2] > 0) and np.all(weights[18:, 2] == 0)


def test_folding_is_warned_about_as_torchio_does():
    """TorchIO warns when the largest displacement exceeds half the control spacing; so does voxflow,
    once per window shape. 7 points on 24 voxels are 6.06 voxels apart: 3 mm is safe, 3.5 mm is not."""
    import warnings

    window = (24, 24, 24)
    batch = {"image": np.zeros((1, *window, 1), np.float32)}
    assert RandomElasticDeformation(max_displacement=3.0).folding_axes(window) == []
    layer = RandomElasticDeformation(max_displacement=(3.5, 3.0, 3.0))
    assert layer.folding_axes(window) == [0]
    with pytest.warns(RuntimeWarning, match=r"axes \[0\] of a \(24, 24, 24\) window"):
        layer.sample(batch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer.sample(batch)  # said once for this window shape
        RandomElasticDeformation(max_displacement=3.0).sample(batch)
