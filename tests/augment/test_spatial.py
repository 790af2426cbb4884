"""Spatial layers: geometry, labels, inverses, identities, 2-D windows, margins."""

import numpy as np
import pytest
import tensorflow as tf
from augment_data import sphere_batch

from voxflow.augment.affine import RandomAffine
from voxflow.augment.elastic import RandomElasticDeformation
from voxflow.augment.flip import RandomFlip
from voxflow.augment.pipeline import Augmentation, center_crop
from voxflow.augment.swap import RandomSwap

SPATIAL = [RandomFlip(), RandomAffine(degrees=20, translation=3), RandomElasticDeformation(max_displacement=4),
           RandomSwap(patch_size=5, num_iterations=20)]


def dice(a, b):
    return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


@pytest.mark.parametrize("layer", SPATIAL, ids=lambda layer: type(layer).__name__)
def test_shape_dtype_and_label_values_kept(layer, batch):
    out = layer(batch)
    for key in ("image", "label", "weight"):
        assert out[key].shape == batch[key].shape and out[key].dtype.name == "float32"
    labels = np.asarray(out["label"])
    assert np.array_equal(labels, np.rint(labels))
    assert set(np.unique(labels)) <= {0.0, 1.0, 2.0}
    assert layer.last_params["apply"].shape == (2,)


def test_flip_twice_is_identity(batch):
    layer = RandomFlip(flip_probability=1.0)
    params = layer.sample(batch)
    once = layer.apply(batch, params)
    assert not np.array_equal(np.asarray(once["image"]), batch["image"])
    twice = layer.invert(once, params)
    assert np.array_equal(np.asarray(twice["image"]), batch["image"])


def test_affine_then_recorded_inverse_keeps_label(batch):
    layer = RandomAffine(degrees=15, scales=0.1, translation=2)
    params = layer.sample(batch)
    back = layer.invert(layer.apply(batch, params), params)
    for k in (1, 2):
        assert dice(np.asarray(back["label"]) >= k, batch["label"] >= k) >= 0.95


def test_zero_affine_and_zero_elastic_are_identity(batch):
    for layer in (RandomAffine(degrees=0, scales=0), RandomElasticDeformation(max_displacement=0)):
        out = layer(batch)
        assert np.array_equal(np.asarray(out["image"]), batch["image"])
        assert np.array_equal(np.asarray(out["label"]), batch["label"])


def test_elastic_inverse_is_close(batch):
    layer = RandomElasticDeformation(max_displacement=2, num_control_points=5, locked_borders=1)
    params = layer.sample(batch)
    back = layer.invert(layer.apply(batch, params), params)
    assert dice(np.asarray(back["label"]) >= 1, batch["label"] >= 1) >= 0.9


def test_elastic_control_points_per_axis_as_torchio():
    layer = RandomElasticDeformation(num_control_points=(4, 5, 6), max_displacement=(1, 2, 3), locked_borders=1)
    batch = sphere_batch(size=14)
    params = layer.sample(batch)
    control = np.asarray(params["control"])
    assert control.shape == (2, 4, 5, 6, 3)
    interior = control[:, 1:-1, 1:-1, 1:-1]
    assert np.all(control[:, 0] == 0) and np.all(control[:, :, -1] == 0) and np.any(interior != 0)
    assert np.all(np.abs(interior) <= np.array([1.0, 2.0, 3.0]) + 1e-6)  # mm bound per axis, 1 mm voxels
    assert layer.apply(batch, params)["image"].shape == batch["image"].shape
    for bad in ((4, 5), (3, 5, 6), 4.5):
        with pytest.raises(ValueError, match="num_control_points"):
            RandomElasticDeformation(num_control_points=bad)


def test_nearest_image_interpolation_only_copies_voxels(batch):
    image = np.random.default_rng(6).random(batch["image"].shape).astype(np.float32)
    for layer in (RandomAffine(degrees=25, scales=0.2, image_interpolation="nearest"),
                  RandomElasticDeformation(max_displacement=3, image_interpolation="nearest")):
        out = np.asarray(layer(dict(batch, image=image))["image"])
        assert np.isin(out, image).all() and not np.array_equal(out, image)


def test_two_dimensional_windows_stay_in_plane():
    batch = sphere_batch(size=16)
    flat = {key: value[:, :, :, 7:8] if value.ndim == 5 else value for key, value in batch.items()}
    for layer in SPATIAL:
        out = layer(flat)
        assert out["image"].shape == (2, 16, 16, 1, 1)
    assert RandomAffine(degrees=30).margin((32, 32, 1))[2] == 0


def test_margin_covers_the_warp_and_crop_restores_window():
    window = (16, 16, 16)
    aug = Augmentation([("RandomAffine", {"degrees": 30, "scales": 0.2}), ("random_elastic_deformation", {})])
    margin = aug.margin(window)
    assert all(m > 0 for m in margin)
    big = sphere_batch(size=16 + 2 * margin[0])
    big["location"] = np.zeros((2, 4), np.int32)
    out = aug(big, margin=margin)
    assert out["image"].shape == (2, *window, 1)
    assert np.array_equal(np.asarray(out["location"])[0], [0, *margin])
    assert center_crop(big, (0, 0, 0)) is big


def _swap_reference(volume, corners, apply, patch):
    """Straightforward sequential swaps, as TorchIO's ``_swap``: read both patches, write the first into
    the second place, then the second into the first (where the places overlap, the second patch wins)."""
    out = volume.copy()
    px, py, pz = patch
    for b in range(out.shape[0]):
        if not apply[b]:
            continue
        for (x0, y0, z0), (x1, y1, z1) in corners[b]:
            one = out[b, x0:x0 + px, y0:y0 + py, z0:z0 + pz].copy()
            two = out[b, x1:x1 + px, y1:y1 + py, z1:z1 + pz].copy()
            out[b, x1:x1 + px, y1:y1 + py, z1:z1 + pz] = one
            out[b, x0:x0 + px, y0:y0 + py, z0:z0 + pz] = two
    return out


def test_swap_equals_sequential_reference():
    batch = sphere_batch(size=12, batch=4)
    batch["image"] = np.random.default_rng(3).random(batch["image"].shape).astype(np.float32)  # every voxel unique
    layer = RandomSwap(patch_size=(5, 3, 4), num_iterations=40, p=0.5)
    params = layer.sample(batch)
    corners, apply = np.asarray(params["corners"]), np.asarray(params["apply"])
    assert 0 < apply.sum() < 4  # both kinds of sample
    overlap = np.all(np.abs(corners[:, :, 0] - corners[:, :, 1]) < [5, 3, 4], axis=-1)
    assert overlap[apply].any()  # pairs whose two patches overlap are covered
    out = layer.apply(batch, params)
    for key in ("image", "label"):
        assert np.array_equal(np.asarray(out[key]), _swap_reference(batch[key], corners, apply, (5, 3, 4)))


def test_warps_equal_scipy_trilinear_and_nearest():
    from scipy import ndimage

    from voxflow.augment.warp import affine_warp, field_warp

    rng = np.random.default_rng(5)
    volume = rng.random((2, 11, 9, 7, 2)).astype(np.float32)
    matrix = (np.eye(3, 4) + rng.normal(0, 0.15, (2, 3, 4)) * [1, 1, 1, 10]).astype(np.float32)
    displacement = rng.normal(0, 2, (2, 11, 9, 7, 3)).astype(np.float32)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in (11, 9, 7)], indexing="ij"))
    for order in (0, 1):
        by_matrix = np.asarray(affine_warp(volume, matrix, order))
        by_field = np.asarray(field_warp(volume, displacement, order))
        for b in range(2):
            for c in range(2):
                # points outside are clamped to the edge voxel: scipy's "nearest" mode
                expected = ndimage.affine_transform(volume[b, ..., c], matrix[b, :, :3], matrix[b, :, 3], order=order,
                                                    mode="nearest")
                assert np.abs(by_matrix[b, ..., c] - expected).max() < 1e-5
                coords = grid + np.moveaxis(displacement[b], -1, 0)
                expected = ndimage.map_coordinates(volume[b, ..., c], coords, order=order, mode="nearest")
                if order == 0:  # a point halfway between voxels may round either way: compare where it cannot
                    clear = np.all(np.abs(coords - np.round(coords)) < 0.49, axis=0)
                    assert np.array_equal(by_field[b, ..., c][clear], expected[clear])
                else:
                    assert np.abs(by_field[b, ..., c] - expected).max() < 1e-5


def test_flip_equals_numpy_per_sample():
    batch = sphere_batch(size=10, batch=4)
    batch["image"] = np.random.default_rng(4).random((4, 10, 9, 8, 2)).astype(np.float32)
    layer = RandomFlip(flip_probability=0.5)
    params = layer.sample(batch)
    flips = np.asarray(params["flips"]) & np.asarray(params["apply"])[:, None]
    assert 0 < flips.sum() < flips.size
    out = np.asarray(layer.apply(batch, params)["image"])
    for b in range(4):
        axes = tuple(a for a in range(3) if flips[b, a])
        assert np.array_equal(out[b], np.flip(batch["image"][b], axis=axes) if axes else batch["image"][b])


def test_flip_kernel_reverses_every_combination_of_axes():
    from voxflow.augment.flip import _flip

    combos = np.array([[(c >> a) & 1 for a in range(3)] for c in range(8)], bool)  # one sample each
    image = np.random.default_rng(5).random((8, 7, 6, 5, 2)).astype(np.float32)
    out = np.asarray(_flip(tf.constant(image), tf.constant(combos)))
    for b, flips in enumerate(combos):
        axes = tuple(a for a in range(3) if flips[a])
        assert np.array_equal(out[b], np.flip(image[b], axis=axes) if axes else image[b])


def test_cubic_interpolation_is_exact_for_quadratics_and_keeps_voxels():
    from voxflow.augment.warp import affine_warp

    grid = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in (16, 15, 14)], indexing="ij"), -1)

    def quadratic(p):
        x, y, z = p[..., 0], p[..., 1], p[..., 2]
        return 0.3 * x * x - 0.2 * x * y + 0.15 * z * z + 0.5 * y - 2.0 * z + 7.0

    volume = quadratic(grid)[None, ..., None].astype(np.float32)
    rotation = np.array([[0.98, -0.17, 0.05], [0.17, 0.98, -0.02], [-0.05, 0.03, 0.99]])
    matrix = np.concatenate([rotation, [[0.6], [-0.4], [0.3]]], axis=1)[None].astype(np.float32)
    points = grid @ rotation.T + matrix[0, :, 3]
    inside = np.all((points >= 1) & (points <= np.array([16, 15, 14]) - 3), axis=-1)  # all 4 taps in the window
    assert inside.sum() > 500
    expected = quadratic(points)[inside]
    cubic = np.asarray(affine_warp(volume, matrix, 3))[0, ..., 0][inside]
    linear = np.asarray(affine_warp(volume, matrix, 1))[0, ..., 0][inside]
    assert np.abs(cubic - expected).max() < 2e-4 * np.abs(expected).max()
    assert np.abs(linear - expected).max() > 100 * np.abs(cubic - expected).max()  # linear is not exact
    identity = np.eye(3, 4, dtype=np.float32)[None]
    assert np.allclose(np.asarray(affine_warp(volume, identity, 3)), volume, rtol=0, atol=1e-5)
    layer = RandomAffine(degrees=10, image_interpolation="cubic")
    out = layer(sphere_batch())
    assert set(np.unique(np.asarray(out["label"]))) <= {0.0, 1.0, 2.0}
    assert layer.margin((32, 32, 32))[0] == RandomAffine(degrees=10).margin((32, 32, 32))[0] + 1


def _numpy_warp(volume, points, order):
    """Trilinear (order 1) or Keys cubic (order 3) sampling of ``volume`` ``(X, Y, Z)`` in float64 at
    ``points`` ``(..., 3)``, clamped to the volume; cubic taps beyond the edge repeat it."""
    dims = np.array(volume.shape)
    points = np.clip(points, 0, dims - 1)
    low = np.floor(points).astype(int)
    frac = points - low
    if order == 1:
        offsets, weights = (0, 1), [[1 - f, f] for f in np.moveaxis(frac, -1, 0)]
    else:
        near = lambda s: (1.5 * s - 2.5) * s * s + 1.0  # noqa: E731
        far = lambda s: ((-0.5 * s + 2.5) * s - 4.0) * s + 2.0  # noqa: E731
        offsets, weights = (-1, 0, 1, 2), [[far(1 + f), near(f), near(1 - f), far(2 - f)] for f in np.moveaxis(frac, -1, 0)]
    total = 0.0
    for kx, ox in enumerate(offsets):
        for ky, oy in enumerate(offsets):
            for kz, oz in enumerate(offsets):
                index = [np.clip(low[..., a] + o, 0, dims[a] - 1) for a, o in enumerate((ox, oy, oz))]
                total = total + weights[0][kx] * weights[1][ky] * weights[2][kz] * volume[tuple(index)]
    return total


# the last shape has sizes that are multiples of 8: its trilinear warp is computed cube by cube
@pytest.mark.parametrize("shape", [(3, 10, 12, 8, 3), (2, 13, 1, 9, 2), (2, 16, 8, 24, 2)])
def test_affine_warp_equals_numpy_reference(shape):
    from voxflow.augment.warp import affine_warp

    rng = np.random.default_rng(11)
    volume = rng.normal(size=shape).astype(np.float32)
    matrix = np.eye(3, 4) + rng.normal(0, 0.2, (shape[0], 3, 4)) * [1, 1, 1, 6]  # many points fall outside
    matrix[0] = np.eye(3, 4) + [[0, 0, 0, 2], [0, 0, 0, -1], [0, 0, 0, 1]]  # integer shifts: exact voxels and edges
    if shape[2] == 1:  # in-plane: the flat axis maps onto itself
        matrix[:, 1] = [0, 1, 0, 0]
        matrix[:, :, 1] = [0, 1, 0]
    matrix = matrix.astype(np.float32)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape[1:4]], indexing="ij"), -1).astype(np.float64)
    outside = 0
    for order in (1, 3):
        warped = np.asarray(affine_warp(volume, matrix, order))
        for b in range(shape[0]):
            points = grid @ matrix[b, :, :3].T.astype(np.float64) + matrix[b, :, 3]
            outside += np.sum(np.any((points < 0) | (points > np.array(shape[1:4]) - 1), axis=-1))
            for c in range(shape[-1]):
                expected = _numpy_warp(volume[b, ..., c].astype(np.float64), points, order)
                assert np.abs(warped[b, ..., c] - expected).max() < 1e-5
    assert outside > 0
    subtracted = np.asarray(affine_warp(volume, matrix, 1, subtract=True))
    assert np.abs(subtracted - (np.asarray(affine_warp(volume, matrix, 1)) - volume)).max() < 1e-6


def test_large_volume_warps_equal_numpy_reference_at_every_voxel():
    # An earlier cubic warp was miscompiled by XLA only at large sizes: 2-5 voxels of a 128³ volume
    # off by 0.7-1.8 under such matrices (none at 33³), so every voxel is compared.
    from voxflow.augment.warp import affine_warp

    rng = np.random.default_rng(11)
    shape = (1, 128, 128, 128, 1)
    volume = rng.normal(size=shape).astype(np.float32)
    matrix = (np.eye(3, 4) + rng.normal(0, 0.2, (1, 3, 4)) * [1, 1, 1, 6]).astype(np.float32)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape[1:4]], indexing="ij"), -1).astype(np.float64)
    points = grid @ matrix[0, :, :3].T.astype(np.float64) + matrix[0, :, 3]
    for order in (1, 3):
        warped = np.asarray(affine_warp(volume, matrix, order))[0, ..., 0]
        expected = _numpy_warp(volume[0, ..., 0].astype(np.float64), points, order)
        # float32 coordinates near 128 carry ~1e-5 voxel of rounding (errors up to ~8e-5 here)
        assert np.abs(warped - expected).max() < 2e-4


def test_warps_in_cubes_sample_the_same_points_as_warps_in_rows():
    """Windows whose sizes are multiples of 8 are warped 8³ cube by cube and put back in row order:
    nearest and trilinear give the row-order loop's voxels, with a batch, channels and ``subtract``."""
    from voxflow.layers import warp

    shape = (2, 16, 24, 8, 2)
    assert warp._blockable(tf.TensorShape(shape), 1) and warp._blockable(tf.TensorShape(shape), 0)
    assert not warp._blockable(tf.TensorShape(shape), 3)  # cubic stays in row order
    assert not warp._blockable(tf.TensorShape((2, 16, 20, 8, 2)), 1)
    assert not warp._blockable(tf.TensorShape((None, 16, None, 8, 2)), 1)
    rng = np.random.default_rng(5)
    volume = rng.normal(size=shape).astype(np.float32)
    matrix = (np.eye(3, 4) + rng.normal(0, 0.2, (2, 3, 4)) * [1, 1, 1, 6]).astype(np.float32)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape[1:4]], indexing="ij"), -1).astype(np.float64)
    cubes = np.asarray(warp.affine_warp(volume, matrix, 1))
    assert np.abs(cubes - np.asarray(warp._affine(tf.constant(volume), tf.constant(matrix), 1))).max() < 1e-5
    nearest = np.asarray(warp.affine_warp(volume, matrix, 0))
    for b in range(2):
        points = np.clip(grid @ matrix[b, :, :3].T.astype(np.float64) + matrix[b, :, 3], 0, np.array(shape[1:4]) - 1)
        clear = np.all(np.abs(points - np.floor(points) - 0.5) > 1e-4, axis=-1)  # not on a voxel boundary
        assert clear.mean() > 0.99
        index = tuple(np.moveaxis(np.rint(points).astype(int), -1, 0))
        for c in range(2):
            assert np.array_equal(nearest[b, ..., c][clear], volume[b, ..., c][index][clear])
    for order, warped in ((0, nearest), (1, cubes)):  # the window is subtracted in cube order too
        assert np.abs(np.asarray(warp.affine_warp(volume, matrix, order, subtract=True)) - (warped - volume)).max() < 1e-6
