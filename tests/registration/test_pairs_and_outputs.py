"""Pairs (voxflow.data.pairs), outputs on the fixed file grid through oblique affines
(voxflow.data.registration_outputs), and fields that ITK reads as the same transform."""

import numpy as np
import pytest

from voxflow.data.pairs import PairLoader, form_pairs, read_pairs_file, resample_onto, voxel_map
from voxflow.data.registration_outputs import field_on_file_grid, warp_file_data
from voxflow.data.subjects import Subject
from voxflow.errors import ConfigError
from voxflow.io.displacement import read_displacement, write_displacement


def _subjects(*ids):
    return [Subject(i, {}) for i in ids]


def test_pairings():
    fixed, moving = _subjects("a", "b", "c"), _subjects("a", "b", "c")
    assert [p.name for p in form_pairs(fixed, moving, "subject")] == ["a", "b", "c"]
    every = form_pairs(fixed, moving, "all", allowed=["a", "b", "c"])
    assert len(every) == 6 and all(p.fixed.id != p.moving.id for p in every)
    assert {p.name for p in form_pairs(fixed, moving, "all", allowed=["a", "b"])} == {"a_to_b", "b_to_a"}
    atlas = form_pairs(_subjects("mni"), moving, "atlas", allowed=["b", "c"])
    assert [(p.fixed.id, p.moving.id) for p in atlas] == [("mni", "b"), ("mni", "c")]
    with pytest.raises(ConfigError, match="exactly one subject"):
        form_pairs(fixed, moving, "atlas")


def test_pairs_file(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("fixed,moving\na,b\nc,a\n", encoding="utf-8")
    assert read_pairs_file(str(path)) == [("a", "b"), ("c", "a")]
    pairs = form_pairs(_subjects("a", "b", "c"), _subjects("a", "b", "c"), "csv", allowed=["b"], pairs_file=str(path))
    assert [p.name for p in pairs] == ["b_to_a"]
    path.write_text("fixed,moving\na,zz\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="moving subject 'zz'"):
        form_pairs(_subjects("a"), _subjects("a"), "csv", pairs_file=str(path))
    path.write_text("source,target\na,b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="columns fixed,moving"):
        read_pairs_file(str(path))


def _oblique(angle_deg, spacing, origin):
    angle = np.deg2rad(angle_deg)
    rotation = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag(spacing)
    affine[:3, 3] = origin
    return affine


def _sample_linear(shape, affine, gradient, offset=0.0):
    index = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing="ij"), -1)
    world = index @ affine[:3, :3].T + affine[:3, 3]
    return (world @ gradient + offset).astype(np.float32), world


GRADIENT = np.array([0.3, -0.2, 0.5])


def test_outputs_land_on_the_fixed_file_grid_through_oblique_affines():
    """A moving image on another oblique grid, warped by a constant world shift, equals the image function at
    the fixed grid's points plus the shift: linear data are interpolated exactly."""
    fixed_affine = _oblique(20, (1.5, 1.0, 2.0), (-20, -15, -10))
    moving_affine = _oblique(-15, (1.0, 1.2, 1.0), (-30, -25, -28))
    moving, _ = _sample_linear((50, 40, 50), moving_affine, GRADIENT)
    shape = (16, 14, 10)
    shift = np.array([2.0, -1.0, 1.5])
    field = np.broadcast_to(shift, (*shape, 3)).astype(np.float32)
    warped = warp_file_data(moving[..., None], moving_affine, field, shape, fixed_affine, 1)[..., 0]
    _, world = _sample_linear(shape, fixed_affine, GRADIENT)
    assert np.abs(warped - (world + shift) @ GRADIENT).max() < 1e-3
    before = warp_file_data(moving[..., None], moving_affine, None, shape, fixed_affine, 1)[..., 0]
    assert np.abs(before - world @ GRADIENT).max() < 1e-3


def test_a_field_in_preprocessed_voxels_becomes_world_mm_on_the_file_grid():
    file_affine = _oblique(25, (1.0, 1.0, 1.0), (0, 0, 0))
    preprocessed = np.diag([2.0, 2.0, 2.0, 1.0])
    preprocessed[:3, 3] = (-10, -10, -10)
    displacement = np.zeros((20, 20, 20, 3), np.float32)
    displacement[..., 1] = 1.5  # 1.5 voxels of 2 mm along the second preprocessed axis (world y)
    world = field_on_file_grid(displacement, preprocessed, (8, 8, 8), file_affine)
    assert world.shape == (8, 8, 8, 3) and np.allclose(world, [0.0, 3.0, 0.0], atol=1e-5)


def test_moving_volumes_are_resampled_onto_the_fixed_grid_by_world_coordinates():
    fixed_affine = _oblique(10, (2.0, 2.0, 2.0), (-16, -16, -16))
    moving_affine = _oblique(-30, (1.0, 1.0, 1.0), (-60, -60, -60))
    moving, _ = _sample_linear((120, 120, 120), moving_affine, GRADIENT, 5.0)
    matrix = voxel_map(fixed_affine, moving_affine)
    out = resample_onto(moving[..., None], matrix, (16, 16, 16), 1)[..., 0]
    _, world = _sample_linear((16, 16, 16), fixed_affine, GRADIENT)
    index = np.stack(np.meshgrid(*[np.arange(16.0)] * 3, indexing="ij"), -1) @ matrix[:3, :3].T + matrix[:3, 3]
    inside = np.all((index >= 0) & (index <= 119), axis=-1)
    assert inside.mean() > 0.9
    assert np.abs(out - (world @ GRADIENT + 5.0))[inside].max() < 1e-3


def test_itk_reads_the_written_field_as_the_same_transform(tmp_path):
    sitk = pytest.importorskip("SimpleITK")
    affine = _oblique(15, (2.0, 1.5, 1.0), (-10, 5, -20))
    rng = np.random.default_rng(0)
    field = rng.normal(0, 2.0, (6, 7, 5, 3)).astype(np.float32)
    path = str(tmp_path / "field.nii.gz")
    write_displacement(path, field, affine)
    back, back_affine = read_displacement(path)
    assert np.array_equal(back, field) and np.allclose(back_affine, affine)
    image = sitk.ReadImage(path)
    assert image.GetNumberOfComponentsPerPixel() == 3
    transform = sitk.DisplacementFieldTransform(sitk.Cast(image, sitk.sitkVectorFloat64))
    lps = np.diag([-1.0, -1.0, 1.0])
    for index in [(0, 0, 0), (3, 4, 2), (5, 6, 4)]:
        world = affine[:3, :3] @ np.array(index, float) + affine[:3, 3]
        point = image.TransformIndexToPhysicalPoint(index)
        assert np.allclose(point, lps @ world, atol=1e-4)  # ITK's physical points are LPS
        moved = np.array(transform.TransformPoint(point))
        assert np.allclose(lps @ moved, world + field[index], atol=1e-3)  # fixed point -> moving point


def test_pair_loader_skips_resampling_on_one_grid_and_resamples_otherwise():
    class Side:
        def __init__(self, arrays, affine, shape):
            self.arrays = arrays
            self.geometry = type("G", (), {"preprocessed_affine": affine, "preprocessed_shape": shape})()

    class Pre:
        def __init__(self, side):
            self.side_ = side

        def load(self, subject):
            return self.side_

    from voxflow.data.pairs import Pair
    from voxflow.roles import Kind

    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    labels = np.zeros((8, 8, 8, 1), np.float32)
    labels[2:5] = 3
    fixed = Side({"fixed_image": np.ones((8, 8, 8, 1), np.float32)}, affine, (8, 8, 8))
    moving = Side({"moving_image": np.full((8, 8, 8, 1), 2.0, np.float32), "moving_label": labels}, affine, (8, 8, 8))
    kinds = {"fixed_image": Kind.INTENSITY, "moving_image": Kind.INTENSITY, "moving_label": Kind.LABEL}
    loader = PairLoader(Pre(fixed), Pre(moving), kinds, ("moving_image", "moving_label"))
    arrays, _, _ = loader.load(Pair(Subject("f"), Subject("m"), "m_to_f"))
    assert arrays["moving_label"] is labels  # one grid: nothing resampled
    shifted = affine.copy()
    shifted[0, 3] = 2.0  # the moving grid starts one voxel further along x
    moving.geometry.preprocessed_affine = shifted
    arrays, _, _ = PairLoader(Pre(fixed), Pre(moving), kinds, ("moving_image", "moving_label")).load(
        Pair(Subject("f"), Subject("m2"), "m2_to_f"))
    assert set(np.unique(arrays["moving_label"])) <= {0.0, 3.0}  # labels by nearest neighbour
    assert np.array_equal(arrays["moving_label"][3:6, ..., 0], labels[2:5, ..., 0])
