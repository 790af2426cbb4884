"""Unpacked size bounds: a small archive that would unpack to far more is refused before anything is written."""

import time

import pytest
from zoo_data import make_fake_entry, write_archive_of

from voxflow.cli.zoo import net_download
from voxflow.zoo import install
from voxflow.zoo.archive import (
    DEFAULT_LIMITS,
    MAX_MEMBER_ENV,
    MAX_RATIO_ENV,
    MAX_UNPACKED_ENV,
    UnpackLimits,
    extract_archive,
)
from voxflow.zoo.index import ZooError

MIB = 1 << 20


def _status(argv):
    with pytest.raises(SystemExit) as exit_info:
        net_download(argv)
    return exit_info.value.code


def test_defaults_are_the_documented_ones(monkeypatch):
    for name in (MAX_UNPACKED_ENV, MAX_MEMBER_ENV, MAX_RATIO_ENV):
        monkeypatch.delenv(name, raising=False)
    assert DEFAULT_LIMITS == UnpackLimits(total_bytes=4 << 30, member_bytes=2 << 30, ratio=200.0)
    assert UnpackLimits.resolve() == DEFAULT_LIMITS
    assert (MAX_UNPACKED_ENV, MAX_MEMBER_ENV, MAX_RATIO_ENV) == (
        "VOXFLOW_MAX_UNPACKED_MB", "VOXFLOW_MAX_MEMBER_MB", "VOXFLOW_MAX_UNPACK_RATIO")


def test_flags_override_environment_which_overrides_defaults(monkeypatch):
    monkeypatch.setenv(MAX_UNPACKED_ENV, "10")
    monkeypatch.setenv(MAX_RATIO_ENV, "5.5")
    monkeypatch.setenv(MAX_MEMBER_ENV, "3")
    assert UnpackLimits.resolve() == UnpackLimits(10 * MIB, 3 * MIB, 5.5)
    assert UnpackLimits.resolve(max_unpacked_mb=20, max_ratio=7) == UnpackLimits(20 * MIB, 3 * MIB, 7.0)
    monkeypatch.setenv(MAX_UNPACKED_ENV, "lots")
    with pytest.raises(ZooError, match="VOXFLOW_MAX_UNPACKED_MB must be a number > 0, found 'lots'"):
        UnpackLimits.resolve()


@pytest.mark.parametrize("limits, words", [
    (UnpackLimits(total_bytes=8 * MIB, member_bytes=32 * MIB, ratio=1e9), "unpacks to more than 8 MiB"),
    (UnpackLimits(total_bytes=64 * MIB, member_bytes=4 * MIB, ratio=1e9), "member 'big.bin' has 16.0 MiB"),
    (UnpackLimits(total_bytes=64 * MIB, member_bytes=64 * MIB, ratio=10), "more than 10 times"),
])
def test_each_bound_refuses_before_writing(tmp_path, limits, words):
    archive = tmp_path / "w.tar.gz"
    write_archive_of(archive, {"small.json": b"{}", "big.bin": 16 * MIB, "after.json": b"{}"})
    with pytest.raises(ZooError, match=words) as info:
        extract_archive(archive, tmp_path / "out", limits)
    assert "\n" not in str(info.value) and "w.tar.gz" in str(info.value)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_within_bounds_unpacks(tmp_path):
    archive = tmp_path / "w.tar.gz"
    write_archive_of(archive, {"small.json": b"{}", "big.bin": 2 * MIB})
    names = extract_archive(archive, tmp_path / "out", UnpackLimits(4 * MIB, 4 * MIB, 1e9))
    assert names == ["big.bin", "small.json"] and (tmp_path / "out" / "big.bin").stat().st_size == 2 * MIB


def test_default_ratio_catches_a_zero_member_quickly(tmp_path, monkeypatch, capsys):
    """64 MiB of zeros compress to ~64 KiB (ratio ~1000 > 200): refused from the headers alone."""
    for name in (MAX_UNPACKED_ENV, MAX_MEMBER_ENV, MAX_RATIO_ENV):
        monkeypatch.delenv(name, raising=False)
    zoo = make_fake_entry(tmp_path / "zoo", "bomb", members={"models/ckpt-1/meta.json": b"{}",
                                                             "models/ckpt-1/weights.bin": 64 * MIB})
    assert (zoo / "bomb" / "weights.tar.gz").stat().st_size < 256 * 1024
    monkeypatch.setenv("VOXFLOW_HOME", str(tmp_path / "home"))
    start = time.monotonic()
    assert _status(["--zoo-url", str(zoo), "--quiet", "bomb"]) == 2
    assert time.monotonic() - start < 10
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Refusing to unpack weights.tar.gz" in err[0] and "--max-unpack-ratio" in err[0], err
    assert not (tmp_path / "home" / "models").exists() or list((tmp_path / "home" / "models").iterdir()) == []
    # The user who trusts the entry raises the bound, by flag or environment variable.
    assert _status(["--zoo-url", str(zoo), "--quiet", "--max-unpack-ratio", "2000", "bomb"]) == 0
    installed = tmp_path / "home" / "models" / "bomb" / "model" / "models" / "ckpt-1" / "weights.bin"
    assert installed.stat().st_size == 64 * MIB


def test_total_bound_through_install_and_environment(tmp_path, monkeypatch):
    zoo = make_fake_entry(tmp_path / "zoo", "big", members={"a.bin": 3 * MIB, "b.bin": 3 * MIB})
    monkeypatch.setenv(MAX_UNPACKED_ENV, "5")
    monkeypatch.setenv(MAX_RATIO_ENV, "1e6")
    with pytest.raises(ZooError, match="more than 5 MiB.*VOXFLOW_MAX_UNPACKED_MB"):
        install("big", str(zoo), models=tmp_path / "models", progress=False)
    assert install("big", str(zoo), models=tmp_path / "models", progress=False,
                   limits=UnpackLimits.resolve(max_unpacked_mb=7)).status == "installed"


def test_cli_rejects_bad_limit_values(capsys):
    with pytest.raises(SystemExit) as exit_info:
        net_download(["--max-unpacked-mb", "-3", "x"])
    assert exit_info.value.code == 2 and "--max-unpacked-mb" in capsys.readouterr().err


def test_a_header_that_asks_for_a_gigabyte_at_once_is_refused(tmp_path):
    """tarfile reads a PAX header whole: one declaring 1 GiB must not make the check read (or hold) it."""
    import gzip
    import tarfile

    info = tarfile.TarInfo("././@PaxHeader")
    info.type = tarfile.XHDTYPE
    info.size = 1 << 30
    archive = tmp_path / "w.tar.gz"
    archive.write_bytes(gzip.compress(info.tobuf(format=tarfile.USTAR_FORMAT) + bytes(4096)))
    with pytest.raises(ZooError, match="asks to read 1.0 GiB at once"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
