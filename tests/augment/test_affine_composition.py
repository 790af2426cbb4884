"""RandomAffine composes as TorchIO's ``Affine``, checked without TorchIO.

TorchIO 1.2.1 (``Affine.get_affine_transform``) builds ``CompositeTransform([scaling, rotation])``
of a ``ScaleTransform`` and a default ``Euler3DTransform`` about the image centre; SimpleITK applies
the last transform added first, and the Euler matrix is ``Rz Rx Ry``. So, in mm, the content at
``x`` moves to ``c + S (R (x - c) + t)``, ``R = R2 R0 R1``: rotate about axis 1, then 0, then 2,
then scale along the image axes, the translation scaled too. The voxel maps here are compared with
that formula written out in NumPy, and with a few points worked out by hand.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from voxflow.augment.affine import RandomAffine, content_matrix, invert_matrix, sampling_matrix
from voxflow.augment.warp import interpolation_support


def _rotation(degrees) -> np.ndarray:
    """``R2 R0 R1`` from elementary rotations (counter-clockwise for a positive angle)."""
    x, y, z = np.deg2rad(degrees)
    r0 = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    r1 = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    r2 = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return r2 @ r0 @ r1


def _torchio_move(points, degrees, scales, translation, shape, spacing) -> np.ndarray:
    """Where TorchIO's ``Affine`` moves the content at voxel ``points`` ``(N, 3)``: ``c + S (R (x - c) + t)`` in mm."""
    spacing = np.asarray(spacing, np.float64)
    centre = (np.asarray(shape, np.float64) - 1) / 2
    mm = (np.asarray(points, np.float64) - centre) * spacing
    moved = np.asarray(scales) * (mm @ _rotation(degrees).T + np.asarray(translation))
    return centre + moved / spacing


def _params(degrees, scales, translation) -> dict:
    return {"degrees": tf.constant([degrees], tf.float32), "scales": tf.constant([scales], tf.float32),
            "translation": tf.constant([translation], tf.float32)}


def _apply(matrix, points) -> np.ndarray:
    matrix = np.asarray(matrix, np.float64)[0]
    return np.asarray(points, np.float64) @ matrix[:, :3].T + matrix[:, 3]


SHAPE = (9, 11, 13)
CENTRE = np.array([4.0, 5.0, 6.0])


@pytest.mark.parametrize(("degrees", "scales", "translation", "spacing", "offsets", "moved"), [
    # 90° about axis 2 takes axis 0 to axis 1; the shift (1 mm along axis 0) comes after the rotation
    # and is scaled with it: (1, 0, 0) -> (0, 1, 0) -> (1, 1, 0) -> (2, 1, 0)
    # and (0, 1, 0) -> (-1, 0, 0) -> (0, 0, 0): the shift undoes the turn
    ((0, 0, 90), (2, 1, 1), (1, 0, 0), (1, 1, 1), [(1, 0, 0), (0, 1, 0)], [(2, 1, 0), (0, 0, 0)]),
    # about axis 1 first, then axis 0: (1, 0, 0) -> (0, 0, -1) -> (0, 1, 0); (0, 1, 0) -> (0, 1, 0) -> (0, 0, 1)
    ((90, 90, 0), (1, 1, 1), (0, 0, 0), (1, 1, 1), [(1, 0, 0), (0, 1, 0)], [(0, 1, 0), (0, 0, 1)]),
    # then axis 2: (0, 0, 1) -> (1, 0, 0) -> (1, 0, 0) -> (0, 1, 0)
    ((90, 90, 90), (1, 1, 1), (0, 0, 0), (1, 1, 1), [(0, 0, 1)], [(0, 1, 0)]),
    # mm: voxels of 2 x 1 x 0.5 mm. (1, 0, 0) voxel = (2, 0, 0) mm -> (0, 2, 0) -> + (0, 2, 0) = (0, 4, 0)
    # -> scaled by 1/2 along axis 1: (0, 2, 0) mm = (0, 2, 0) voxels; (0, 0, 2) voxels = (0, 0, 1) mm
    # -> (0, 0, 1) -> (0, 2, 1) -> (0, 1, 1) mm = (0, 1, 2) voxels
    ((0, 0, 90), (1, 0.5, 1), (0, 2, 0), (2, 1, 0.5), [(1, 0, 0), (0, 0, 2)], [(0, 2, 0), (0, 1, 2)]),
], ids=["scale-after-rotation", "axis-1-then-0", "then-axis-2", "mm"])
def test_points_move_as_worked_out_by_hand(degrees, scales, translation, spacing, offsets, moved):
    params = _params(degrees, scales, translation)
    sources, targets = CENTRE + np.asarray(offsets, np.float64), CENTRE + np.asarray(moved, np.float64)
    assert np.allclose(_apply(content_matrix(params, SHAPE, spacing), sources), targets, atol=1e-5)
    # the warp samples the moved content's place from where it came
    assert np.allclose(_apply(sampling_matrix(params, SHAPE, spacing), targets), sources, atol=1e-5)
    assert np.allclose(_torchio_move(sources, degrees, scales, translation, SHAPE, spacing), targets, atol=1e-12)


def test_sampling_matrix_inverts_torchios_composition():
    rng = np.random.default_rng(0)
    points = rng.uniform(-3, 15, (20, 3))
    for _ in range(10):
        degrees, scales = rng.uniform(-40, 40, 3), rng.uniform(0.7, 1.3, 3)
        translation, spacing = rng.uniform(-5, 5, 3), tuple(rng.uniform(0.5, 2.0, 3))
        params = _params(degrees, scales, translation)
        moved = _torchio_move(points, degrees, scales, translation, SHAPE, spacing)
        sampling = sampling_matrix(params, SHAPE, spacing)
        assert np.allclose(_apply(sampling, moved), points, atol=1e-4)
        content = content_matrix(params, SHAPE, spacing)
        assert np.allclose(_apply(content, points), moved, atol=1e-4)
        assert np.allclose(np.asarray(invert_matrix(sampling)), np.asarray(content), atol=1e-4)


def test_invert_uses_the_content_move():
    """``invert`` samples with the forward move: a 90° turn with a shift, then its inverse, gives back a
    block well inside the window exactly (nearest neighbour, whole-voxel positions)."""
    layer = RandomAffine(image_interpolation="nearest")
    image = np.zeros((1, 9, 9, 9, 1), np.float32)
    image[0, 4:6, 3:5, 4:6, 0] = np.arange(8, dtype=np.float32).reshape(2, 2, 2) + 1
    params = dict(_params((0, 0, 90), (2, 2, 1), (0.5, -0.5, 1)), apply=tf.constant([True]))
    moved = layer.apply({"image": image}, params)
    assert not np.array_equal(np.asarray(moved["image"]), image)
    expected = np.zeros_like(image)  # content at x moves to c + S (R (x - c) + t): voxel by voxel
    for index in itertools.product(range(9), repeat=3):
        target = _torchio_move([index], (0, 0, 90), (2, 2, 1), (0.5, -0.5, 1), (9, 9, 9), (1, 1, 1))[0]
        if np.all(np.abs(target - np.rint(target)) < 1e-9) and np.all((target >= 0) & (target <= 8)):
            expected[(0, *np.rint(target).astype(int), 0)] = image[(0, *index, 0)]
    # every other target voxel reads between source voxels or outside: compare where the content landed
    landed = expected > 0
    assert landed.sum() == 8 and np.array_equal(np.asarray(moved["image"])[landed], expected[landed])
    back = layer.invert(moved, params)
    assert np.array_equal(np.asarray(back["image"]), image)


def _reach(layer, window, params) -> np.ndarray:
    """How far (voxels) the window's corners sample beyond the window, per axis, largest over the batch."""
    matrix = np.asarray(sampling_matrix(params, window, layer.spacing), np.float64)
    corners = np.array(list(itertools.product(*[(0, n - 1) for n in window])), np.float64)
    points = np.einsum("bij,nj->bni", matrix[:, :, :3], corners) + matrix[:, None, :, 3]
    top = np.asarray(window, np.float64) - 1
    return np.max(np.maximum(-points, points - top), axis=(0, 1))


def _range_corners(layer, window) -> dict:
    """Parameters at every corner of the configured ranges (angles, smallest and largest scales, shifts)."""
    rotate, move = layer._masks((None, *window))
    rows = []
    choices = [(low, high) if rotate[a] else (0.0,) for a, (low, high) in enumerate(layer.degrees)]
    scales = [(low, high) for low, high in layer.scales]
    shifts = [(low, high) if move[a] else (0.0,) for a, (low, high) in enumerate(layer.translation)]
    for degrees in itertools.product(*choices):
        for scale in itertools.product(*([scales[0]] if layer.isotropic else scales)):
            scale = np.resize(scale, 3) * move + (1 - np.asarray(move))
            rows += [(degrees, scale, shift) for shift in itertools.product(*shifts)]
    degrees, scales, shifts = (np.asarray(column, np.float32) for column in zip(*rows))
    return {"degrees": tf.constant(degrees), "scales": tf.constant(scales), "translation": tf.constant(shifts)}


@pytest.mark.parametrize(("kwargs", "window", "tight"), [
    ({"degrees": 20, "scales": 0.2, "translation": 3}, (24, 20, 16), True),
    ({"degrees": (-5, 30, 0, 0, -45, 10), "scales": (0.8, 1.1, 0.9, 1.0, 0.7, 1.3), "translation": (-6, 2, 0, 0, 0, 0),
      "spacing": (0.7, 1.0, 2.5)}, (32, 28, 12), False),
    ({"degrees": 90, "scales": (0.75, 1.25), "isotropic": True, "translation": 5, "image_interpolation": "cubic"},
     (16, 16, 16), False),
    ({"degrees": (0, 0, 0, 0, -90, 90), "translation": (-10, 10, 0, 0, 0, 0)}, (20, 20, 20), True),  # shift turned aside
    ({"degrees": 40, "scales": 0.3, "translation": 4, "spacing": (0.8, 1.2, 3.0)}, (30, 26, 1), True),  # 2-D
    ({"degrees": 30, "scales": 0.2, "translation": 2}, (1, 18, 22), True),  # 2-D, flat first axis
])
def test_margin_bounds_the_reach_of_the_warp(kwargs, window, tight):
    """No output voxel of the window samples farther out than ``margin() - support`` voxels, for the
    corners of the parameter ranges and for random draws; with moderate ranges the margin is at most
    a voxel (plus rounding) beyond the farthest reach found. (With wide angles about several axes the
    worst rotation, a window corner turned onto an axis, is rarely drawn.)"""
    layer = RandomAffine(**kwargs)
    margin = np.asarray(layer.margin(window))
    support = interpolation_support(layer.image_interpolation)
    shape = tf.TensorShape([256, *window, 1])
    seeds = tf.stack([tf.range(256, dtype=tf.int64), tf.fill([256], tf.constant(7, tf.int64))], axis=1)
    reach = np.maximum(_reach(layer, window, layer.sample_params(shape, seeds)),
                       _reach(layer, window, _range_corners(layer, window)))
    spatial = np.asarray(window) > 1
    assert np.all(margin[~spatial] == 0)
    assert np.all(reach[spatial] <= margin[spatial] - support + 1e-4), (reach, margin)
    if tight:
        assert np.all(margin[spatial] - support <= np.ceil(np.maximum(reach[spatial], 0) + 1)), (reach, margin)
