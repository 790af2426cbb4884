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
