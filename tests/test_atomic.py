"""Atomic writes: a reader sees the old output or the complete new one, never a half-written one."""

import json
import os

import pytest

from voxflow.atomic import atomic_directory, atomic_write_json


def test_atomic_directory_appears_whole_or_not_at_all(tmp_path):
    final = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_directory(str(final)) as staging:
            open(os.path.join(staging, "a.txt"), "w", encoding="utf-8").close()
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []  # no output, no leftover staging folder
    with atomic_directory(str(final)) as staging:
        atomic_write_json(os.path.join(staging, "a.json"), {"x": 1})
    assert os.listdir(final) == ["a.json"] and json.loads((final / "a.json").read_text(encoding="utf-8")) == {"x": 1}
    assert os.listdir(tmp_path) == ["out"]


def test_atomic_directory_replaces_only_when_asked(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "old.txt").write_text("old", encoding="utf-8")
    with pytest.raises(OSError):
        with atomic_directory(str(final)):
            pass
    assert os.listdir(final) == ["old.txt"] and sorted(os.listdir(tmp_path)) == ["out"]
    with atomic_directory(str(final), replace=True) as staging:
        open(os.path.join(staging, "new.txt"), "w", encoding="utf-8").close()
    assert os.listdir(final) == ["new.txt"]


def test_outputs_get_the_modes_of_ordinary_files_and_folders(tmp_path):
    """mkstemp and mkdtemp create 0o600 files and 0o700 folders: outputs must not stay private."""
    from voxflow.atomic import atomic_write_text

    previous = os.umask(0o027)  # a group-readable setup, so that the result is not a hard-coded 0o644
    try:
        atomic_write_text(str(tmp_path / "settings.ini"), "[A]\n")
        with atomic_directory(str(tmp_path / "ckpt-1")) as staging:
            open(os.path.join(staging, "w.bin"), "wb").close()
    finally:
        os.umask(previous)
    assert (tmp_path / "settings.ini").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "ckpt-1").stat().st_mode & 0o777 == 0o750
    os.chmod(tmp_path / "settings.ini", 0o604)  # a mode the user chose stays when the file is rewritten
    atomic_write_text(str(tmp_path / "settings.ini"), "[B]\n")
    assert (tmp_path / "settings.ini").stat().st_mode & 0o777 == 0o604
