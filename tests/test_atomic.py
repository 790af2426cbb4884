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
    from voxflow.errors import OutputError

    with pytest.raises(OutputError, match="not empty"):
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


KILLED_MID_WRITE = """
import os, signal, sys
from voxflow.atomic import atomic_directory, atomic_path
folder = sys.argv[1]
with atomic_path(os.path.join(folder, "out.nii.gz"), suffix=".nii.gz") as tmp:
    open(tmp, "wb").write(b"partial")
    with atomic_directory(os.path.join(folder, "ckpt-7"), kind="ckpt-7") as staging:
        open(os.path.join(staging, "ckpt.index"), "wb").write(b"partial")
        print("writing", flush=True)
        if sys.argv[2] == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        import time; time.sleep(60)
"""


def _writer(folder, mode):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", KILLED_MID_WRITE, str(folder), mode], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "writing"
    return proc


def test_leftovers_of_a_killed_run_are_cleaned_but_never_a_live_ones(tmp_path):
    import signal

    from voxflow.atomic import clean_leftovers, leftovers, temp_owner

    dead = tmp_path / "dead"
    live = tmp_path / "live"
    dead.mkdir()
    live.mkdir()
    killed = _writer(dead, "kill")
    killed.wait()
    running = _writer(live, "hold")
    try:
        left = sorted(os.listdir(dead))
        assert len(left) == 2 and all(temp_owner(n)[2] == killed.pid for n in left), left
        # another machine's leftover in a shared folder is never touched
        (dead / ".tmp.vxtmp-00000000-1-abc").write_text("other host", encoding="utf-8")
        checkpoint = [n for n in left if n.startswith(".ckpt-7.")]
        assert leftovers(str(dead), kinds=["ckpt"]) == [str(dead / checkpoint[0])]
        assert leftovers(str(dead), kinds=["export"]) == []
        removed = clean_leftovers(str(dead))
        assert sorted(os.path.basename(p) for p in removed) == left
        assert os.listdir(dead) == [".tmp.vxtmp-00000000-1-abc"]
        assert clean_leftovers(str(live)) == [] and len(os.listdir(live)) == 2
    finally:
        running.send_signal(signal.SIGTERM)
        running.wait()


def test_a_write_that_fails_names_the_output_not_the_temporary_file(tmp_path):
    from voxflow.atomic import atomic_write_text
    from voxflow.errors import OutputError

    (tmp_path / "afile").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError) as err:
        atomic_write_text(str(tmp_path / "afile" / "eval.csv"), "a,b\n")
    assert "afile/eval.csv" in str(err.value) and "vxtmp" not in str(err.value)
    with pytest.raises(OutputError) as err:
        with atomic_directory(str(tmp_path / "afile" / "ckpt-1")):
            pass
    assert "afile/ckpt-1" in str(err.value)
