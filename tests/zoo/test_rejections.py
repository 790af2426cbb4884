"""Corrupted files, unsafe archives and unknown entries are refused with one line, exit 2, nothing written."""

import io
import shutil
import tarfile

import pytest

from voxflow.cli.zoo import net_download, net_zoo
from voxflow.zoo.index import read_index_file, record_file, write_index_file


def _download(argv):
    with pytest.raises(SystemExit) as exit_info:
        net_download(argv)
    return exit_info.value.code


@pytest.fixture
def zoo_copy(zoo, tmp_path):
    copy = tmp_path / "zoo"
    shutil.copytree(zoo, copy)
    return copy


def _assert_nothing_installed(home, tmp_path):
    assert not home.exists() or list(home.iterdir()) == []
    assert not (tmp_path / "evil").exists() and not (tmp_path / "home" / "evil").exists()


def _one_error_line(capsys, words):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("net_download: error:"), err
    assert words in err[0]


def test_checksum_mismatch_is_rejected(zoo_copy, home, tmp_path, capsys):
    weights = zoo_copy / "tiny" / "weights.tar.gz"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert _download(["--zoo-url", zoo_copy.as_uri(), "--quiet", "tiny"]) == 2
    _one_error_line(capsys, "Checksum mismatch")
    _assert_nothing_installed(home, tmp_path)
    assert main_verify(zoo_copy) == 2


def main_verify(folder):
    with pytest.raises(SystemExit) as exit_info:
        net_zoo(["verify", str(folder)])
    return exit_info.value.code


def _replace_weights(zoo, build):
    """Replace the entry's archive with one made by ``build(tar)`` and re-index it honestly."""
    path = zoo / "tiny" / "weights.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        build(tar)
    index = read_index_file(zoo)
    index.entries["tiny"].files["weights.tar.gz"] = record_file(zoo / "tiny", "weights.tar.gz")
    write_index_file(zoo, index)


def _add_file(tar, name, payload=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def _add_link(tar, name, target, kind):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    tar.addfile(info)


@pytest.mark.parametrize("case", ["dotdot", "absolute", "symlink", "hardlink", "device"])
def test_unsafe_archive_is_rejected(zoo_copy, home, tmp_path, capsys, case):
    def build(tar):
        _add_file(tar, "models/ckpt-2/meta.json", b"{}")
        if case == "dotdot":
            _add_file(tar, "../../evil")
        elif case == "absolute":
            _add_file(tar, str(tmp_path / "evil"))
        elif case == "symlink":
            _add_link(tar, "models/escape", str(tmp_path), tarfile.SYMTYPE)
        elif case == "hardlink":
            _add_link(tar, "models/escape", "/etc/passwd", tarfile.LNKTYPE)
        else:
            info = tarfile.TarInfo("models/dev")
            info.type = tarfile.CHRTYPE
            tar.addfile(info)

    _replace_weights(zoo_copy, build)
    assert _download(["--zoo-url", str(zoo_copy), "--quiet", "tiny"]) == 2
    _one_error_line(capsys, "Refusing to unpack weights.tar.gz")
    _assert_nothing_installed(home, tmp_path)


def test_missing_entry_and_missing_file_are_rejected(zoo_copy, home, tmp_path, capsys):
    assert _download(["--zoo-url", zoo_copy.as_uri(), "--quiet", "no_such_model"]) == 2
    _one_error_line(capsys, "No entry 'no_such_model'")
    (zoo_copy / "tiny" / "README.md").unlink()
    assert _download(["--zoo-url", zoo_copy.as_uri(), "--quiet", "tiny"]) == 2
    _one_error_line(capsys, "Cannot download")
    _assert_nothing_installed(home, tmp_path)


def test_unsafe_names_in_the_index_are_rejected(zoo_copy, home, capsys):
    text = (zoo_copy / "index.yaml").read_text(encoding="utf-8").replace("README.md:", "../README.md:")
    (zoo_copy / "index.yaml").write_text(text, encoding="utf-8")
    assert _download(["--zoo-url", str(zoo_copy), "--list"]) == 2
    _one_error_line(capsys, "Unsafe file name '../README.md'")
