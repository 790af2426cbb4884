"""Tests of scripts/build_demo_data.py: label building and warping on tiny synthetic arrays.

The one test that needs the real template (downloaded nilearn wheel) is marked slow.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build_demo_data.py"


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_demo_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_demo_data", module)
    spec.loader.exec_module(module)
    return module


builder = _load_builder()


@pytest.fixture
def sphere_tissue() -> tuple[np.ndarray, np.ndarray]:
    """A 32^3 toy brain: WM core (r < 6), GM shell (8 < r < 11) with a CSF gap between them."""
    grid = np.indices((32, 32, 32), dtype=np.float32) - 15.5
    radius = np.sqrt((grid**2).sum(axis=0))
    wm = np.clip(6.5 - radius, 0.0, 1.0)
    gm = np.clip(np.minimum(radius - 7.5, 11.5 - radius), 0.0, 1.0)
    return gm.astype(np.float32), wm.astype(np.float32)


def test_labels_are_in_label_set(sphere_tissue):
    gm, wm = sphere_tissue
    mask = builder.brain_mask_from_tissue(gm, wm)
    label = builder.labels_from_probabilities(builder.tissue_probabilities(gm, wm, mask))
    assert label.dtype == np.uint8
    assert set(np.unique(label)) == {0, 1, 2, 3}


def test_labels_follow_argmax_with_ties_to_lower_label():
    probabilities = np.zeros((4, 2, 2, 2), dtype=np.float32)
    probabilities[:, 0, 0, 0] = [0.1, 0.2, 0.6, 0.1]
    probabilities[:, 0, 0, 1] = [0.0, 0.1, 0.4, 0.5]
    probabilities[:, 0, 1, 0] = [0.0, 0.5, 0.5, 0.0]  # tie CSF/GM -> CSF
    probabilities[0, 1] = 1.0
    label = builder.labels_from_probabilities(probabilities)
    assert label[0, 0, 0] == 2 and label[0, 0, 1] == 3 and label[0, 1, 0] == 1
    assert np.all(label[1] == 0)


def test_probabilities_match_definition(sphere_tissue):
    gm, wm = sphere_tissue
    mask = builder.brain_mask_from_tissue(gm, wm)
    probabilities = builder.tissue_probabilities(gm, wm, mask)
    assert probabilities.shape == (4, *gm.shape)
    np.testing.assert_allclose(probabilities[0], 1.0 - mask)
    np.testing.assert_allclose(probabilities[1], mask * np.clip(1.0 - gm - wm, 0.0, 1.0))
    np.testing.assert_allclose(probabilities[2:], np.stack([gm, wm]))


def test_brain_mask_contains_tissue_and_enclosed_csf(sphere_tissue):
    gm, wm = sphere_tissue
    mask = builder.brain_mask_from_tissue(gm, wm)
    assert np.all(mask[(gm + wm) > 0.3])
    assert mask[15, 15, 15 + 7]  # the CSF gap between WM core and GM shell is inside
    assert not mask[0, 0, 0]
    label = builder.labels_from_probabilities(builder.tissue_probabilities(gm, wm, mask))
    assert label[15, 15, 15] == 3 and label[15, 15, 15 + 7] == 1 and label[15, 15, 15 + 10] == 2


def test_zero_warp_is_identity():
    rng = np.random.default_rng(1)
    volumes = rng.random((2, 9, 10, 11)).astype(np.float32)
    identity = np.concatenate([np.eye(3), np.zeros((3, 1))], axis=1)
    zero = np.zeros((3, 9, 10, 11), dtype=np.float32)
    for order in (1, 3):
        warped = builder.warp_volumes(volumes, identity, zero, order=order)
        np.testing.assert_allclose(warped, volumes, atol=1e-5)
    np.testing.assert_allclose(builder.warp_volumes(volumes, identity, None), volumes, atol=1e-6)


def test_translation_warp_shifts_and_fills_with_cval():
    volume = np.arange(8 * 8 * 8, dtype=np.float32).reshape(1, 8, 8, 8)
    shift = np.concatenate([np.eye(3), np.array([[1.0], [0.0], [0.0]])], axis=1)
    warped = builder.warp_volumes(volume, shift, None, order=1, cval=[-1.0])
    np.testing.assert_allclose(warped[0, :-1], volume[0, 1:])
    assert np.all(warped[0, -1] == -1.0)


def test_seeded_random_transforms_are_deterministic():
    shape = (12, 14, 10)
    fields = [builder.random_displacement(np.random.default_rng(7), shape, 2.0, 4) for _ in range(2)]
    np.testing.assert_array_equal(*fields)
    assert fields[0].shape == (3, *shape)
    assert np.sqrt((fields[0] ** 2).sum(axis=0)).max() == pytest.approx(2.0, rel=1e-5)
    other = builder.random_displacement(np.random.default_rng(8), shape, 2.0, 4)
    assert not np.allclose(fields[0], other)
    affines = [builder.random_affine(np.random.default_rng(7)) for _ in range(2)]
    np.testing.assert_array_equal(*affines)
    assert abs(np.linalg.det(affines[0][:, :3]) - 1.0) < 0.3


def test_bias_field_is_bounded_and_smooth():
    field = builder.bias_field(np.random.default_rng(0), (10, 12, 14), amplitude=0.15)
    assert field.min() >= 0.85 - 1e-6 and field.max() <= 1.15 + 1e-6
    assert np.abs(np.diff(field, axis=0)).max() < 0.1


def test_make_subject_is_deterministic_and_labels_consistent(sphere_tissue):
    gm, wm = sphere_tissue
    mask = builder.brain_mask_from_tissue(gm, wm)
    probabilities = builder.tissue_probabilities(gm, wm, mask)
    t1 = (100 * probabilities[1] + 170 * gm + 220 * wm).astype(np.float32)
    first = builder.make_subject(t1, probabilities, 2.0, seed=3, index=1)
    second = builder.make_subject(t1, probabilities, 2.0, seed=3, index=1)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    image, label = first
    assert image.dtype == np.float32 and label.dtype == np.uint8 and image.shape == label.shape
    assert np.median(image[label == 3]) > np.median(image[label == 2]) > np.median(image[label == 0])


def test_resample_to_spacing_keeps_world_positions():
    volume = np.zeros((1, 20, 20, 20), dtype=np.float32)
    volume[0, 8:12, 8:12, 8:12] = 1.0
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = [-10.0, -20.0, 5.0]
    out, new_affine = builder.resample_to_spacing(volume, affine, 2.0, pad=3)
    assert out.shape == (1, 16, 16, 16)
    np.testing.assert_allclose(np.diag(new_affine)[:3], 2.0)
    centre_in = affine @ [9.5, 9.5, 9.5, 1.0]
    weights = out[0] / out[0].sum()
    centre_out = new_affine @ [*(np.indices(out.shape[1:]) * weights).reshape(3, -1).sum(axis=1), 1.0]
    np.testing.assert_allclose(centre_out, centre_in, atol=1e-3)


def test_invalid_counts_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="validation"):
        builder.build(tmp_path, subjects=2, validation=2)


@pytest.mark.slow
def test_build_two_subjects_from_real_template(tmp_path):
    out = tmp_path / "demo"
    assert builder.main(["--out", str(out), "--subjects", "3", "--validation", "1", "--test", "1"]) == 0
    with open(out / "dataset_split.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [{"subject_id": "subject_000", "phase": "training"},
                    {"subject_id": "subject_001", "phase": "validation"},
                    {"subject_id": "subject_002", "phase": "inference"}]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["wheel_sha256"] == builder.WHEEL_SHA256
    t1, gm, wm, affine_1mm = builder.read_template(builder.fetch_wheel())
    template_mask = builder.brain_mask_from_tissue(gm, wm)
    template_centre = (affine_1mm @ [*np.argwhere(template_mask).mean(axis=0), 1.0])[:3]
    shapes = set()
    for row in rows:
        image = nib.load(out / f"{row['subject_id']}_T1.nii.gz")
        label = nib.load(out / f"{row['subject_id']}_label.nii.gz")
        assert image.get_data_dtype() == np.float32 and label.get_data_dtype() == np.uint8
        np.testing.assert_allclose(image.affine, label.affine)
        np.testing.assert_allclose(image.header.get_zooms(), (2.0, 2.0, 2.0))
        assert nib.aff2axcodes(image.affine) == ("R", "A", "S")
        shapes.add(image.shape)
        data = np.asarray(label.dataobj)
        assert set(np.unique(data)) == {0, 1, 2, 3}
        counts = np.bincount(data.ravel(), minlength=4)
        fractions = counts[1:] / counts[1:].sum()
        assert 0.03 < fractions[0] < 0.2 and 0.45 < fractions[1] < 0.7 and 0.25 < fractions[2] < 0.45
        assert counts.tolist() == list(manifest["subjects"][rows.index(row)]["label_voxels"].values())
        # brain stays inside the grid: the outer 2-voxel shell is background
        inner = np.zeros(data.shape, dtype=bool)
        inner[2:-2, 2:-2, 2:-2] = True
        assert not data[~inner].any()
        # geometry is right: the brain's world centre stays near the template's (warps move it a little)
        centre = (image.affine @ [*np.argwhere(data > 0).mean(axis=0), 1.0])[:3]
        assert np.linalg.norm(centre - template_centre) < 8.0
    assert len(shapes) == 1
    # second run: up to date, nothing rewritten
    mtime = (out / "subject_000_T1.nii.gz").stat().st_mtime_ns
    assert builder.main(["--out", str(out), "--subjects", "3", "--validation", "1", "--test", "1"]) == 0
    assert (out / "subject_000_T1.nii.gz").stat().st_mtime_ns == mtime


def test_test_and_validation_subjects_must_leave_training_ones(tmp_path):
    with pytest.raises(ValueError, match="validation \\+ test < subjects"):
        builder.build(tmp_path, subjects=3, validation=1, test=2)
