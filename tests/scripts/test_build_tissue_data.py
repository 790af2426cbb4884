"""Tests of scripts/build_tissue_data.py and the scoring of scripts/measure_zoo_model.py, offline and
without ANTs (the classical segmentations are checked only where ``antspyx`` is installed)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage
from script_loader import load_script

builder = load_script("build_tissue_data")
measure = load_script("measure_zoo_model")


def _phantom(shape=(40, 44, 36)):
    """A ball brain: WM core, GM shell, CSF rim and a CSF 'ventricle' in the middle; T1-like intensities."""
    grid = np.indices(shape, dtype=np.float32)
    centre = (np.array(shape, dtype=np.float32) - 1) / 2
    radius = np.sqrt(((grid - centre[:, None, None, None]) ** 2).sum(axis=0))
    label = np.zeros(shape, np.uint8)
    label[radius < 16] = 1
    label[radius < 14] = 2
    label[radius < 10] = 3
    label[radius < 3] = 1
    t1 = np.choose(label, [0.0, 30.0, 80.0, 110.0]).astype(np.float32)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = -centre
    return t1, label, affine


def test_brain_mask_fills_zero_ventricles_and_drops_specks():
    t1, label, _ = _phantom()
    t1[label == 1] = 0.0  # every CSF voxel zero-valued, ventricle included (as in the FSL brain)
    t1[0, 0, 0] = 50.0  # a speck outside the brain
    mask = builder.brain_mask(t1)
    assert not mask[0, 0, 0]
    assert mask[20, 22, 18]  # the zero-valued ventricle is brain
    assert np.array_equal(mask, ndimage.binary_fill_holes(label >= 2))  # the zero rim is outside


def test_subject_labels_follow_its_image_and_its_grid_keeps_world_positions():
    t1, label, affine = _phantom()
    image, warped, new_affine, recipe = builder.make_subject(t1, label, affine, np.random.default_rng(3))
    assert image.shape == warped.shape and image.dtype == np.float32
    assert np.all(image[warped == 0] == 0)  # skull-stripped: nothing outside the labelled brain
    assert set(np.unique(warped)) <= {0, 1, 2, 3} and (warped == 3).any()
    inside = warped > 0
    means = [image[(warped == k) & (image > 0)].mean() for k in (2, 3)]
    assert means[0] < means[1]  # GM darker than WM after every contrast change
    # The crop moved the origin by whole voxels: the new affine puts voxel 0 where the old grid had it.
    low = np.linalg.solve(affine[:3, :3], new_affine[:3, 3] - affine[:3, 3])
    assert np.allclose(low, np.round(low)) and np.all(low >= 0) and np.all(low <= 7)
    assert inside.sum() > 0.5 * (label > 0).sum()
    assert {"factors", "gamma", "noise"} <= set(recipe)


def test_subjects_differ_by_seed_and_repeat_with_it():
    t1, label, affine = _phantom()
    a = builder.make_subject(t1, label, affine, np.random.default_rng([0, 1]))
    b = builder.make_subject(t1, label, affine, np.random.default_rng([0, 1]))
    c = builder.make_subject(t1, label, affine, np.random.default_rng([0, 2]))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[0].shape != c[0].shape or not np.array_equal(a[0], c[0])


def test_crop_one_voxel_keeps_every_voxel_in_place(tmp_path):
    t1, _, affine = _phantom()
    nib.save(nib.Nifti1Image(t1, affine), tmp_path / "a.nii.gz")
    measure.crop_one_voxel(tmp_path / "a.nii.gz", tmp_path / "b.nii.gz")
    cropped = nib.load(tmp_path / "b.nii.gz")
    assert cropped.shape == tuple(s - 1 for s in t1.shape)
    assert np.array_equal(np.asarray(cropped.dataobj), t1[1:, 1:, 1:])
    assert np.allclose(cropped.affine @ [0, 0, 0, 1], affine @ [1, 1, 1, 1])


def test_cerebellum_box_is_posterior_and_inferior_in_world_space():
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-90.0, -126.0, -72.0]
    box = measure.cerebellum_box((91, 109, 91), affine)
    assert box[45, 20, 10] and not box[45, 80, 10] and not box[45, 20, 60]


def _write_case(folder, name, t1, affine, mask, reference, priors, model, cropped):
    for suffix, array in (("T1", t1), ("mask", mask.astype(np.uint8)), ("kmeans", reference), ("priors", priors)):
        nib.save(nib.Nifti1Image(array, affine), folder / f"{name}_{suffix}.nii.gz")
    nib.save(nib.Nifti1Image(model, affine), folder / f"{name}_seg.nii.gz")
    nib.save(nib.Nifti1Image(cropped, affine), folder / f"{name}crop_seg.nii.gz")


def test_brain_report_scores_what_the_targets_name(tmp_path):
    t1, label, affine = _phantom()
    mask = label > 0
    model = label.copy()
    model[20, 22, 18] = 0  # one background hole inside the brain
    model[0, 0, :4] = 2  # four tissue voxels outside the brain
    cropped = model[1:, 1:, 1:].copy()
    changed = np.argwhere(mask[1:, 1:, 1:])[:10]
    cropped[tuple(changed.T)] = 3 - (cropped[tuple(changed.T)] == 3)  # ten brain voxels relabelled
    priors = label.copy()
    priors[label == 1] = 2  # the second method calls all CSF grey matter
    _write_case(tmp_path, "b", t1, affine, mask, label, priors, model, cropped)
    report = measure.brain_report("b", tmp_path, tmp_path)
    assert report["dice"]["wm"] == 1.0 and report["dice"]["csf"] < 1.0
    assert report["noise_floor"]["csf"] == 0.0
    assert report["background_holes_voxels"] == 1
    assert report["outside_tissue_fraction"] == pytest.approx(4 / (~mask).sum(), abs=1e-5)
    assert report["crop_changed_fraction"] == pytest.approx(10 / mask[1:, 1:, 1:].sum(), abs=1e-4)


@pytest.mark.slow
def test_classical_reference_orders_tissues_by_intensity():
    pytest.importorskip("ants")
    t1, label, affine = _phantom()
    rng = np.random.default_rng(0)
    noisy = np.where(label > 0, t1 + rng.normal(0, 3, t1.shape), 0).astype(np.float32)
    result = builder.kmeans_tissue(noisy, label > 0, affine)
    for value in (1, 2, 3):
        assert measure.dice(label, result, value) > 0.9
