"""Orientation, resampling and padding: forward then inverse gives back the input grid."""

import numpy as np
import pytest
from pre_helpers import blob_labels, make_cfg, oblique_affine, save, subject
from scipy import ndimage

from voxflow.data.preprocessing import Preprocessor
from voxflow.data.preprocessing.geometry import plan_geometry
from voxflow.data.preprocessing.orientation import (
    invert_orientation,
    orientation_transform,
    reorient_array,
)
from voxflow.data.preprocessing.padding import crop_array, pad_array, padding_widths
from voxflow.data.preprocessing.resampling import resample_array
from voxflow.io import read_image


def _world(affine, index):
    return (affine @ np.append(np.asarray(index, dtype=np.float64), 1.0))[:3]


def test_reorientation_is_exact_and_invertible():
    affine = oblique_affine()
    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6, 1)
    ornt = orientation_transform(affine, ("R", "A", "S"))
    there = reorient_array(data, ornt)
    back = reorient_array(there, invert_orientation(ornt))
    np.testing.assert_array_equal(back, data)


def test_plan_keeps_world_positions_and_first_voxel_centre():
    affine = oblique_affine(spacing=(0.9, 1.3, 2.2))
    geometry = plan_geometry((20, 16, 10), affine, axcodes="RAS", pixdim=(2.0, 2.0, 2.0),
                             padding_size=(3, 3, 3), min_shape=(32, 1, 1))
    spacing = np.linalg.norm(geometry.preprocessed_affine[:3, :3], axis=0)
    np.testing.assert_allclose(spacing, [2.0, 2.0, 2.0], atol=1e-9)
    assert geometry.preprocessed_shape[0] >= 32
    # The first voxel of the resampled grid sits on the corner voxel of the oriented grid.
    widths = geometry.pad_widths
    first = [b for b, _ in widths]
    corner = _world(geometry.preprocessed_affine, first)
    originals = [_world(affine, [i, j, k]) for i in (0, 19) for j in (0, 15) for k in (0, 9)]
    assert min(np.linalg.norm(corner - o) for o in originals) < 1e-9


def test_resampled_shape_is_rounded_extent():
    affine = np.diag([0.8, 1.5, 3.0, 1.0])
    geometry = plan_geometry((25, 10, 7), affine, pixdim=(2.0,))
    assert geometry.resampled_shape == (10, 8, 10)  # 20/2, 15/2 -> 7.5 -> 8, 21/2 -> 10.5 -> 10


def test_padding_widths_and_crop_round_trip():
    widths = padding_widths((5, 9, 1), (2, 2, 0), (12, 8, 1))
    assert widths == ((3, 4), (2, 2), (0, 0))
    data = np.random.default_rng(0).normal(size=(5, 9, 1, 2))
    padded = pad_array(data, widths, "minimum")
    assert padded.shape == (12, 13, 1, 2)
    np.testing.assert_array_equal(crop_array(padded, widths), data)


@pytest.mark.parametrize("pixdim", [(), None])
def test_label_round_trip_is_exact_without_resampling(tmp_path, pixdim):
    affine = oblique_affine(spacing=(0.9, 1.3, 2.2))
    labels = blob_labels((14, 12, 9))
    path = save(tmp_path, "lab.nii.gz", labels, affine)
    cfg = make_cfg(tmp_path, {"T1": dict(axcodes=("R", "A", "S"), pixdim=pixdim or ())},
                   network=dict(volume_padding_size=(4, 2, 3)))
    pre = Preprocessor(cfg, roles={"label": ("T1",)}, min_shape=(30, 1, 20))
    vol = pre.load(subject("s1", T1=path))
    out = vol.arrays["label"]
    assert out.dtype == np.float32 and out.ndim == 4
    assert out.shape[0] >= 30 and out.shape[2] >= 20
    back = pre.invert(out, vol.geometry, interp_order=0)
    assert back.shape == (14, 12, 9, 1)
    np.testing.assert_array_equal(back[..., 0], labels)
    np.testing.assert_allclose(vol.geometry.affine, read_image(path).affine)


def test_label_round_trip_with_resampling_has_high_dice(tmp_path):
    affine = oblique_affine(spacing=(0.9, 1.3, 2.2))
    labels = blob_labels((40, 30, 16))
    path = save(tmp_path, "lab.nii.gz", labels, affine)
    cfg = make_cfg(tmp_path, {"label": dict(axcodes=("R", "A", "S"), pixdim=(2.0, 2.0, 2.0))},
                   network=dict(volume_padding_size=(2, 2, 2)))
    pre = Preprocessor(cfg, roles={"label": ("label",)})
    vol = pre.load(subject("s1", label=path))
    np.testing.assert_allclose(vol.geometry.preprocessed_spacing, (2.0, 2.0, 2.0), atol=1e-9)
    assert set(np.unique(vol.arrays["label"])) == {0.0, 1.0, 2.0}
    back = pre.invert(vol.arrays["label"][..., 0], vol.geometry, interp_order=0)
    assert back.shape == labels.shape
    for value in (1, 2):
        ref, seg = labels == value, back == value
        dice = 2 * np.sum(ref & seg) / (ref.sum() + seg.sum())
        assert dice > 0.85, (value, dice)


def test_image_round_trip_linear_is_close(tmp_path):
    affine = np.diag([-1.0, -1.0, 1.0, 1.0])
    x = np.linspace(0, 1, 24)
    image = (x[:, None, None] + 2 * x[None, :18, None] + 0 * x[None, None, :10]).astype(np.float32)
    path = save(tmp_path, "img.nii.gz", image, affine)
    cfg = make_cfg(tmp_path, {"T1": dict(axcodes=("R", "A", "S"), pixdim=(0.5, 0.5, 1.0))})
    pre = Preprocessor(cfg, roles={"image": ("T1",)})
    vol = pre.load(subject("s", T1=path))
    assert vol.arrays["image"].shape == (48, 36, 10, 1)
    back = pre.invert(vol.arrays["image"], vol.geometry, interp_order=1)
    np.testing.assert_allclose(back[..., 0], image, atol=1e-5)


def test_resampling_to_a_new_spacing_warns_nothing():
    """Every pixdim resample used to print SciPy's 'behaviour of affine_transform with a 1-D array has
    changed' UserWarning on the user's console (net_segment train printed it once per run)."""
    import warnings

    from voxflow.data.preprocessing.resampling import resample_array

    data = np.arange(6 * 6 * 6, dtype=np.float32).reshape(6, 6, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resample_array(data, (2.0, 2.0, 2.0), (3, 3, 3), 1).shape == (3, 3, 3)
        assert resample_array(data[..., None], (0.5, 0.5, 0.5), (12, 12, 12), 0).shape == (12, 12, 12, 1)


def test_world_grid_gives_a_cropped_image_the_same_resampled_voxels():
    """pixdim_grid = world: a 1 mm image and the same image cropped by one voxel are resampled to 2 mm
    on one lattice (first_voxel moves the 2 mm grid by half a voxel: every value changes)."""
    from voxflow.data.preprocessing.geometry import from_grid, to_grid

    rng = np.random.default_rng(0)
    data = rng.normal(size=(21, 18, 16, 1)).astype(np.float32)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = [-10.3, 7.0, 3.5]
    cropped_affine = affine.copy()
    cropped_affine[:3, 3] += 1.0
    results = {}
    for grid in ("first_voxel", "world"):
        full = plan_geometry(data.shape[:3], affine, pixdim=(2.0, 2.0, 2.0), grid=grid)
        crop = plan_geometry((20, 17, 15), cropped_affine, pixdim=(2.0, 2.0, 2.0), grid=grid)
        a, b = to_grid(data, full, 1), to_grid(data[1:, 1:, 1:], crop, 1)
        # voxel of b that sits where voxel 0 of a... compare on the lattice points both grids hold
        shift = np.linalg.solve(full.preprocessed_affine[:3, :3],
                                crop.preprocessed_affine[:3, 3] - full.preprocessed_affine[:3, 3])
        results[grid] = (shift, a, b)
        if grid == "world":
            world = full.preprocessed_affine[:3, :3] @ np.zeros(3) + full.preprocessed_affine[:3, 3]
            assert np.allclose(np.mod(world + 1e-9, 2.0), 0.0, atol=1e-6)  # voxels on multiples of 2 mm
            assert np.all(full.start <= 0) and np.all(full.start > -2)
            # the inverse puts the data back on the original grid (linear data survive two linear resamplings)
            ramp = np.indices(data.shape[:3]).sum(axis=0).astype(np.float32)[..., None]
            back = from_grid(to_grid(ramp, full, 1), full, 1)
            assert back.shape == ramp.shape
            assert np.allclose(back[2:-2, 2:-2, 2:-2], ramp[2:-2, 2:-2, 2:-2], atol=1e-4)
    shift, a, b = results["world"]
    assert np.allclose(shift, np.round(shift))  # the same lattice
    k = np.round(shift).astype(int)
    overlap = tuple(slice(max(0, int(v)), None) for v in k)
    sub_a = a[overlap][: b.shape[0], : b.shape[1], : b.shape[2]]
    inner = (slice(1, -1),) * 3
    assert np.allclose(sub_a[inner], b[: sub_a.shape[0], : sub_a.shape[1], : sub_a.shape[2]][inner], atol=1e-5)
    first_shift = results["first_voxel"][0]
    assert not np.allclose(first_shift, np.round(first_shift))  # half a voxel apart


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_resampling_equals_scipys_trilinear_interpolation(dtype):
    """Order 1 on floating-point data takes the separable path; every value equals SciPy's
    ``affine_transform(order=1, mode="nearest")``, coordinates past the border included, channels alike."""
    rng = np.random.default_rng(3)
    data = rng.random((21, 17, 9, 3)).astype(dtype)
    step, start, shape = (0.5, 1.3, 2.0), (-0.75, 0.4, 1.5), (44, 14, 6)
    ours = resample_array(data, step, shape, 1, start)
    assert ours.dtype == dtype and ours.shape == shape + (3,) and ours.flags.c_contiguous
    for channel in range(3):
        theirs = ndimage.affine_transform(data[..., channel].astype(np.float64), np.diag(step), offset=start,
                                          output_shape=shape, order=1, mode="nearest")
        np.testing.assert_allclose(ours[..., channel], theirs, rtol=0, atol=1e-6)
    assert not np.shares_memory(resample_array(data, (1, 1, 1), data.shape[:3], 1, (0.5, 0, 0)), data)
