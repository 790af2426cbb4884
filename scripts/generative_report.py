"""Score the generation demos (scripts/demo_generative.sh) next to their classical or trivial baselines.

Three reports, each printing a Markdown table and writing JSON (``--json``):

``vae``: each held-out real brain's reconstruction by ``net_autoencoder`` (``--outputs``,
``<brain>_generated.nii.gz``) and by **PCA** fitted to the same training brains (as many components as
the training set allows, at most the VAE's code length), and by the mean training brain, against the
brain itself: MAE, PSNR (data range 1) and SSIM (7-voxel window), all on the [0, 1] scale of the
model's training range (``intensity_range.json``).

``simulator``: each held-out pose's simulated slice (``--outputs``, ``<case>_generated.nii.gz``) and the
**nearest training pose's** true slice (nearest by the mean distance between corresponding pixels'
world positions, from the coordinate maps), against the pose's true reslice: MAE, PSNR, SSIM on the
[0, 1] scale.

``gan``: sets of latent codes written by ``net_autoencoder inference --inference_type encode`` of an
encoder voxflow trained on the training slices (``codes_generated.csv``): generated samples, held-out
real slices and training slices. The Fréchet distance between Gaussians fitted to two sets of codes
(FID's formula in voxflow's own feature space: not FID, not comparable with published FIDs), k-NN
precision and recall (k = 3) and the unbiased linear-kernel MMD, for generated vs held-out real and vs
the training slices it learnt from, next to training vs held-out real (the domain shift between the one
training template and the other brains) and one half of the held-out slices vs the other (the floor two
real samples reach). Diversity: mean pairwise SSIM of generated and of held-out real slices.

Usage::

    python scripts/generative_report.py vae --train DIR --test DIR --outputs DIR --model DIR [--latent 64]
    python scripts/generative_report.py simulator --data DIR --outputs DIR --model DIR
    python scripts/generative_report.py gan --generated CODES.csv --real CODES.csv --train CODES.csv
        [--generated-images DIR --real-images DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

from voxflow.evaluation.continuous import mean_absolute_error, peak_signal_to_noise_ratio, structural_similarity
from voxflow.evaluation.generation import frechet_distance, mean_pairwise_ssim, mmd, precision_recall


def load(path: Path) -> np.ndarray:
    return np.asarray(nib.load(str(path)).dataobj, np.float64).squeeze()


def value_range(model: Path) -> tuple[float, float]:
    saved = json.loads((model / "intensity_range.json").read_text(encoding="utf-8"))
    return float(saved["low"]), float(saved["high"])


def unit(array: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    low, high = scale
    return np.clip((array - low) / (high - low), 0.0, 1.0)


def scores(truth: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    """MAE, PSNR (data range 1) and SSIM of two images on the [0, 1] scale."""
    return {"mae": mean_absolute_error(truth, estimate),
            "psnr": peak_signal_to_noise_ratio(truth, estimate, data_range=1.0),
            "ssim": structural_similarity(truth, estimate)}


def pca_reconstruction(train: np.ndarray, test: np.ndarray, components: int) -> np.ndarray:
    """``test`` rows projected onto the mean and top ``components`` principal axes of ``train`` rows."""
    mean = train.mean(axis=0)
    _, _, axes = np.linalg.svd(train - mean, full_matrices=False)
    basis = axes[:components]
    return mean + (test - mean) @ basis.T @ basis


def mean_rows(rows: list[dict], methods: list[str]) -> dict[str, dict[str, float]]:
    return {m: {k: float(np.mean([r[m][k] for r in rows])) for k in ("mae", "psnr", "ssim")} for m in methods}


def table(rows: list[dict], methods: list[str], key: str) -> str:
    lines = [f"| {key} | " + " | ".join(f"{m} MAE / PSNR / SSIM" for m in methods) + " |",
             "| --- |" + " --- |" * len(methods)]
    for row in rows:
        cells = [f"{row[m]['mae']:.4f} / {row[m]['psnr']:.2f} / {row[m]['ssim']:.3f}" for m in methods]
        lines.append(f"| {row[key]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- vae
def report_vae(args: argparse.Namespace) -> dict:
    scale = value_range(Path(args.model))
    train_files = sorted(Path(args.train).glob("*_T1.nii.gz"))
    test_files = sorted(Path(args.test).glob("*_T1.nii.gz"))
    if not train_files or not test_files:
        raise ValueError(f"no *_T1.nii.gz in {args.train} or {args.test}")
    train = np.stack([unit(load(p), scale).ravel() for p in train_files])
    truths = [unit(load(p), scale) for p in test_files]
    components = min(int(args.latent), len(train_files) - 1)
    pca = pca_reconstruction(train, np.stack([t.ravel() for t in truths]), components)
    rows = []
    for path, truth, linear in zip(test_files, truths, pca):
        brain = path.name[: -len("_T1.nii.gz")]
        output = Path(args.outputs) / f"{brain}_generated.nii.gz"
        vae = unit(load(output), scale)
        rows.append({"brain": brain, "vae": scores(truth, vae), f"pca{components}": scores(truth, linear.reshape(truth.shape)),
                     "mean brain": scores(truth, train.mean(axis=0).reshape(truth.shape))})
    methods = ["vae", f"pca{components}", "mean brain"]
    return {"rows": rows, "mean": mean_rows(rows, methods), "methods": methods, "key": "brain",
            "training_brains": len(train_files)}


# ------------------------------------------------------------------------------------- simulator
def _coordinates(folder: Path, case: str, step: int = 8) -> np.ndarray:
    return np.stack([load(folder / f"{case}_coord{axis}.nii.gz")[::step, ::step] for axis in "XYZ"], -1).reshape(-1, 3)


def report_simulator(args: argparse.Namespace) -> dict:
    data, scale = Path(args.data), value_range(Path(args.model))
    train_cases = sorted(p.name[: -len("_img.nii.gz")] for p in (data / "train").glob("*_img.nii.gz"))
    test_cases = sorted(p.name[: -len("_img.nii.gz")] for p in (data / "test").glob("*_img.nii.gz"))
    train_coords = np.stack([_coordinates(data / "train", c) for c in train_cases])
    rows = []
    for case in test_cases:
        coords = _coordinates(data / "test", case)
        nearest = train_cases[int(np.argmin(np.linalg.norm(train_coords - coords, axis=-1).mean(axis=1)))]
        truth = unit(load(data / "test" / f"{case}_img.nii.gz"), scale)
        simulated = unit(load(Path(args.outputs) / f"{case}_generated.nii.gz"), scale)
        baseline = unit(load(data / "train" / f"{nearest}_img.nii.gz"), scale)
        rows.append({"case": case, "simulator": scores(truth, simulated), "nearest training pose": scores(truth, baseline)})
    methods = ["simulator", "nearest training pose"]
    return {"rows": rows, "mean": mean_rows(rows, methods), "methods": methods, "key": "case",
            "test_poses": len(test_cases), "training_poses": len(train_cases)}


# ------------------------------------------------------------------------------------------- gan
def read_codes(path: Path) -> np.ndarray:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    columns = [c for c in rows[0] if c.startswith("mean_")]
    return np.array([[float(row[c]) for c in columns] for row in rows])


def _images(folder: str | None, pattern: str) -> np.ndarray | None:
    if not folder:
        return None
    return np.stack([load(p) for p in sorted(Path(folder).glob(pattern))])


def report_gan(args: argparse.Namespace) -> dict:
    generated, real, train = (read_codes(Path(p)) for p in (args.generated, args.real, args.train))
    half = np.random.default_rng(0).permutation(len(real))
    first, second = real[half[: len(real) // 2]], real[half[len(real) // 2:]]

    def compare(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        precision, recall = precision_recall(b, a, k=3)
        return {"frechet": frechet_distance(a, b), "precision": precision, "recall": recall,
                "mmd_linear": mmd(a, b, kernel="linear")}

    result = {"generated vs held-out real": compare(generated, real), "generated vs training": compare(generated, train),
              "training vs held-out real": compare(train, real), "held-out half vs half": compare(first, second),
              "counts": {"generated": len(generated), "held-out real": len(real), "training": len(train)}}
    fake_images, real_images = _images(args.generated_images, "sample_*.nii.gz"), _images(args.real_images, "*_img.nii.gz")
    if fake_images is not None and real_images is not None:
        result["diversity (mean pairwise SSIM)"] = {"generated": mean_pairwise_ssim(fake_images),
                                                    "held-out real": mean_pairwise_ssim(real_images)}
    return result


def markdown(kind: str, result: dict) -> str:
    if kind == "gan":
        lines = ["| comparison | Fréchet distance (voxflow encoder) | precision | recall | MMD (linear) |",
                 "| --- | --- | --- | --- | --- |"]
        for name in ("generated vs held-out real", "generated vs training", "training vs held-out real",
                     "held-out half vs half"):
            r = result[name]
            lines.append(f"| {name} | {r['frechet']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} | {r['mmd_linear']:.3f} |")
        if "diversity (mean pairwise SSIM)" in result:
            d = result["diversity (mean pairwise SSIM)"]
            lines.append(f"\nmean pairwise SSIM: generated {d['generated']:.3f}, held-out real {d['held-out real']:.3f}")
        return "\n".join(lines)
    text = table(result["rows"], result["methods"], result["key"])
    means = " | ".join(f"{result['mean'][m]['mae']:.4f} / {result['mean'][m]['psnr']:.2f} / {result['mean'][m]['ssim']:.3f}"
                       for m in result["methods"])
    return text + f"\n| **mean** | {means} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="kind", required=True)
    vae = sub.add_parser("vae")
    vae.add_argument("--train", required=True)
    vae.add_argument("--test", required=True)
    vae.add_argument("--outputs", required=True)
    vae.add_argument("--model", required=True)
    vae.add_argument("--latent", type=int, default=64)
    simulator = sub.add_parser("simulator")
    simulator.add_argument("--data", required=True)
    simulator.add_argument("--outputs", required=True)
    simulator.add_argument("--model", required=True)
    gan = sub.add_parser("gan")
    for name in ("--generated", "--real", "--train"):
        gan.add_argument(name, required=True)
    gan.add_argument("--generated-images")
    gan.add_argument("--real-images")
    for each in (vae, simulator, gan):
        each.add_argument("--json")
    args = parser.parse_args(argv)
    try:
        result = {"vae": report_vae, "simulator": report_simulator, "gan": report_gan}[args.kind](args)
    except (OSError, ValueError, KeyError) as err:
        print(f"generative_report.py: {err}", file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(markdown(args.kind, result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
