"""Output writers: each inference mode's files, listed in inferred.csv, written atomically, never over inputs."""

import csv

import nibabel as nib
import numpy as np
import pytest

from voxflow.data.aggregators.resize import resize_volume
from voxflow.data.preprocessing.geometry import plan_geometry
from voxflow.data.subjects import Subject, read_subject_values
from voxflow.data.writers import ArrayWriter, TableWriter, VolumeWriter, WindowImageWriter, window_affine
from voxflow.errors import OutputError


def _listing(folder):
    with open(folder / "inferred.csv", newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_a_table_has_one_row_per_subject_and_reads_back_as_a_csv_data_file(tmp_path):
    subjects = [Subject("s1", {"T1": str(tmp_path / "s1.nii.gz")}), Subject("s2", {"T1": str(tmp_path / "s2.nii.gz")})]
    writer = TableWriter(str(tmp_path / "out"), "_cls", subjects, columns=("p0", "p1"), name="classes")
    writer.write("s1", [0.25, 0.75])
    writer.write("s2", np.array([[1.0, 1e-9]]))
    table = tmp_path / "out" / "classes_cls.csv"
    assert table.read_text(encoding="utf-8").splitlines() == ["subject_id,p0,p1", "s1,0.25,0.75", "s2,1.0,1e-09"]
    assert read_subject_values(str(table), "inferred", "s2").tolist() == pytest.approx([1.0, 1e-9])
    assert _listing(tmp_path / "out") == [["subject_id", "path"], ["s1", str(table)], ["s2", str(table)]]
    with pytest.raises(ValueError, match="expected 2 values \\(p0, p1\\), got 3"):
        writer.write("s3", [1, 2, 3])


def test_latent_codes_are_one_numpy_file_per_subject(tmp_path):
    writer = ArrayWriter(str(tmp_path), "_code", [])
    code = np.arange(6, dtype=np.float64).reshape(2, 3)
    path = writer.write("s1", code)
    loaded = np.load(path)
    assert path.endswith("s1_code.npy") and loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded, code)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inferred.csv", "s1_code.npy"]  # no temporary left


def test_windows_as_images_get_unique_names_and_the_subjects_extent(tmp_path):
    affine = np.diag([2.0, 1.0, 3.0, 1.0])
    affine[:3, 3] = [10.0, -4.0, 7.0]
    geometry = plan_geometry((10, 6, 4), affine)
    window = (5, 3, 2)
    writer = WindowImageWriter(str(tmp_path), "_gen")
    first = writer.write("sample", np.zeros(window), window_affine(geometry, window))
    second = writer.write("sample", np.ones(window))
    assert first.endswith("sample_gen.nii.gz") and second.endswith("sample_1_gen.nii.gz")
    assert np.allclose(nib.load(second).affine, np.eye(4))
    # the written affine puts each window voxel where resizing took its value from
    ramp = np.broadcast_to(np.arange(10, dtype=np.float64)[:, None, None], (10, 6, 4))
    resized = resize_volume(ramp, window, order=1)
    to_source = np.linalg.inv(affine) @ nib.load(first).affine
    for i in range(window[0]):
        x = (to_source @ [i, 1, 1, 1])[0]
        assert resized[i, 1, 1] == pytest.approx(x)
    # the extent is kept: the window's corners span the subject's
    assert (nib.load(first).affine @ [window[0] - 0.5, 0, 0, 1])[0] == pytest.approx((affine @ [9.5, 0, 0, 1])[0])


def test_no_writer_replaces_an_input(tmp_path):
    image = tmp_path / "s1_seg.nii.gz"
    image.write_bytes(b"")
    subjects = [Subject("s1", {"T1": str(image)})]
    with pytest.raises(OutputError, match="s1_seg.nii.gz"):
        VolumeWriter(str(tmp_path), "_seg", subjects)
    table = tmp_path / "values.csv"
    table.write_text("s1,1\n", encoding="utf-8")
    with pytest.raises(OutputError, match="values.csv"):
        TableWriter(str(tmp_path), "", [Subject("s1", {"info": str(table)})])
    listing = tmp_path / "inferred.csv"
    listing.write_text("", encoding="utf-8")
    with pytest.raises(OutputError, match="inferred.csv"):
        ArrayWriter(str(tmp_path), "_code", [Subject("s1", {"T1": str(listing)})])
