"""Score the registration demo against the known truth, next to SimpleITK's diffeomorphic demons.

For every test case of ``scripts/build_registration_data.py`` (a real brain, fixed, and the same brain
deformed by a known random diffeomorphism, moving) this reads what ``net_reg inference`` wrote
(``<case>_field`` in world mm and ``<case>_warped_label``) into each ``--outputs NAME=DIR`` and
computes, inside the fixed brain (``fixed > 0``):

- ``epe_mm``: mean end-point error of the field against the true field (``<case>_truth``);
  ``epe_identity_mm`` is the true field's mean length (no registration);
- ``dice``: mean Dice over the atlas regions present in the fixed labels (AAL on Colin27, HCPEx on
  the ICBM 2009c brain), of the warped moving labels (``dice_before``: of the moving labels);
- ``folded_percent`` (det J <= 0) and ``sd_log_jacobian`` of the field;
- ``seconds``: the classical method's registration time.

The classical answer, on the same pair and grid, its field read back as world mm: SimpleITK's
``DiffeomorphicDemonsRegistrationFilter`` (``--demons-iterations``, Gaussian smoothing of the field of
``--demons-sigma`` voxels) for mono-modal pairs; with ``--moving T2like`` (demons match intensities, so
they cannot register two contrasts) a cubic B-spline transform (a control point every ~20 mm) fitted by
L-BFGS-B to Mattes mutual information (32 bins, 10 % of the voxels), at 4 then 2 mm. Prints JSON and a
Markdown table.

Usage::

    python scripts/registration_report.py --data registration_data/test --outputs "network=DIR" [--outputs ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    image = nib.load(str(path))
    data = np.asarray(image.dataobj)
    if data.ndim == 5:
        data = data[:, :, :, 0]
    return data, image.affine


def jacobian(field: np.ndarray, affine: np.ndarray) -> np.ndarray:
    grads = np.stack([np.stack(np.gradient(field[..., i]), -1) for i in range(3)], -2) @ np.linalg.inv(affine[:3, :3])
    return np.linalg.det(np.eye(3) + grads)


def mean_dice(reference: np.ndarray, labels: np.ndarray) -> float:
    values = [v for v in np.unique(reference) if v != 0]
    scores = []
    for value in values:
        a, b = reference == value, labels == value
        scores.append(2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b)))
    return float(np.mean(scores))


def scores(field: np.ndarray, truth: np.ndarray, fixed_labels: np.ndarray, warped_labels: np.ndarray,
           brain: np.ndarray, affine: np.ndarray) -> dict:
    det = jacobian(field, affine)[brain]
    return {"epe_mm": float(np.linalg.norm(field - truth, axis=-1)[brain].mean()),
            "dice": mean_dice(fixed_labels, warped_labels),
            "folded_percent": float(100.0 * np.mean(det <= 0)),
            "sd_log_jacobian": float(np.std(np.log(np.clip(det, 1e-9, 1e9))))}


def demons(fixed_path: Path, moving_path: Path, labels_path: Path, iterations: int, sigma: float) -> tuple:
    """SimpleITK's diffeomorphic demons: (field world mm RAS (X, Y, Z, 3), warped labels, seconds)."""
    import SimpleITK as sitk  # noqa: PLC0415

    fixed = sitk.ReadImage(str(fixed_path), sitk.sitkFloat32)
    moving = sitk.ReadImage(str(moving_path), sitk.sitkFloat32)
    start = time.perf_counter()
    method = sitk.DiffeomorphicDemonsRegistrationFilter()
    method.SetNumberOfIterations(iterations)
    method.SetStandardDeviations(sigma)
    displacement = method.Execute(fixed, moving)
    seconds = time.perf_counter() - start
    transform = sitk.DisplacementFieldTransform(sitk.Cast(displacement, sitk.sitkVectorFloat64))
    labels = sitk.ReadImage(str(labels_path))
    warped = sitk.Resample(labels, fixed, transform, sitk.sitkNearestNeighbor, 0)
    lps = np.transpose(sitk.GetArrayFromImage(displacement), (2, 1, 0, 3)).astype(np.float64)
    field = lps * np.array([-1.0, -1.0, 1.0])  # ITK's LPS vectors -> RAS
    return field, np.transpose(sitk.GetArrayFromImage(warped), (2, 1, 0)), seconds


def bspline_mi(fixed_path: Path, moving_path: Path, labels_path: Path) -> tuple:
    """SimpleITK B-spline registration by Mattes mutual information: (field world mm RAS, warped labels, seconds)."""
    import SimpleITK as sitk  # noqa: PLC0415

    fixed = sitk.ReadImage(str(fixed_path), sitk.sitkFloat32)
    moving = sitk.ReadImage(str(moving_path), sitk.sitkFloat32)
    start = time.perf_counter()
    mesh = [max(1, int(round(n * s / 20.0))) for n, s in zip(fixed.GetSize(), fixed.GetSpacing(), strict=True)]
    transform = sitk.BSplineTransformInitializer(fixed, mesh)
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(32)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(0.1, 1)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsLBFGSB(gradientConvergenceTolerance=1e-5, numberOfIterations=100)
    method.SetShrinkFactorsPerLevel([2, 1])
    method.SetSmoothingSigmasPerLevel([1, 0])
    method.SetInitialTransform(transform, inPlace=True)
    method.Execute(fixed, moving)
    seconds = time.perf_counter() - start
    displacement = sitk.TransformToDisplacementField(transform, sitk.sitkVectorFloat64, fixed.GetSize(),
                                                     fixed.GetOrigin(), fixed.GetSpacing(), fixed.GetDirection())
    labels = sitk.ReadImage(str(labels_path))
    warped = sitk.Resample(labels, fixed, transform, sitk.sitkNearestNeighbor, 0)
    lps = np.transpose(sitk.GetArrayFromImage(displacement), (2, 1, 0, 3)).astype(np.float64)
    return lps * np.array([-1.0, -1.0, 1.0]), np.transpose(sitk.GetArrayFromImage(warped), (2, 1, 0)), seconds


def report(data: Path, outputs: dict[str, Path], brains: list[str], iterations: int, sigma: float,
           moving_name: str = "T1") -> dict:
    cases = sorted(p.name[: -len("_truth.nii.gz")] for p in data.glob("*_truth.nii.gz"))
    cases = [c for c in cases if any(c.startswith(b + "_") for b in brains)]
    rows = []
    for case in cases:
        fixed, affine = load(data / f"{case}_fixed_T1.nii.gz")
        truth, _ = load(data / f"{case}_truth.nii.gz")
        fixed_labels, _ = load(data / f"{case}_fixed_labels.nii.gz")
        moving_labels, _ = load(data / f"{case}_moving_labels.nii.gz")
        brain = fixed > 0
        ours = {}
        for name, folder in outputs.items():
            field, _ = load(folder / f"{case}_field.nii.gz")
            warped, _ = load(folder / f"{case}_warped_label.nii.gz")
            ours[name] = scores(field.astype(np.float64), truth, fixed_labels, warped, brain, affine)
        pair = (data / f"{case}_fixed_T1.nii.gz", data / f"{case}_moving_{moving_name}.nii.gz",
                data / f"{case}_moving_labels.nii.gz")
        if moving_name == "T1":
            theirs_field, theirs_labels, seconds = demons(*pair, iterations, sigma)
        else:
            theirs_field, theirs_labels, seconds = bspline_mi(*pair)
        theirs = scores(theirs_field, truth, fixed_labels, theirs_labels, brain, affine)
        theirs["seconds"] = seconds
        rows.append({"case": case, "epe_identity_mm": float(np.linalg.norm(truth, axis=-1)[brain].mean()),
                     "dice_before": mean_dice(fixed_labels, moving_labels), **ours, "classical": theirs})
    summary = {}
    for brain_name in brains:
        chosen = [r for r in rows if r["case"].startswith(brain_name + "_")]
        if not chosen:
            continue
        summary[brain_name] = {
            "cases": len(chosen),
            "epe_identity_mm": float(np.mean([r["epe_identity_mm"] for r in chosen])),
            "dice_before": float(np.mean([r["dice_before"] for r in chosen])),
            **{method: {key: float(np.mean([r[method][key] for r in chosen])) for key in chosen[0][method]}
               for method in (*outputs, "classical")}}
    classical = ({"method": "SimpleITK diffeomorphic demons", "iterations": iterations, "sigma_voxels": sigma}
                 if moving_name == "T1" else {"method": "SimpleITK B-spline, Mattes MI", "control_spacing_mm": 20})
    return {"rows": rows, "summary": summary, "methods": [*outputs, "classical"], "classical": classical}


def markdown(result: dict) -> str:
    lines = ["| brain | method | mean EPE (mm) | mean region Dice | folded voxels (%) | SD log J | time per pair (s) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for brain, s in result["summary"].items():
        lines.append(f"| {brain} | none (identity) | {s['epe_identity_mm']:.2f} | {s['dice_before']:.3f} | 0 | 0 | - |")
        for method in result["methods"]:
            m = s[method]
            name = result["classical"]["method"] if method == "classical" else f"voxflow: {method}"
            seconds = f"{m['seconds']:.1f}" if "seconds" in m else "see benchmarks"
            lines.append(f"| {brain} | {name} | {m['epe_mm']:.2f} | {m['dice']:.3f} | {m['folded_percent']:.3f} | "
                         f"{m['sd_log_jacobian']:.3f} | {seconds} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--outputs", action="append", required=True, help="NAME=DIR of net_reg inference outputs "
                        "(repeat for several)")
    parser.add_argument("--brains", default="colin27,icbm2009c")
    parser.add_argument("--demons-iterations", type=int, default=100)
    parser.add_argument("--demons-sigma", type=float, default=1.5)
    parser.add_argument("--moving", default="T1", choices=("T1", "T2like"),
                        help="the moving images' contrast (T2like: the multimodal variant)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    try:
        outputs = dict((item.split("=", 1)[0], Path(item.split("=", 1)[1])) if "=" in item else ("network", Path(item))
                       for item in args.outputs)
        result = report(args.data, outputs, args.brains.split(","), args.demons_iterations, args.demons_sigma,
                        args.moving)
    except (OSError, ValueError) as err:
        print(f"registration_report: {err}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["summary"], indent=2))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
