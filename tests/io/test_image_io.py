"""read_image / write_image: geometry round trips between nibabel and SimpleITK, and errors."""

import gzip
import os

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from scipy.spatial.transform import Rotation

from voxflow.errors import DataError
from voxflow.io import read_image, split_extension, write_image
from voxflow.io.sitk_io import array_to_sitk, sitk_to_array


@pytest.fixture
def oblique():
    rotation = Rotation.from_euler("xyz", (14.0, -9.0, 31.0), degrees=True).as_matrix()
    affine = np.eye(4)
    affine[:3, :3] = np.diag([-1.0, 1.0, 1.0]) @ rotation @ np.diag([0.7, 1.3, 2.9])
    affine[:3, 3] = (-12.5, 40.25, -3.125)
    return affine


@pytest.fixture
def volume():
    return np.random.default_rng(0).normal(size=(7, 5, 4)).astype(np.float32)


def test_split_extension():
    assert split_extension("/a/sub_T1.nii.gz") == ("sub_T1", ".nii.gz")
    assert split_extension("x.MHA") == ("x", ".mha")
    assert split_extension("notes.txt") == ("notes.txt", "")


def test_sitk_geometry_matches_nibabel_convention(oblique, volume):
    """A voxel index maps to the same physical point (RAS vs LPS) in both libraries."""
    image = array_to_sitk(volume, oblique)
    index = (3, 1, 2)
    lps = np.array(image.TransformIndexToPhysicalPoint(index))
    ras = (oblique @ np.append(index, 1.0))[:3]
    np.testing.assert_allclose(lps * [-1, -1, 1], ras, atol=1e-9)
    assert image[index] == pytest.approx(float(volume[index]))
    data, affine = sitk_to_array(image)
    np.testing.assert_array_equal(data, volume)
    np.testing.assert_allclose(affine, oblique, atol=1e-12)


@pytest.mark.parametrize("ext", [".mha", ".nrrd", ".mhd", ".nii.gz", ".nii"])
def test_write_read_round_trip(tmp_path, oblique, volume, ext):
    path = tmp_path / f"img{ext}"
    write_image(path, volume, oblique)
    image = read_image(path)
    np.testing.assert_array_equal(image.data, volume)
    assert image.data.dtype == np.float32
    tolerance = 1e-6 if ext in (".nii", ".nii.gz") else 1e-9  # NIfTI stores float32 sforms
    np.testing.assert_allclose(image.affine, oblique, atol=tolerance)
    assert image.affine.dtype == np.float64 and image.path == str(path)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temporary left


def test_nifti_and_mha_agree(tmp_path, oblique, volume):
    write_image(tmp_path / "a.nii.gz", volume, oblique)
    nifti = read_image(tmp_path / "a.nii.gz")
    write_image(tmp_path / "b.mha", nifti.data, nifti.affine)
    itk = read_image(tmp_path / "b.mha")
    np.testing.assert_array_equal(itk.data, nifti.data)
    np.testing.assert_allclose(itk.affine, nifti.affine, atol=1e-6)
    # SimpleITK reading the NIfTI file directly agrees with nibabel too.
    forced = read_image(tmp_path / "a.nii.gz", loader="simpleitk")
    np.testing.assert_allclose(forced.data, nifti.data)
    np.testing.assert_allclose(forced.affine, nifti.affine, atol=1e-4)


def test_vector_images_become_channels(tmp_path, oblique):
    data = np.random.default_rng(1).normal(size=(6, 5, 4, 3)).astype(np.float32)
    for name in ("v.mha", "v.nii.gz"):
        write_image(tmp_path / name, data, oblique)
        image = read_image(tmp_path / name)
        assert image.data.shape == (6, 5, 4, 3)
        np.testing.assert_array_equal(image.data, data)


def test_five_d_nifti_time_axis_squeezed(tmp_path):
    data = np.arange(4 * 3 * 2 * 1 * 2, dtype=np.int16).reshape(4, 3, 2, 1, 2)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "five.nii.gz")
    image = read_image(tmp_path / "five.nii.gz")
    assert image.data.shape == (4, 3, 2, 2) and image.data.dtype == np.int16


def test_png_is_two_d(tmp_path):
    data = np.arange(20, dtype=np.uint8).reshape(5, 4, 1)
    write_image(tmp_path / "slice.png", data, np.diag([-1.0, -1.0, 1.0, 1.0]))
    image = read_image(tmp_path / "slice.png")
    assert image.data.shape == (5, 4, 1)
    np.testing.assert_array_equal(image.data, data)


def test_label_dtype_and_reference_header(tmp_path, oblique):
    labels = np.zeros((4, 4, 4), dtype=np.int64)
    labels[1:3, 1:3, 1:3] = 2
    reference_path = tmp_path / "ref.nii.gz"
    image = nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), oblique)
    image.set_qform(oblique, code=1)
    image.set_sform(oblique, code=4)
    image.header.set_xyzt_units("mm", "sec")
    nib.save(image, reference_path)
    reference = read_image(reference_path)
    write_image(tmp_path / "seg.nii.gz", labels, reference.affine, reference=reference)
    out = nib.load(tmp_path / "seg.nii.gz")
    assert out.get_data_dtype() == np.uint8
    assert int(out.header["qform_code"]) == 1 and int(out.header["sform_code"]) == 4
    write_image(tmp_path / "big.nii.gz", labels * 1000, oblique)
    assert nib.load(tmp_path / "big.nii.gz").get_data_dtype() == np.int16
    write_image(tmp_path / "bigger.mha", labels * 100000, oblique)
    assert read_image(tmp_path / "bigger.mha").data.dtype == np.int32


def test_sheared_affine_refused_by_itk_formats(tmp_path, volume):
    sheared = np.eye(4)
    sheared[0, 1] = 0.5
    with pytest.raises(DataError, match="sheared"):
        write_image(tmp_path / "s.mha", volume, sheared)
    write_image(tmp_path / "s.nii.gz", volume, sheared)  # NIfTI sform can hold it
    np.testing.assert_allclose(read_image(tmp_path / "s.nii.gz").affine, sheared, atol=1e-6)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.nii\.gz.*no such file"):
        read_image(tmp_path / "nope.nii.gz")


def test_truncated_gzip_is_detected(tmp_path, volume):
    path = tmp_path / "full.nii.gz"
    write_image(path, np.tile(volume, (4, 4, 4)), np.eye(4))
    raw = path.read_bytes()
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"cut\.nii\.gz"):
        read_image(cut)


def test_truncated_uncompressed_is_detected(tmp_path, volume):
    path = tmp_path / "full.nii"
    write_image(path, volume, np.eye(4))
    cut = tmp_path / "cut.nii"
    cut.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DataError, match=r"cut\.nii"):
        read_image(cut)


def test_non_image_files(tmp_path):
    text = tmp_path / "notes.nii.gz"
    text.write_bytes(gzip.compress(b"this is not an image"))
    with pytest.raises(DataError, match=r"notes\.nii\.gz"):
        read_image(text)
    garbage = tmp_path / "junk.mha"
    garbage.write_text("hello", encoding="utf-8")
    with pytest.raises(DataError, match=r"junk\.mha.*simpleitk"):
        read_image(garbage)
    other = tmp_path / "table.csv"
    other.write_text("a,b", encoding="utf-8")
    with pytest.raises(DataError, match=r"table\.csv.*extension"):
        read_image(other)


def test_dicom_series_folder(tmp_path, volume):
    folder = tmp_path / "series"
    folder.mkdir()
    image = sitk.GetImageFromArray((volume * 100).astype(np.int16).transpose(2, 1, 0))
    image.SetSpacing((0.8, 0.9, 2.5))
    image.SetOrigin((10.0, -5.0, 3.0))
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(image.GetDepth()):
        sl = image[:, :, k]
        sl.SetMetaData("0020|000e", "1.2.826.0.1.3680043.2.1125.1")
        position = image.TransformIndexToPhysicalPoint((0, 0, k))
        sl.SetMetaData("0020|0032", "\\".join(str(v) for v in position))
        sl.SetMetaData("0020|0037", "1\\0\\0\\0\\1\\0")
        sl.SetMetaData("0020|0013", str(k))
        writer.SetFileName(str(folder / f"{k:03d}.dcm"))
        writer.Execute(sl)
    out = read_image(folder)
    np.testing.assert_array_equal(out.data, (volume * 100).astype(np.int16))
    np.testing.assert_allclose(np.linalg.norm(out.affine[:3, :3], axis=0), (0.8, 0.9, 2.5),
                               atol=1e-4)


@pytest.mark.parametrize("name", ["seg.nii.gz", "seg.nrrd"])
def test_a_failed_write_names_the_output_and_leaves_nothing(tmp_path, name):
    """A folder where the output should go is a file (as a full disk or a read-only mount fail)."""
    from voxflow.errors import OutputError

    (tmp_path / "out").write_text("a file", encoding="utf-8")
    with pytest.raises(OutputError) as err:
        write_image(str(tmp_path / "out" / name), np.zeros((4, 4, 4), np.uint8), np.eye(4))
    assert f"out/{name}" in str(err.value) and "vxtmp" not in str(err.value)
    if os.geteuid() != 0:  # root ignores permissions
        os.chmod(tmp_path, 0o555)  # a read-only folder: the staging folder cannot be made
        try:
            with pytest.raises(OutputError, match=name):
                write_image(str(tmp_path / name), np.zeros((4, 4, 4), np.uint8), np.eye(4))
        finally:
            os.chmod(tmp_path, 0o755)
    assert sorted(os.listdir(tmp_path)) == ["out"]
