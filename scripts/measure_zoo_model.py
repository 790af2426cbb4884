"""Measure a model-zoo entry's Dice on freshly built held-out subjects, as anyone can rerun it.

1. builds ``--subjects`` demo subjects with ``scripts/build_demo_data.py`` under a seed the
   entry was not trained with (``--seed 1``; training used seed 0),
2. installs the entry with ``net_download`` into a temporary ``VOXFLOW_HOME`` (from the zoo
   shipped in this checkout, or ``--zoo-url``),
3. runs ``net_segment inference`` and ``net_segment evaluation`` with the installed config,
4. prints the Dice per class (mean, min, max over subjects) as JSON on stdout.

Usage::

    python scripts/measure_zoo_model.py [--entry brain_tissue_unet] [--subjects 6] [--seed 1]
        [--zoo-url URL] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NAMES = {"brain_tissue_unet": {"1": "csf", "2": "gm", "3": "wm"}}


def _run(args: list[str], env: dict[str, str]) -> None:
    """Runs a voxflow command in a fresh interpreter; raises with its stderr on failure."""
    result = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} ... failed ({result.returncode}):\n{result.stderr[-3000:]}")


def _net_segment(*args: str) -> list[str]:
    return ["-c", "from voxflow.cli.main import net_segment; net_segment()", *args]


def measure(entry: str, subjects: int, seed: int, work: Path, zoo_url: str | None) -> dict:
    """Builds, installs, infers and evaluates in ``work``; returns the JSON report."""
    env = {**os.environ, "VOXFLOW_HOME": str(work / "home"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    if zoo_url:
        env["VOXFLOW_ZOO_URL"] = zoo_url
    data, seg, evaluation = work / "data", work / "segmentations", work / "evaluation"
    start = time.perf_counter()
    _run([str(REPO_ROOT / "scripts" / "build_demo_data.py"), "--out", str(data), "--subjects", str(subjects),
          "--validation", "0", "--seed", str(seed)], env)
    _run(["-m", "voxflow.cli.zoo", "download", "--quiet", entry], env)
    config = work / "home" / "models" / entry / "config.ini"
    common = ["-c", str(config), "--path_to_search", str(data), "--save_seg_dir", str(seg)]
    _run(_net_segment("inference", *common), env)
    _run(_net_segment("evaluation", *common, "--save_csv_dir", str(evaluation), "--evaluations", "dice"), env)
    per_label: dict[str, dict[str, float]] = {}
    with open(evaluation / "evaluation.csv", newline="", encoding="utf-8") as handle:
        for raw in csv.DictReader(handle):
            row = {key.lower(): value for key, value in raw.items()}  # SUBJECT/subject_id, LABEL/label
            subject = row.get("subject_id", row.get("subject"))
            per_label.setdefault(row["label"], {})[subject] = float(row["dice"])
    names = NAMES.get(entry, {})
    install = json.loads((config.parent / "install.json").read_text(encoding="utf-8"))
    dice = {}
    for label in sorted(per_label, key=int):
        values = list(per_label[label].values())
        dice[names.get(label, label)] = {"label": int(label), "mean": round(sum(values) / len(values), 4),
                                         "min": round(min(values), 4), "max": round(max(values), 4)}
    return {"entry": entry, "version": install["version"], "held_out_subjects": subjects, "builder_seed": seed,
            "dice": dice, "seconds": round(time.perf_counter() - start, 1)}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entry", default="brain_tissue_unet", help="zoo entry ID (default: brain_tissue_unet)")
    parser.add_argument("--subjects", type=int, default=6, help="held-out subjects to build (default: 6)")
    parser.add_argument("--seed", type=int, default=1, help="builder seed; training used 0 (default: 1)")
    parser.add_argument("--zoo-url", default=None, help="zoo to install from (default: this checkout's model_zoo/)")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        report = measure(args.entry, args.subjects, args.seed, args.keep.resolve(), args.zoo_url)
    else:
        with tempfile.TemporaryDirectory(prefix="voxflow-measure-") as tmp:
            report = measure(args.entry, args.subjects, args.seed, Path(tmp), args.zoo_url)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
