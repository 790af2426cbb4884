"""One writer per folder: a live holder refuses a second run; a killed holder's lock is taken over."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from voxflow.errors import LockedError, OutputError
from voxflow.locks import LOCK_NAME, FolderLock

HOLD = textwrap.dedent("""\
    import os, signal, sys, time
    from voxflow.locks import FolderLock
    lock = FolderLock(sys.argv[1], "model_dir", command="net_segment train -c a.ini")
    lock.acquire()
    print("locked", flush=True)
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)
    """)


def _holder(folder, mode):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), mode], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_live_holder_refuses_a_second_run_with_one_line(tmp_path):
    proc = _holder(tmp_path / "model", "hold")
    try:
        with pytest.raises(LockedError) as err:
            FolderLock(str(tmp_path / "model"), "[SYSTEM] model_dir").acquire()
        message = str(err.value)
        assert "\n" not in message and "model_dir" in message and str(proc.pid) in message
        assert "net_segment train -c a.ini" in message
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    proc = _holder(tmp_path / "model", "kill")
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert (tmp_path / "model" / LOCK_NAME).is_file()  # the stale file is still there ...
    with FolderLock(str(tmp_path / "model"), "model_dir"):  # ... and blocks nobody
        assert (tmp_path / "model" / LOCK_NAME).is_file()
    assert not (tmp_path / "model" / LOCK_NAME).exists()


def test_a_folder_created_for_the_lock_is_removed_when_left_empty(tmp_path):
    with FolderLock(str(tmp_path / "new")):
        assert (tmp_path / "new").is_dir()
    assert not (tmp_path / "new").exists()
    with FolderLock(str(tmp_path / "kept")):
        (tmp_path / "kept" / "ckpt").write_text("x", encoding="utf-8")
    assert os.listdir(tmp_path / "kept") == ["ckpt"]


def test_a_file_where_the_folder_should_be(tmp_path):
    (tmp_path / "model").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="not a folder"):
        FolderLock(str(tmp_path / "model"), "[SYSTEM] model_dir").acquire()


def test_the_same_process_cannot_take_a_folder_twice(tmp_path):
    with FolderLock(str(tmp_path)):
        with pytest.raises(LockedError):
            FolderLock(str(tmp_path)).acquire()
