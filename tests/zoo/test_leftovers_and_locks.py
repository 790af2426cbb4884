"""Killed runs: their staging folders are named after them, reported by verify and removed by the next run; locks."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap

import pytest
from zoo_data import make_fake_entry

from voxflow.atomic import temp_owner, temp_prefix
from voxflow.cli.zoo import net_download, net_zoo
from voxflow.errors import LockedError
from voxflow.locks import FolderLock
from voxflow.zoo import install, verify_zoo
from voxflow.zoo.pack import pack

KILLER = textwrap.dedent("""\
    import os, signal, sys
    from pathlib import Path

    def dying(real):
        def call(*args, **kwargs):
            result = real(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
            return result
        return call

    where, mode = sys.argv[1], sys.argv[2]
    if where == "install":
        from voxflow.zoo import installer
        installer.extract_archive = dying(installer.extract_archive)
        installer.install("fake", sys.argv[3], models=Path(sys.argv[4]), progress=False)
    else:
        from voxflow.zoo import pack, staging
        if mode == "archive":
            pack.write_archive = dying(pack.write_archive)
        elif mode == "between-renames":
            staging.move_aside = dying(staging.move_aside)
        else:
            pack.swap_into_place = dying(pack.swap_into_place)
        pack.pack(sys.argv[3], "tiny", sys.argv[4], checkpoint="latest", force=True)
    """)


def _killed(*args):
    result = subprocess.run([sys.executable, "-c", KILLER, *map(str, args)], capture_output=True, text=True,
                            check=False, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]


def _temp_names(folder, kind_start):
    return sorted(p.name for p in folder.iterdir() if (temp_owner(p.name) or ("",))[0].startswith(kind_start))


def _status(entry_point, argv):
    with pytest.raises(SystemExit) as exit_info:
        entry_point(argv)
    return exit_info.value.code


def test_killed_install_is_cleaned_by_the_next_download(tmp_path, monkeypatch, capsys):
    zoo = make_fake_entry(tmp_path / "zoo", "fake")
    models = tmp_path / "home" / "models"
    _killed("install", "-", zoo, models)
    dead = _temp_names(models, "install-fake")
    assert len(dead) == 1 and (models / dead[0] / ".download" / "weights.tar.gz").is_file()
    live = tempfile.mkdtemp(prefix=temp_prefix("install-fake"), dir=models)  # this process runs: kept
    monkeypatch.setenv("VOXFLOW_HOME", str(tmp_path / "home"))
    assert _status(net_download, ["--zoo-url", str(zoo), "--quiet", "fake"]) == 0
    assert _temp_names(models, "install") == [os.path.basename(live)]
    assert sorted(p.name for p in models.iterdir() if not p.name.startswith(".")) == ["fake"]
    assert not (models / ".voxflow.lock").exists()


def test_download_waits_for_nobody_while_another_installs(tmp_path, monkeypatch, capsys):
    zoo = make_fake_entry(tmp_path / "zoo", "fake")
    models = tmp_path / "home" / "models"
    monkeypatch.setenv("VOXFLOW_HOME", str(tmp_path / "home"))
    with FolderLock(str(models), "the models folder"):
        assert _status(net_download, ["--zoo-url", str(zoo), "--quiet", "fake"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "in use by another voxflow run" in err[0], err
        with pytest.raises(LockedError):
            install("fake", str(zoo), models=models, progress=False)
    assert install("fake", str(zoo), models=models, progress=False).status == "installed"


def test_pack_holds_the_zoo_lock(trained, tmp_path, capsys):
    zoo = tmp_path / "zoo"
    with FolderLock(str(zoo), "the model zoo"):
        with pytest.raises(LockedError, match="the model zoo"):
            pack(trained[0], "tiny", zoo, checkpoint="latest")
        assert _status(net_zoo, ["pack", "-c", trained[0], "--id", "tiny", "--zoo", str(zoo),
                                 "--checkpoint", "latest"]) == 2
    assert "in use by another voxflow run" in capsys.readouterr().err
    assert not (zoo / "index.yaml").exists()


def test_verify_reports_strays_with_size_and_leftovers(trained, tmp_path):
    zoo = tmp_path / "zoo"
    pack(trained[0], "tiny", zoo, checkpoint="latest")
    (zoo / "stray").mkdir()
    (zoo / "stray" / "blob.bin").write_bytes(bytes(3 << 20))
    (zoo / "notes.txt").write_text("hello", encoding="utf-8")
    _killed("pack", "archive", trained[0], zoo)
    dead = _temp_names(zoo, "pack-tiny")
    live = tempfile.mkdtemp(prefix=temp_prefix("pack-other"), dir=zoo)
    assert len(dead) == 1
    problems = verify_zoo(zoo)
    by_name = {line.split(":", 1)[0]: line for line in problems}
    assert "3.0 MiB" in by_name["stray/"] and "not listed in index.yaml" in by_name["stray/"]
    assert "5 B" in by_name["notes.txt"]
    assert "killed" in by_name[f"{dead[0]}/"] and "`net_zoo pack`" in by_name[f"{dead[0]}/"]
    assert "running process" in by_name[f"{os.path.basename(live)}/"]
    assert len(problems) == 4, problems
    pack(trained[0], "tiny", zoo, checkpoint="latest", force=True)
    assert _temp_names(zoo, "pack") == [os.path.basename(live)]  # the live one is kept
    os.rmdir(live)
    shutil.rmtree(zoo / "stray")
    (zoo / "notes.txt").unlink()
    assert verify_zoo(zoo) == []


def test_kill_between_the_entry_renames_is_repaired_with_readme_edits(trained, tmp_path):
    zoo = tmp_path / "zoo"
    pack(trained[0], "tiny", zoo, checkpoint="latest")
    readme = zoo / "tiny" / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nHand-written notes.\n", encoding="utf-8")
    _killed("pack", "between-renames", trained[0], zoo)
    assert not (zoo / "tiny").exists()
    problems = verify_zoo(zoo)
    assert any("tiny/README.md: missing" in line for line in problems)
    assert any(line.startswith(".old-tiny.") and "puts it back" in line for line in problems), problems
    pack(trained[0], "tiny", zoo, checkpoint="latest", force=True)
    assert "Hand-written notes." in readme.read_text(encoding="utf-8")
    assert verify_zoo(zoo) == [] and [p.name for p in zoo.iterdir() if p.name.startswith(".")] == []


def test_kill_between_entry_and_index_is_reported_and_repaired(trained, tmp_path):
    zoo = tmp_path / "zoo"
    pack(trained[0], "tiny", zoo, checkpoint="latest")
    index_before = (zoo / "index.yaml").read_text(encoding="utf-8")
    readme = zoo / "tiny" / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nMore notes.\n", encoding="utf-8")
    _killed("pack", "after-swap", trained[0], zoo)
    assert (zoo / "index.yaml").read_text(encoding="utf-8") == index_before
    problems = verify_zoo(zoo)
    assert any("tiny/README.md: size" in line for line in problems)
    assert any(line.startswith(".tmp.") and "index.yaml" in line for line in problems), problems
    pack(trained[0], "tiny", zoo, checkpoint="latest", force=True)
    assert verify_zoo(zoo) == [] and [p.name for p in zoo.iterdir() if p.name.startswith(".")] == []
