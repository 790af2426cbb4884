"""Tiny real-format datasets and configs for end-to-end CLI tests (seconds, not minutes)."""

import os
import textwrap

import nibabel as nib
import numpy as np


def oblique_affine(spacing=(1.5, 1.0, 2.0)):
    """An LPS-ish, slightly rotated affine with anisotropic spacing."""
    angle = np.deg2rad(8.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    flip = np.diag([-1.0, -1.0, 1.0])
    affine = np.eye(4)
    affine[:3, :3] = flip @ rotation @ np.diag(spacing)
    affine[:3, 3] = [20.0, -12.0, 5.0]
    return affine


def make_subject(folder, subject_id, shape=(21, 18, 13), seed=0, affine=None):
    """A blob image with a 3-class label (0 background, 1 shell, 2 core)."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1).astype(np.float32)
    centre = np.array(shape) / 2 + rng.uniform(-1.5, 1.5, size=3)
    radius = np.sqrt((((grid - centre) / (np.array(shape) / 3.2)) ** 2).sum(-1))
    label = np.zeros(shape, np.uint8)
    label[radius < 1.0] = 1
    label[radius < 0.55] = 2
    image = (label * 40.0 + 10.0 + rng.normal(0, 2.0, size=shape)).astype(np.float32)
    affine = oblique_affine() if affine is None else affine
    nib.save(nib.Nifti1Image(image, affine), os.path.join(folder, f"{subject_id}_T1.nii.gz"))
    nib.save(nib.Nifti1Image(label, affine), os.path.join(folder, f"{subject_id}_seg.nii.gz"))
    return image, label, affine


def write_config(tmp_path, extra="", network="toynet", window="16,16,8", pixdim="", axcodes="", **keys):
    """Write a small segmentation config next to the data and return its path."""
    text = textwrap.dedent(f"""\
        [T1]
        path_to_search = data
        filename_contains = T1
        spatial_window_size = {window}
        pixdim = {pixdim}
        axcodes = {axcodes}
        interp_order = 1

        [label]
        path_to_search = data
        filename_contains = seg
        spatial_window_size = {window}
        pixdim = {pixdim}
        axcodes = {axcodes}
        interp_order = 0

        [SYSTEM]
        model_dir = model
        seed = 1
        num_threads = 1

        [NETWORK]
        name = {network}
        batch_size = 2
        whitening = True

        [TRAINING]
        lr = 0.01
        loss_type = DicePlusXEnt
        sample_per_volume = 2
        max_iter = 4
        save_every_n = 2
        tensorboard_every_n = 2
        validation_every_n = 2
        exclude_fraction_for_validation = 0.2

        [INFERENCE]
        border = 2,2,1
        output_postfix = _out
        dataset_to_infer = all

        [EVALUATION]
        evaluations = dice,jaccard,hausdorff95,average_distance

        [SEGMENTATION]
        image = T1
        label = label
        num_classes = 3
        """)
    path = tmp_path / "config.ini"
    path.write_text(text + extra, encoding="utf-8")
    return str(path)
