"""Subject matching, CSV lists and dataset splits."""

import csv
import logging
import os
from types import SimpleNamespace

import pytest

from voxflow.data.subjects import find_subjects, split_subjects, subjects_to_infer
from voxflow.errors import ConfigError, DataError


def _section(folder="", contains=(), not_contains=(), removefromid="", csv_file=""):
    return SimpleNamespace(
        path_to_search=(str(folder),) if folder else (), filename_contains=tuple(contains),
        filename_not_contains=tuple(not_contains), filename_removefromid=removefromid,
        csv_file=str(csv_file), pixdim=(), axcodes=(), interp_order=1, loader=None,
        spatial_window_size=(),
    )


def _cfg(tmp_path, inputs, fractions=(0.0, 0.0), seed=None, split_name="model/split.csv"):
    return SimpleNamespace(
        system=SimpleNamespace(model_dir=str(tmp_path / "model"), seed=seed, num_threads=1,
                               dataset_split_file=str(tmp_path / split_name)),
        training=SimpleNamespace(exclude_fraction_for_validation=fractions[0],
                                 exclude_fraction_for_inference=fractions[1]),
        inputs=inputs,
    )


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for sid in ("sub01", "sub02", "sub03"):
        (folder / f"{sid}_T1.nii.gz").write_bytes(b"")
        (folder / f"{sid}_seg.nii.gz").write_bytes(b"")
    (folder / "sub01_T1_mask.nii.gz").write_bytes(b"")
    (folder / "readme.txt").write_text("not an image", encoding="utf-8")
    (folder / "analyze_T1.hdr").write_bytes(b"")
    (folder / "analyze_T1.img").write_bytes(b"")
    return folder


def test_find_subjects_matches_sections(tmp_path, data_dir):
    (data_dir / "analyze_seg.mha").write_bytes(b"")
    inputs = {"T1": _section(data_dir, ["T1"], ["mask"]), "label": _section(data_dir, ["seg"])}
    subjects = find_subjects(_cfg(tmp_path, inputs), ("T1", "label"))
    assert [s.id for s in subjects] == ["analyze", "sub01", "sub02", "sub03"]
    assert subjects[1].files == {"T1": str(data_dir / "sub01_T1.nii.gz"),
                                 "label": str(data_dir / "sub01_seg.nii.gz")}
    assert subjects[0].files["T1"].endswith("analyze_T1.hdr")  # pair listed once


def test_removefromid_regex(tmp_path, data_dir):
    inputs = {"T1": _section(data_dir, ["T1"], ["mask", "analyze"], removefromid=r"_T1$")}
    assert [s.id for s in find_subjects(_cfg(tmp_path, inputs), ("T1",))] == [
        "sub01", "sub02", "sub03"]
    bad = {"T1": _section(data_dir, ["T1"], removefromid="(")}
    with pytest.raises(ConfigError, match=r"filename_removefromid.*\[T1\]"):
        find_subjects(_cfg(tmp_path, bad), ("T1",))


def test_missing_subject_in_one_section_both_directions(tmp_path, data_dir):
    inputs = {"T1": _section(data_dir, ["T1"], ["mask"]), "label": _section(data_dir, ["seg"])}
    expected = r"'analyze'.*\[T1\].*analyze_T1\.hdr.*no file in \[label\]"
    with pytest.raises(DataError, match=expected):
        find_subjects(_cfg(tmp_path, inputs), ("T1", "label"))
    (data_dir / "analyze_T1.hdr").unlink()
    (data_dir / "analyze_T1.img").unlink()
    (data_dir / "sub04_seg.nii.gz").write_bytes(b"")
    with pytest.raises(DataError, match=r"'sub04'.*\[label\].*no file in \[T1\].*searched"):
        find_subjects(_cfg(tmp_path, inputs), ("T1", "label"))


def test_duplicate_ids_name_both_files(tmp_path, data_dir):
    inputs = {"T1": _section(data_dir, ["T1"], removefromid=r"_T1.*")}
    with pytest.raises(DataError, match=r"'sub01'.*sub01_T1\.nii\.gz.*sub01_T1_mask\.nii\.gz"):
        find_subjects(_cfg(tmp_path, inputs), ("T1",))


def test_missing_folder_and_no_match(tmp_path, data_dir):
    with pytest.raises(DataError, match=r"nowhere.*path_to_search.*\[T1\]"):
        find_subjects(_cfg(tmp_path, {"T1": _section(tmp_path / "nowhere", ["T1"])}), ("T1",))
    with pytest.raises(DataError, match=r"No file of \[T2\].*data.*'T2'"):
        find_subjects(_cfg(tmp_path, {"T2": _section(data_dir, ["T2"])}), ("T2",))


def test_dicom_folders_are_subjects(tmp_path):
    folder = tmp_path / "dicom"
    for sid in ("case1", "case2"):
        (folder / sid).mkdir(parents=True)
        (folder / sid / "0001.dcm").write_bytes(b"")
    (folder / "not_dicom").mkdir()
    subjects = find_subjects(_cfg(tmp_path, {"CT": _section(folder)}), ("CT",))
    assert [s.id for s in subjects] == ["case1", "case2"]


def test_csv_file_list(tmp_path, data_dir):
    listing = tmp_path / "lists" / "t1.csv"
    listing.parent.mkdir()
    listing.write_text("subject_id,path\nA,../data/sub01_T1.nii.gz\nB,"
                       f"{data_dir / 'sub02_T1.nii.gz'}\n\n", encoding="utf-8")
    inputs = {"T1": _section("", csv_file=listing)}
    subjects = find_subjects(_cfg(tmp_path, inputs), ("T1",))
    assert [(s.id, s.files["T1"]) for s in subjects] == [
        ("A", str(data_dir / "sub01_T1.nii.gz")), ("B", str(data_dir / "sub02_T1.nii.gz"))]
    listing.write_text("A,../data/missing.nii.gz\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"missing\.nii\.gz.*line 1.*t1\.csv"):
        find_subjects(_cfg(tmp_path, inputs), ("T1",))


IDS = [f"s{i:02d}" for i in range(20)]


def test_random_split_is_seeded_written_and_reread(tmp_path):
    cfg = _cfg(tmp_path, {}, fractions=(0.1, 0.2), seed=3)
    parts = split_subjects(IDS, cfg, "train")
    assert (len(parts["validation"]), len(parts["inference"]), len(parts["training"])) == (2, 4, 14)
    assert sorted(sum(parts.values(), [])) == IDS
    assert os.path.isfile(cfg.system.dataset_split_file)
    assert split_subjects(IDS, cfg, "train") == parts  # read back from the file
    os.remove(cfg.system.dataset_split_file)
    assert split_subjects(IDS, cfg, "train") == parts  # same seed, same split
    os.remove(cfg.system.dataset_split_file)
    other = split_subjects(IDS, _cfg(tmp_path, {}, fractions=(0.1, 0.2), seed=4), "train")
    assert other != parts


def test_small_fractions_give_at_least_one_subject(tmp_path):
    parts = split_subjects(IDS[:5], _cfg(tmp_path, {}, fractions=(0.01, 0.0)), "train")
    assert len(parts["validation"]) == 1 and parts["inference"] == []
    with pytest.raises(DataError, match="none for training"):
        split_subjects(IDS[:2], _cfg(tmp_path, {}, fractions=(0.5, 0.5), split_name="x.csv"),
                       "train")


def test_no_split_file_outside_training_uses_everyone(tmp_path):
    parts = split_subjects(IDS[:3], _cfg(tmp_path, {}), "inference")
    assert parts == {p: IDS[:3] for p in ("training", "validation", "inference")}
    assert not os.path.exists(tmp_path / "model" / "split.csv")


def _write_split(tmp_path, rows):
    path = tmp_path / "model" / "split.csv"
    path.parent.mkdir(exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_split_file_errors_and_warnings(tmp_path, caplog):
    _write_split(tmp_path, [("s00", "Training"), ("s01", "VALIDATION"), ("gone", "inference")])
    with caplog.at_level(logging.WARNING):
        parts = split_subjects(["s00", "s01"], _cfg(tmp_path, {}), "train")
    assert parts == {"training": ["s00"], "validation": ["s01"], "inference": []}
    assert "gone" in caplog.text
    with pytest.raises(DataError, match=r"1 subject.*not listed.*split\.csv.*'s02'"):
        split_subjects(["s00", "s01", "s02"], _cfg(tmp_path, {}), "train")
    parts = split_subjects(["s00", "s01", "s02"], _cfg(tmp_path, {}), "inference")
    assert parts["inference"] == ["s02"]
    _write_split(tmp_path, [("s00", "training"), ("s01", "testing")])
    with pytest.raises(DataError, match=r"line 2.*split\.csv.*testing"):
        split_subjects(["s00", "s01"], _cfg(tmp_path, {}), "train")


def test_csv_files_saved_by_excel_with_a_byte_order_mark(tmp_path, data_dir):
    """Excel's "CSV UTF-8" starts with a BOM, which would glue itself to the first subject id."""
    path = _write_split(tmp_path, [("s00", "training"), ("s01", "validation")])
    path.write_bytes("\ufeff".encode() + path.read_bytes().replace(b"\n", b"\r\n"))
    assert split_subjects(["s00", "s01"], _cfg(tmp_path, {}), "train") == {
        "training": ["s00"], "validation": ["s01"], "inference": []}
    listing = tmp_path / "t1.csv"
    listing.write_text("\ufeffsubject_id,path\r\nA,data/sub01_T1.nii.gz\r\n", encoding="utf-8")
    subjects = find_subjects(_cfg(tmp_path, {"T1": _section("", csv_file=listing)}), ("T1",))
    assert [s.id for s in subjects] == ["A"]


def test_subjects_to_infer():
    parts = {"training": ["a", "b"], "validation": ["c"], "inference": []}
    assert subjects_to_infer(parts, "") == ["a", "b", "c"]
    assert subjects_to_infer({**parts, "inference": ["d"]}, "") == ["d"]
    assert subjects_to_infer(parts, "validation") == ["c"]
    assert subjects_to_infer(parts, "all") == ["a", "b", "c"]
    with pytest.raises(DataError, match="inference"):
        subjects_to_infer(parts, "inference")
    with pytest.raises(ConfigError, match="dataset_to_infer"):
        subjects_to_infer(parts, "test")


def test_file_named_exactly_like_filename_contains_keeps_its_own_name(tmp_path, data_dir):
    """A user pointing at one file (`filename_contains = sub02_T1`) got "empty subject id"."""
    inputs = {"T1": _section(data_dir, ["sub02_T1"])}
    subjects = find_subjects(_cfg(tmp_path, inputs), ("T1",))
    assert [(s.id, s.files["T1"]) for s in subjects] == [("sub02_T1", str(data_dir / "sub02_T1.nii.gz"))]
    (data_dir / "T2.nii.gz").write_bytes(b"")
    assert [s.id for s in find_subjects(_cfg(tmp_path, {"T2": _section(data_dir, ["T2"])}), ("T2",))] == ["T2"]


def test_regex_that_removes_the_whole_name_is_still_an_error(tmp_path, data_dir):
    inputs = {"T1": _section(data_dir, ["sub02_T1"], removefromid=".*")}
    with pytest.raises(DataError, match=r"sub02_T1\.nii\.gz.*empty subject id.*filename_removefromid"):
        find_subjects(_cfg(tmp_path, inputs), ("T1",))


def test_huge_csv_cells_are_clipped_in_messages(tmp_path, data_dir):
    listing = tmp_path / "list.csv"
    listing.write_text(f"sub01,{'p' * 100_000}\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        find_subjects(_cfg(tmp_path, {"T1": _section(csv_file=listing)}), ("T1",))
    assert "does not exist" in str(info.value) and len(str(info.value)) < 600
    listing.write_text("x" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        find_subjects(_cfg(tmp_path, {"T1": _section(csv_file=listing)}), ("T1",))
    assert "Invalid row 1" in str(info.value) and "(100000 characters)" in str(info.value)
    assert len(str(info.value)) < 600
    listing.write_text("x" * 1_000_000 + "\n", encoding="utf-8")  # beyond the csv module's field limit
    with pytest.raises(DataError, match=r"Cannot read csv_file .*field larger than field limit"):
        find_subjects(_cfg(tmp_path, {"T1": _section(csv_file=listing)}), ("T1",))


def test_unreadable_csv_is_one_line(tmp_path):
    listing = tmp_path / "list.csv"
    listing.write_bytes(b"sub01,caf\xe9.nii.gz\n")  # Latin-1, not UTF-8
    with pytest.raises(DataError, match=r"Cannot read csv_file '.*list\.csv' of \[T1\].*UTF-8"):
        find_subjects(_cfg(tmp_path, {"T1": _section(csv_file=listing)}), ("T1",))


def test_hidden_files_are_never_subjects(tmp_path, data_dir):
    """A running voxflow's temporary output in the data folder, or macOS's ._ companions."""
    (data_dir / ".tmp.vxtmp-0a1b2c3d-42-xyz_T1.nii.gz").write_bytes(b"")
    (data_dir / "._sub02_T1.nii.gz").write_bytes(b"")
    (data_dir / ".voxflow.lock").write_text("{}", encoding="utf-8")
    (data_dir / "analyze_seg.mha").write_bytes(b"")
    inputs = {"T1": _section(data_dir, ["T1"], ["mask"]), "label": _section(data_dir, ["seg"])}
    subjects = find_subjects(_cfg(tmp_path, inputs), ("T1", "label"))
    assert [s.id for s in subjects] == ["analyze", "sub01", "sub02", "sub03"]
    assert subjects[2].files["T1"] == str(data_dir / "sub02_T1.nii.gz")
