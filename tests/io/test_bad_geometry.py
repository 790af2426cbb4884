"""Images whose geometry or values voxflow cannot use are refused when read, naming the file.

A singular affine (an axis of zero length, parallel axes) used to pass training and stop inference
halfway with "internal error: HeaderDataError" after one output was written; complex voxels lost
their imaginary part without a word.
"""

from __future__ import annotations

import os
import textwrap

import nibabel as nib
import numpy as np
import pytest

from voxflow.cli.main import main
from voxflow.errors import DataError
from voxflow.io import read_image

SHAPE = (21, 18, 13)


def write_with_sform(path: str, data: np.ndarray, affine: np.ndarray) -> None:
    """Write ``affine`` as the sform only: nibabel's image constructor refuses to decompose a
    singular affine into the qform, so the header is filled directly."""
    header = nib.Nifti1Header()
    header.set_data_shape(data.shape)
    header.set_data_dtype(data.dtype)
    header.set_sform(affine, code=1)
    header.set_qform(None, code=0)
    nib.save(nib.Nifti1Image(data, None, header=header), path)


def _singular(kind: str) -> np.ndarray:
    affine = np.diag([1.5, 1.0, 2.0, 1.0])
    if kind == "zero column":
        affine[:3, 1] = 0.0
    elif kind == "tiny column":
        affine[:3, 1] = [0.0, 1e-12, 0.0]
    else:  # two parallel axes: det = 0 although no axis is zero
        affine[:3, 2] = [0.0, 2.0, 0.0]
    return affine


@pytest.mark.parametrize("kind, needle", [("zero column", "voxel spacing 0 along axis 1"),
                                          ("tiny column", "voxel spacing 1e-12 along axis 1"),
                                          ("parallel axes", "parallel")])
def test_singular_nifti_affine_is_refused(tmp_path, kind, needle):
    path = str(tmp_path / "bad.nii.gz")
    write_with_sform(path, np.ones((4, 5, 6), np.float32), _singular(kind))
    with pytest.raises(DataError) as info:
        read_image(path)
    message = str(info.value)
    assert "bad.nii.gz" in message and "affine" in message and "is singular" in message and needle in message
    assert "\n" not in message


def test_singular_direction_in_a_metaimage_is_refused(tmp_path):
    raw = tmp_path / "bad.raw"
    np.ones((6, 5, 4), np.float32).tofile(raw)
    (tmp_path / "bad.mhd").write_text(textwrap.dedent("""\
        ObjectType = Image
        NDims = 3
        BinaryData = True
        BinaryDataByteOrderMSB = False
        TransformMatrix = 1 0 0 0 1 0 0 1 0
        Offset = 0 0 0
        ElementSpacing = 1 1 1
        DimSize = 4 5 6
        ElementType = MET_FLOAT
        ElementDataFile = bad.raw
    """), encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.mhd"):
        read_image(str(tmp_path / "bad.mhd"))


def test_healthy_oblique_affine_is_accepted(tmp_path):
    affine = np.eye(4)
    affine[:3, :3] = np.array([[0.0, 0.0, 2.5], [0.9, 0.1, 0.0], [-0.1, 0.9, 0.0]])
    path = str(tmp_path / "ok.nii.gz")
    write_with_sform(path, np.ones((4, 5, 6), np.float32), affine)
    np.testing.assert_allclose(read_image(path).affine, affine, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_nifti_is_refused(tmp_path, dtype):
    path = str(tmp_path / "complex.nii.gz")
    data = (np.ones((4, 5, 6)) + 2j * np.ones((4, 5, 6))).astype(dtype)
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    with pytest.raises(DataError) as info:
        read_image(path)
    assert "complex.nii.gz" in str(info.value) and "complex" in str(info.value).split("':", 1)[1]


def test_complex_image_read_by_simpleitk_is_refused(tmp_path):
    """MetaImage stores complex voxels as two components (read back as two channels, nothing lost);
    ITK's NIfTI reader keeps them complex."""
    path = str(tmp_path / "complex.nii.gz")
    nib.save(nib.Nifti1Image((np.ones((4, 5, 6)) + 1j).astype(np.complex64), np.eye(4)), path)
    with pytest.raises(DataError, match=r"complex\.nii\.gz.*complex voxels"):
        read_image(path, loader="simpleitk")


def test_rgb_nifti_is_refused(tmp_path):
    path = str(tmp_path / "rgb.nii.gz")
    rgb = np.zeros((4, 5, 6), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    nib.save(nib.Nifti1Image(rgb, np.eye(4)), path)
    with pytest.raises(DataError, match=r"rgb\.nii\.gz.*expected real numbers"):
        read_image(path)


# ---------------------------------------------------------------------------- through the CLI
def _dataset(tmp_path) -> str:
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    affine = np.diag([1.5, 1.0, 2.0, 1.0])
    for i in range(3):
        label = (rng.uniform(size=SHAPE) > 0.5).astype(np.uint8)
        nib.save(nib.Nifti1Image((label * 40.0 + 10.0).astype(np.float32), affine), str(data / f"s{i}_T1.nii.gz"))
        nib.save(nib.Nifti1Image(label, affine), str(data / f"s{i}_seg.nii.gz"))
    config = tmp_path / "config.ini"
    config.write_text(textwrap.dedent("""\
        [T1]
        path_to_search = data
        filename_contains = T1
        spatial_window_size = 16, 16, 8
        [label]
        path_to_search = data
        filename_contains = seg
        spatial_window_size = 16, 16, 8
        interp_order = 0
        [SYSTEM]
        model_dir = model
        seed = 1
        num_threads = 1
        [NETWORK]
        name = toynet
        batch_size = 1
        [TRAINING]
        max_iter = 1
        save_every_n = 1
        [SEGMENTATION]
        image = T1
        label = label
        num_classes = 2
    """), encoding="utf-8")
    return str(config)


def test_training_on_a_singular_affine_stops_before_any_work(tmp_path, capsys):
    config = _dataset(tmp_path)
    for name in ("s1_T1.nii.gz", "s1_seg.nii.gz"):  # the same grid in both: only the affine is wrong
        path = str(tmp_path / "data" / name)
        write_with_sform(path, np.asarray(nib.load(path).dataobj), _singular("zero column"))
    assert main(["train", "-c", config], prog="net_segment", application="segmentation") == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if "error:" in line]
    assert len(errors) == 1 and "s1_" in errors[0] and "is singular" in errors[0], err
    assert not any("Traceback" in line or "internal error" in line for line in err)
    assert not os.path.exists(tmp_path / "model" / "models")
