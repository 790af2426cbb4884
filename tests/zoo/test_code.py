"""Code in a zoo entry is declared, listed with its SHA-256, never unpacked from the weights, never imported."""

import re

import pytest
from zoo_data import make_fake_entry

from voxflow.cli.zoo import net_download
from voxflow.zoo import install
from voxflow.zoo.archive import is_code
from voxflow.zoo.index import ZooError, parse_index

SHA = "0" * 64
EVIL = "import pathlib\npathlib.Path({marker!r}).write_text('ran')\n\nclass EvilNet:\n    pass\n"


def _status(argv):
    with pytest.raises(SystemExit) as exit_info:
        net_download(argv)
    return exit_info.value.code


def _index(files, code=None):
    lines = ["format_version: 1", "entries:", "  e1:", "    version: 1"]
    if code is not None:
        lines.append(f"    code: {code}")
    lines.append("    files:")
    lines += [f"      {name}: {{size: 1, sha256: '{SHA}'}}" for name in ["weights.tar.gz", *files]]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name, code", [
    ("net.py", True), ("lib/fast.cpython-311-x86_64-linux-gnu.so", True), ("a.PYC", True), ("x.pth", True),
    ("m.pyd", True), ("old.pyo", True), ("pkg/__init__.py", True), ("README.md", False),
    ("weights.tar.gz", False), ("model/meta.json", False)])
def test_is_code_by_suffix(name, code):
    assert is_code(name) is code


def test_files_inside_a_package_are_code():
    names = {"pkg/__init__.py", "pkg/data/table.json", "other/table.json"}
    assert is_code("pkg/data/table.json", names) and not is_code("other/table.json", names)


def test_index_refuses_undeclared_code():
    with pytest.raises(ZooError, match=r"entry 'e1' .*'my_net.py' is code .* not listed under `code`"):
        parse_index(_index(["my_net.py"]), "idx")
    with pytest.raises(ZooError, match=r"'pkg/table.json' is code"):
        parse_index(_index(["pkg/__init__.py", "pkg/table.json"], code="[pkg/__init__.py]"), "idx")
    with pytest.raises(ZooError, match=r"entry 'e1' .*`code` names 'ghost.py', which is not among its files"):
        parse_index(_index([], code="[ghost.py]"), "idx")
    with pytest.raises(ZooError, match=r"`code` must be a list of file names"):
        parse_index(_index([], code="{a: 1}"), "idx")
    entry = parse_index(_index(["my_net.py"], code="[my_net.py]"), "idx").entries["e1"]
    assert entry.code == ["my_net.py"] and entry.to_yaml()["code"] == ["my_net.py"]
    assert parse_index(_index([]), "idx").entries["e1"].code == []


@pytest.fixture
def code_zoo(tmp_path, monkeypatch):
    """A zoo whose entry ``withcode`` ships ``my_net.py``, which writes a marker file if it is ever run."""
    marker = tmp_path / "ran.txt"
    make_fake_entry(tmp_path / "zoo", "withcode", files={"my_net.py": EVIL.format(marker=str(marker))})
    monkeypatch.setenv("VOXFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VOXFLOW_ZOO_URL", str(tmp_path / "zoo"))
    return tmp_path / "zoo", marker


def test_info_lists_code_apart_with_sha_and_consent(code_zoo, capsys):
    zoo, marker = code_zoo
    assert _status(["--info", "withcode"]) == 0
    out = capsys.readouterr().out
    files_part, code_part = out.split("code (", 1)
    assert "my_net.py" not in files_part and "README.md" in files_part
    sha = parse_index((zoo / "index.yaml").read_text(encoding="utf-8"), "idx").entries["withcode"].files["my_net.py"]
    assert "my_net.py  " in code_part and sha.sha256 in code_part
    assert "--trust-downloaded-code" in code_part
    assert not marker.exists()


def test_download_names_the_code_in_one_notice_and_never_runs_it(code_zoo, tmp_path, capsys):
    zoo, marker = code_zoo
    assert _status(["--quiet", "withcode"]) == 0
    notices = [line for line in capsys.readouterr().out.splitlines() if "my_net.py" in line]
    assert len(notices) == 1 and "--trust-downloaded-code" in notices[0]
    installed = tmp_path / "home" / "models" / "withcode"
    assert (installed / "my_net.py").is_file() and (installed / "install.json").is_file()
    assert not marker.exists()


@pytest.mark.parametrize("member", ["model/evilnet.py", "evilnet.py", "evilnet/__init__.py", "models/EVIL.PY",
                                    "lib/evil.cpython-311-x86_64-linux-gnu.so", "site/evil.pth", "evil.pyc"])
def test_weights_archive_with_code_is_refused(tmp_path, monkeypatch, capsys, member):
    """The attack found: index, config.ini and --info all say toynet; the weights carry a network and a
    settings_train.ini naming it."""
    marker = tmp_path / "ran.txt"
    members = {"models/ckpt-1/meta.json": b"{}", "settings_train.ini": b"[NETWORK]\nname = evilnet.EvilNet\n",
               member: EVIL.format(marker=str(marker)).encode()}
    zoo = make_fake_entry(tmp_path / "zoo", "toy", members=members)
    models = tmp_path / "home" / "models"
    with pytest.raises(ZooError, match=re.escape(f"member '{member}' is code")):
        install("toy", str(zoo), models=models, progress=False)
    assert not models.exists() or [p.name for p in models.iterdir()] == []
    monkeypatch.setenv("VOXFLOW_HOME", str(tmp_path / "home"))
    assert _status(["--zoo-url", str(zoo), "--quiet", "toy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Refusing to unpack weights.tar.gz" in err[0] and member in err[0]
    assert not marker.exists()


def test_pack_refuses_to_write_code_into_the_weights(tmp_path):
    from voxflow.zoo.archive import write_archive

    source = tmp_path / "net.py"
    source.write_text("", encoding="utf-8")
    with pytest.raises(ZooError, match="'models/net.py' is code"):
        write_archive(tmp_path / "w.tar.gz", [("models/net.py", source)])
