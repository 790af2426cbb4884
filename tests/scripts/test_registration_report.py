"""scripts/registration_report.py: the classical answers' fields come back in voxflow's convention (world mm,
RAS, fixed point -> moving point) and the scores are computed inside the brain."""

from __future__ import annotations

import nibabel as nib
import numpy as np
from scipy import ndimage
from script_loader import load_script

report = load_script("registration_report")


def _pair(tmp_path):
    """A smooth image on a RAS 2 mm grid and its copy shifted by 2 voxels along x: moving(p + 4 mm x) = fixed(p)."""
    rng = np.random.default_rng(0)
    fixed = ndimage.gaussian_filter(rng.normal(size=(40, 36, 32)), 3).astype(np.float32)
    fixed = (fixed - fixed.min()) / (fixed.max() - fixed.min())
    moving = np.roll(fixed, 2, axis=0)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (-40, -36, -32)
    labels = (fixed > 0.5).astype(np.int16)
    for name, array in (("fixed", fixed), ("moving", moving), ("labels", np.roll(labels, 2, axis=0))):
        nib.save(nib.Nifti1Image(array, affine), str(tmp_path / f"{name}.nii.gz"))
    return tmp_path / "fixed.nii.gz", tmp_path / "moving.nii.gz", tmp_path / "labels.nii.gz"


def test_demons_field_is_world_ras_fixed_to_moving(tmp_path):
    field, warped, seconds = report.demons(*_pair(tmp_path), 50, 1.0)
    centre = field[12:28, 10:26, 8:24]
    assert abs(np.median(centre[..., 0]) - 4.0) < 1.0  # +4 mm along x
    assert np.abs(np.median(centre[..., 1:], axis=(0, 1, 2))).max() < 0.5
    assert warped.shape == (40, 36, 32) and seconds > 0


def test_scores_of_the_true_field_are_perfect():
    truth = np.zeros((8, 8, 8, 3))
    truth[..., 0] = 4.0
    labels = np.zeros((8, 8, 8), np.int16)
    labels[2:6, 2:6, 2:6] = 1
    brain = np.ones((8, 8, 8), bool)
    scores = report.scores(truth, truth, labels, labels, brain, np.eye(4))
    assert scores["epe_mm"] == 0 and scores["dice"] == 1 and scores["folded_percent"] == 0
