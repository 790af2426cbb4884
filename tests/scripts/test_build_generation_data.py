"""scripts/build_generation_data.py on small synthetic arrays (no download): planes, poses, grids, scaling."""

from __future__ import annotations

import csv
import json

import nibabel as nib
import numpy as np
import pytest
from script_loader import load_script

builder = load_script("build_generation_data")


def _ellipsoid(affine: np.ndarray, shape: tuple[int, ...], radii: tuple[float, ...]) -> np.ndarray:
    """``1`` inside an ellipsoid around the brain centre (world mm), smooth texture, else 0."""
    world = builder.grid_points(shape, affine) - builder.BRAIN_CENTRE_MM
    inside = ((world / np.asarray(radii)) ** 2).sum(-1) <= 1.0
    texture = 0.6 + 0.3 * np.sin(world[..., 0] / 7.0) * np.cos(world[..., 1] / 9.0)
    return np.where(inside, texture, 0.0).astype(np.float32)


# ----------------------------------------------------------------------------- geometry
def test_an_axial_plane_without_rotation_reproduces_an_axial_slice():
    volume = np.random.default_rng(0).normal(size=(20, 22, 18)).astype(np.float32)
    affine = np.diag([1.5, 1.5, 1.5, 1.0])
    affine[:3, 3] = [-10.0, 4.0, 7.0]
    size, spacing, corner, level = 6, 3.0, np.array([2, 3]), 9
    middle = corner + (size - 1) / 2.0 * (spacing / 1.5)  # voxel index of the plane's middle
    centre = affine[:3, :3] @ [*middle, level] + affine[:3, 3]
    points = builder.plane_points(centre, np.eye(3), size=size, spacing=spacing)
    expected = volume[corner[0]:corner[0] + 2 * size:2, corner[1]:corner[1] + 2 * size:2, level]
    assert np.allclose(builder.reslice(volume, affine, points), expected, atol=1e-5)


def test_reslice_follows_a_flipped_affine():
    volume = np.random.default_rng(1).normal(size=(9, 8, 7)).astype(np.float32)
    affine = np.array([[-2.0, 0, 0, 30.0], [0, 2.0, 0, -5.0], [0, 0, 2.0, 1.0], [0, 0, 0, 1.0]])  # LAS, as FSL
    points = builder.grid_points(volume.shape, affine)
    assert np.allclose(builder.reslice(volume, affine, points), volume, atol=1e-5)
    assert builder.reslice(volume, affine, np.array([[500.0, 0.0, 0.0]]))[0] == 0.0  # outside: 0


def test_the_coordinate_maps_are_the_world_positions_of_the_pixels():
    pose = builder.Pose(pitch=12.0, roll=-20.0, yaw=25.0, offset=(5.0, -3.0, 10.0))
    points = pose.points()
    rotation = builder.rotation_matrix(12.0, -20.0, 25.0)
    assert points.shape == (64, 64, 3)
    middle = points[31:33, 31:33].reshape(-1, 3).mean(0)
    assert np.allclose(middle, np.add(builder.BRAIN_CENTRE_MM, pose.offset))
    assert np.allclose(points[1, 0] - points[0, 0], 3.0 * rotation[:, 0])  # first pixel axis
    assert np.allclose(points[0, 1] - points[0, 0], 3.0 * rotation[:, 1])  # second pixel axis
    assert np.allclose((points - middle) @ rotation[:, 2], 0.0)  # a plane with the rotated normal


def test_an_unrotated_picture_affine_places_its_pixels_on_the_plane():
    centre = (1.0, -16.0, 22.5)
    grid = builder.grid_points((64, 64, 1), builder.picture_affine(centre))[:, :, 0]
    assert np.allclose(grid, builder.plane_points(centre, np.eye(3)))


def test_rotations_are_right_handed_about_the_ras_axes():
    assert np.allclose(builder.rotation_matrix(90, 0, 0) @ [0, 1, 0], [0, 0, 1])  # pitch: anterior → up
    assert np.allclose(builder.rotation_matrix(0, 90, 0) @ [0, 0, 1], [1, 0, 0])  # roll: up → right
    assert np.allclose(builder.rotation_matrix(0, 0, 90) @ [1, 0, 0], [0, 1, 0])  # yaw: right → anterior
    matrix = builder.rotation_matrix(17, -29, 8)
    assert np.allclose(matrix @ matrix.T, np.eye(3)) and np.isclose(np.linalg.det(matrix), 1.0)


# ----------------------------------------------------------------------------- poses
def test_held_out_pitch_bands_are_never_trained_on_and_always_tested():
    train = [builder.sample_pose(np.random.default_rng([7, i]), held_out=False) for i in range(3000)]
    test = [builder.sample_pose(np.random.default_rng([8, i]), held_out=True) for i in range(300)]
    train_pitch = np.array([p.pitch for p in train])
    assert not builder.in_held_out_band(train_pitch).any()
    assert builder.in_held_out_band(np.array([p.pitch for p in test])).all()
    assert {int(np.floor(p.pitch / 5)) for p in test} == {-5, 0, 4}  # all three bands are used
    others = np.array([[p.roll, p.yaw, *p.offset] for p in train + test])
    assert np.abs(others[:, :2]).max() <= 30.0 and np.abs(others[:, 2:]).max() <= 20.0
    assert np.abs(train_pitch).max() <= 30.0 and train_pitch.min() < -25 and train_pitch.max() > 25


def test_held_out_bands_are_half_open():
    assert builder.in_held_out_band(np.array([-25.0, 0.0, 20.0])).all()
    assert not builder.in_held_out_band(np.array([-20.0, 5.0, 25.0, -0.001, 19.99])).any()
    assert builder.in_held_out_band(2.5) is True


def test_poses_and_subjects_are_deterministic_for_a_seed():
    assert builder.sample_pose(np.random.default_rng(3), False) == builder.sample_pose(np.random.default_rng(3), False)
    assert builder.sample_pose(np.random.default_rng(3), False) != builder.sample_pose(np.random.default_rng(4), False)
    shape, affine = (16, 16, 16), np.diag([4.0, 4.0, 4.0, 1.0])
    a, b = (builder.random_subject(np.random.default_rng(5), shape, affine) for _ in range(2))
    assert np.array_equal(a.displacement, b.displacement) and np.array_equal(a.bias, b.bias) and a.gamma == b.gamma


# ----------------------------------------------------------------------------- grids and intensities
def test_the_vae_grid_is_a_centred_ras_grid_divisible_by_eight():
    shape, affine = builder.vae_grid()
    assert shape == (40, 48, 40) and all(n % 8 == 0 for n in shape)
    assert nib.aff2axcodes(affine) == ("R", "A", "S")
    assert np.allclose(np.abs(np.diag(affine)[:3]), 4.0)
    middle = affine[:3, :3] @ ((np.array(shape) - 1) / 2.0) + affine[:3, 3]
    assert np.allclose(middle, builder.BRAIN_CENTRE_MM)


def test_unit_scale_maps_the_percentile_to_one_and_the_background_to_zero():
    rng = np.random.default_rng(2)
    image = rng.uniform(0, 200, (10, 10, 10)).astype(np.float32)
    mask = np.zeros(image.shape, bool)
    mask[2:8, 2:8, 2:8] = True
    scaled, scale = builder.unit_scale(image, mask)
    assert np.isclose(scale, np.percentile(image[mask], 99.5))
    assert scaled.dtype == np.float32 and scaled.min() == 0.0 and scaled.max() == 1.0
    assert not scaled[~mask].any()
    assert 1 <= np.sum(scaled[mask] == 1.0) <= 0.01 * mask.sum()
    again, same = builder.unit_scale(image, mask, scale)
    assert same == scale and np.array_equal(again, scaled)
    with pytest.raises(ValueError, match="empty mask"):
        builder.unit_scale(image, np.zeros(image.shape, bool))


def test_antialias_smooths_only_when_the_grid_gets_coarser():
    volume = np.random.default_rng(4).normal(size=(12, 12, 12)).astype(np.float32)
    one_mm = np.eye(4)
    assert np.array_equal(builder.antialias(volume, one_mm, 1.0), volume)
    assert np.allclose(builder.antialias(volume, one_mm, 3.0),
                       builder.ndimage.gaussian_filter(volume, 1.0))  # σ = (3/1 − 1)/2


def test_an_identity_subject_samples_the_brain_itself():
    shape, affine = builder.vae_grid((8, 8, 8), 4.0)
    identity = builder.Subject(np.zeros((*shape, 3), np.float32), np.ones(shape, np.float32), 1.0, affine)
    brain_affine = np.diag([2.0, 2.0, 2.0, 1.0])
    brain_affine[:3, 3] = np.asarray(builder.BRAIN_CENTRE_MM) - 2.0 * 9.5
    image = _ellipsoid(brain_affine, (20, 20, 20), (14.0, 14.0, 14.0))
    brain = builder.Brain(image, (image > 0).astype(np.float32), brain_affine)
    points = builder.grid_points(shape, affine)
    sampled, inside = identity.sample(brain, points, reference=2.0)
    assert np.allclose(sampled, brain.sample(points)[0] / 2.0) and inside.any() and not inside.all()


def test_a_random_subject_is_a_smooth_bounded_diffeomorphism():
    shape, affine = builder.vae_grid((24, 24, 24), 4.0)
    subject = builder.random_subject(np.random.default_rng(6), shape, affine)
    length = np.linalg.norm(subject.displacement, axis=-1)
    assert 1.0 < length.max() < 3 * builder.MAX_VELOCITY_MM  # mm
    voxels = subject.displacement / 4.0
    jacobian = np.linalg.det(np.eye(3) + np.stack([np.stack(np.gradient(voxels[..., i]), -1) for i in range(3)], -2))
    assert jacobian.min() > 0
    assert 0.85 <= subject.bias.min() and subject.bias.max() <= 1.15 and 0.8 <= subject.gamma <= 1.25


# ----------------------------------------------------------------------------- build, end to end
@pytest.fixture()
def synthetic_sources(monkeypatch):
    """The build's package readers replaced by synthetic MNI-placed ellipsoids at 4 mm (no download)."""
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    affine[:3, 3] = [-98.0, -134.0, -72.0]
    shape = (50, 59, 48)
    brain = _ellipsoid(affine, shape, (70.0, 88.0, 70.0))
    wm = (_ellipsoid(affine, shape, (50.0, 66.0, 50.0)) > 0).astype(np.float32)
    gm = np.where((brain > 0) & (wm == 0), 0.9, 0.0).astype(np.float32)
    monkeypatch.setattr(builder.demo, "fetch_wheel", lambda wheel=None, cache_dir=None: cache_dir)
    monkeypatch.setattr(builder.demo, "read_template", lambda wheel: (255.0 * brain, gm, wm, affine))
    flipped = affine @ np.array([[-1.0, 0, 0, shape[0] - 1], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    monkeypatch.setattr(builder, "_read_test_brain",
                        lambda name, cache: (brain[::-1].copy(), brain[::-1] > 0, flipped))
    monkeypatch.setattr(builder, "TEST_SLICES_PER_BRAIN", 2)


def test_the_build_writes_the_three_data_sets(tmp_path, synthetic_sources, capsys):
    assert builder.main(["--out", str(tmp_path / "a"), "--cache", str(tmp_path), "--subjects", "2",
                         "--slices", "3", "--poses", "12"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"] == {"vae": {"train": 2, "test": 3}, "slices": {"train": 3, "test": 4},
                                 "simulator": {"train": 12, "test": 1}}
    out = tmp_path / "a"
    vae = nib.load(out / "vae" / "train" / "sub-001_T1.nii.gz")
    assert vae.shape == (40, 48, 40) and np.allclose(vae.affine, builder.vae_grid()[1])
    test = np.asarray(nib.load(out / "vae" / "test" / "fsl_mni152_T1.nii.gz").dataobj)
    assert test.dtype == np.float32 and test.min() == 0.0 and test.max() == 1.0
    picture = nib.load(out / "slices" / "test" / "colin27-001_img.nii.gz")
    assert picture.shape == (64, 64, 1) and np.isclose(picture.affine[2, 3], builder.SLICE_LEVELS_MM[1])
    rows = list(csv.DictReader(open(out / "simulator" / "poses.csv", encoding="utf-8")))
    assert len(rows) == 13 and all(builder.in_held_out_band(float(r["pitch_deg"])) == (r["split"] == "test")
                                   for r in rows)
    coord_z = np.asarray(nib.load(out / "simulator" / "train" / "train-00004_coordZ.nii.gz").dataobj)[..., 0]
    row = rows[4]
    pose = builder.Pose(*(float(row[k]) for k in ("pitch_deg", "roll_deg", "yaw_deg")),
                        tuple(float(row[f"offset_{a}_mm"]) for a in "xyz"))
    assert np.allclose(coord_z, pose.points()[..., 2], atol=1e-3)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seeds"] == builder.SEEDS and len(manifest["subjects"]) == 2
    builder.main(["--out", str(tmp_path / "b"), "--cache", str(tmp_path), "--subjects", "2",
                  "--slices", "3", "--poses", "12"])
    files = sorted(p.relative_to(out) for p in out.rglob("*.*") if p.name != "manifest.json")
    assert all((out / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)  # deterministic


def test_bad_counts_exit_2_with_one_line(tmp_path, capsys):
    assert builder.main(["--out", str(tmp_path), "--subjects", "0"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--subjects" in error


def test_a_package_with_the_wrong_digest_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / builder.demo.WHEEL_NAME).write_bytes(b"not the pinned wheel")
    assert builder.main(["--out", str(tmp_path / "out"), "--cache", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "SHA-256" in error
    assert not (tmp_path / "out" / "manifest.json").exists()
