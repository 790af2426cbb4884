"""A malformed index.yaml is one ZooError line naming the field, never a crash; aliases are refused."""

import time

import pytest

from voxflow.cli.zoo import net_download
from voxflow.zoo.index import ZooError, parse_index

SHA = "a" * 64
GOOD_FILES = f"      weights.tar.gz: {{size: 10, sha256: '{SHA}'}}\n"


def _entry(body=None, files=GOOD_FILES):
    return "format_version: 1\nentries:\n  e1:\n    version: 1\n" + (body or "") + "    files:\n" + files


@pytest.mark.parametrize("text, words", [
    ("format_version: one\nentries: {}\n", "`format_version` must be a whole number >= 1, found 'one'"),
    ("format_version: 1.5\nentries: {}\n", "`format_version` must be a whole number >= 1, found 1.5"),
    ("format_version: true\nentries: {}\n", "`format_version` must be a whole number"),
    ("format_version: 99\nentries: {}\n", "format_version 99"),
    ("format_version: 1\nentries: [a, b]\n", "`entries` must be a mapping of entry IDs, found a list"),
    ("- 1\n- 2\n", "expected a mapping with `format_version` and `entries`, found a list"),
    ("format_version: 1\nentries:\n  e1: [1]\n", "entry 'e1'"),
    (_entry(files="      weights.tar.gz: [10]\n"), "file record 'weights.tar.gz' in entry 'e1'"),
    (_entry(files="      weights.tar.gz: 10\n"), "file record 'weights.tar.gz' in entry 'e1'"),
    (_entry(files=f"      weights.tar.gz: {{size: -1, sha256: '{SHA}'}}\n"), "`size` must be a whole number >= 0"),
    (_entry(files=f"      weights.tar.gz: {{size: '10', sha256: '{SHA}'}}\n"), "`size` must be a whole number"),
    (_entry(files=f"      weights.tar.gz: {{size: 1.5, sha256: '{SHA}'}}\n"), "`size` must be a whole number"),
    (_entry(files="      weights.tar.gz: {size: 1, sha256: abc}\n"), "`sha256` must be 64 hexadecimal digits"),
    (_entry(files="      weights.tar.gz: {size: 1}\n"), "`sha256` must be 64 hexadecimal digits"),
    (_entry(files="      weights.tar.gz: {size: 1, sha256: '" + SHA + "', sha: x}\n"), "unknown key `sha`"),
    (_entry("    version: x\n"), None),  # duplicate key: refused by the strict loader
    (_entry().replace("    version: 1", "    version: two"), "`version` must be a whole number"),
    (_entry().replace("    version: 1", "    version: 0"), "`version` must be a whole number >= 1"),
    (_entry("    description: {a: 1}\n"), "`description` must be text"),
    (_entry("    network: [unet]\n"), "`network` must be text"),
    (_entry("    weights: [w]\n"), "`weights` must be a file name"),
    (_entry("    weights: other.tar.gz\n"), "its weights archive 'other.tar.gz' is not among its files"),
    ("format_version: 1\nentries:\n  e1:\n    files: {}\n", "non-empty `files` mapping"),
    ("format_version: [\n", "Malformed model-zoo index idx"),
])
def test_malformed_index_is_one_zoo_error_line(text, words):
    with pytest.raises(ZooError) as info:
        parse_index(text, "idx")
    message = str(info.value)
    assert "\n" not in message and "idx" in message
    if words is not None:
        assert words in message


def test_good_index_parses():
    index = parse_index(_entry("    description: d\n    network: unet\n"), "idx")
    assert index.entries["e1"].files["weights.tar.gz"].size == 10
    assert parse_index("", "idx").entries == {} and parse_index("format_version: 1\nentries:\n", "idx").entries == {}


def _laughs(levels=12):
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return ("format_version: 1\nentries:\n  e1:\n    version: 1\n    description:\n"
            + "".join(f"      {line}\n" for line in lines) + "    files:\n" + GOOD_FILES)


def test_nested_anchors_are_refused_quickly_through_the_cli(tmp_path, monkeypatch, capsys):
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    text = _laughs()
    assert len(text) < 2048
    (zoo / "index.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("VOXFLOW_HOME", str(tmp_path / "home"))
    start = time.monotonic()
    with pytest.raises(SystemExit) as exit_info:
        net_download(["--zoo-url", str(zoo), "--list"])
    assert exit_info.value.code == 2 and time.monotonic() - start < 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "aliases" in err[0] and "index.yaml" in err[0] and "line 7" in err[0], err


def test_format_version_word_through_the_cli(tmp_path, monkeypatch, capsys):
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    (zoo / "index.yaml").write_text("format_version: one\nentries: {}\n", encoding="utf-8")
    monkeypatch.setenv("VOXFLOW_HOME", str(tmp_path / "home"))
    with pytest.raises(SystemExit) as exit_info:
        net_download(["--zoo-url", str(zoo), "--list"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and err[0].startswith("net_download: error:"), err


def test_index_file_that_is_not_utf8(tmp_path):
    from voxflow.zoo.index import read_index_file

    (tmp_path / "index.yaml").write_bytes(b"format_version: 1\nentries: {}\n# \xff\xfe\n")
    with pytest.raises(ZooError, match="not UTF-8 text"):
        read_index_file(tmp_path)
