"""net_download and net_zoo command lines: listing, info, help without TensorFlow, exit statuses."""

import io
import subprocess
import sys
import tarfile

import pytest

from voxflow.cli.zoo import net_download, net_zoo
from voxflow.zoo.index import Entry, Index, record_file, write_index_file


def _status(entry_point, argv):
    with pytest.raises(SystemExit) as exit_info:
        entry_point(argv)
    return exit_info.value.code


@pytest.fixture
def fake_zoo(tmp_path, monkeypatch):
    """A zoo with one entry whose archive holds a single file (no training needed)."""
    zoo = tmp_path / "zoo"
    entry = zoo / "fake"
    entry.mkdir(parents=True)
    (entry / "README.md").write_text("# fake\n\nA fake entry for CLI tests.\n", encoding="utf-8")
    (entry / "config.ini").write_text("[SYSTEM]\nmodel_dir = model\n\n[T1]\npath_to_search =\n", encoding="utf-8")
    with tarfile.open(entry / "weights.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("models/ckpt-1/meta.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    files = {n: record_file(entry, n) for n in ("README.md", "config.ini", "weights.tar.gz")}
    write_index_file(zoo, Index({"fake": Entry("fake", 3, files, description="a fake entry", network="toynet")}))
    monkeypatch.setenv("VOXFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VOXFLOW_ZOO_URL", zoo.as_uri())
    return zoo


def test_list_and_info(fake_zoo, capsys):
    assert _status(net_download, ["--list"]) == 0
    out = capsys.readouterr().out
    assert "fake  v3" in out and "a fake entry" in out and "[installed]" not in out
    assert _status(net_download, ["--info", "fake"]) == 0
    out = capsys.readouterr().out
    assert "weights.tar.gz" in out and "sha256" in out and "A fake entry for CLI tests." in out


def test_install_rewrites_paths_and_is_idempotent(fake_zoo, tmp_path, capsys):
    assert _status(net_download, ["--quiet", "fake"]) == 0
    installed = tmp_path / "home" / "models" / "fake"
    assert f"model_dir = {installed / 'model'}" in (installed / "config.ini").read_text(encoding="utf-8")
    assert (installed / "model" / "models" / "ckpt-1" / "meta.json").read_text(encoding="utf-8") == "{}"
    assert "installed in" in capsys.readouterr().out
    assert _status(net_download, ["--quiet", "fake"]) == 0
    assert "already installed and verified" in capsys.readouterr().out
    assert _status(net_download, ["--list"]) == 0
    assert "[installed]" in capsys.readouterr().out


def test_errors_exit_2_with_one_line(fake_zoo, tmp_path, capsys):
    assert _status(net_download, []) == 2
    assert _status(net_download, ["--zoo-url", "ftp://example.org/zoo", "fake"]) == 2
    assert "Unsupported model-zoo URL" in capsys.readouterr().err
    assert _status(net_download, ["--zoo-url", str(tmp_path / "nowhere"), "--list"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert _status(net_download, ["../escape"]) == 2
    assert "Invalid model-zoo entry ID" in capsys.readouterr().err
    assert _status(net_zoo, ["verify", str(tmp_path)]) == 2
    assert "No index.yaml" in capsys.readouterr().err
    assert _status(net_zoo, ["verify", str(fake_zoo)]) == 0
    (fake_zoo / "fake" / "extra.py").write_text("", encoding="utf-8")
    assert _status(net_zoo, ["verify", str(fake_zoo)]) == 2
    assert "extra.py: not listed in the index" in capsys.readouterr().err


def test_help_and_listing_do_not_import_tensorflow(fake_zoo):
    code = ("import sys\nfrom voxflow.cli.zoo import net_download\ntry:\n    net_download(['--list'])\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\nassert 'tensorflow' not in sys.modules\n"
            "print('clean')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr
    result = subprocess.run([sys.executable, "-m", "voxflow.cli.zoo", "pack", "--help"], capture_output=True,
                            text=True, check=False, timeout=60)
    assert result.returncode == 0 and "--checkpoint" in result.stdout


def _one_line(capsys, prog, words):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{prog}: error:"), err
    assert words in err[0], err


def test_voxflow_home_that_is_a_file(fake_zoo, tmp_path, monkeypatch, capsys):
    (tmp_path / "home_file").write_text("", encoding="utf-8")
    monkeypatch.setenv("VOXFLOW_HOME", str(tmp_path / "home_file"))
    assert _status(net_download, ["--quiet", "fake"]) == 2
    _one_line(capsys, "net_download", "VOXFLOW_HOME")
    assert _status(net_download, ["--list"]) == 2
    _one_line(capsys, "net_download", "is a file")


def test_zoo_folders_that_are_files(fake_zoo, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("", encoding="utf-8")
    assert _status(net_download, ["--zoo-url", str(a_file), "--list"]) == 2
    _one_line(capsys, "net_download", f"Model-zoo folder {a_file} is a file")
    assert _status(net_download, ["--zoo-url", a_file.as_uri(), "fake"]) == 2
    _one_line(capsys, "net_download", "is a file")
    assert _status(net_zoo, ["pack", "-c", str(tmp_path / "none.ini"), "--id", "x", "--zoo", str(a_file)]) == 2
    _one_line(capsys, "net_zoo", f"--zoo {a_file} is a file")
    assert _status(net_zoo, ["verify", str(a_file)]) == 2
    _one_line(capsys, "net_zoo", "is a file")


def test_download_progress_in_a_log_reaches_100_percent(fake_zoo, capsys):
    assert _status(net_download, ["fake"]) == 0  # stderr is not a terminal here: plain lines
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [line for line in err.splitlines() if line.startswith("weights.tar.gz:")]
    assert len(lines) == 1 and "(100%)" in lines[0], err
