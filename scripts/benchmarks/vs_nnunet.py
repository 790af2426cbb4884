"""Benchmark: nnU-Net v2 and voxflow's planned config on the CPU under the same wall-clock training
budget, scored on the same held-out subjects with the same Dice code (voxflow.evaluation).

Both sides start from the same voxflow dataset (``--data``, by default the demo built by
``scripts/build_demo_data.py``: T1 + labels 0 background, 1 CSF, 2 GM, 3 WM) and its
``dataset_split.csv``: they train on its training subjects for ``--budget-minutes`` of wall-clock
time and predict its validation (and inference) subjects. The nnU-Net side is
``nnunet_side.run_nnunet`` (dataset conversion, ``nnUNetv2_plan_and_preprocess``, ``nnUNetv2_train``
with a budget trainer, ``nnUNetv2_predict``: see that module); the voxflow side is
:func:`run_voxflow` (``net_segment plan``, then ``train`` and ``inference`` of the planned config;
``--skip-voxflow`` prints voxflow's values as null).

nnU-Net runs in its own Python, ``--nnunet-python`` (default ``$VOXFLOW_NNUNET_PYTHON``, else this
one), e.g. a separate venv::

    python3 -m venv /tmp/nnunet-venv
    /tmp/nnunet-venv/bin/pip install "torch==2.13.0" "nnunetv2==2.8.1"   # or: pip install -e .[bench]

PyPI's torch build runs on the CPU. Where pip also finds a local ``torch 2.13.0+cpu`` wheel, ask for
``"torch==2.13.0,!=2.13.0+cpu"``: PyPI's torchvision 0.28 (imported through timm when nnU-Net looks
up a trainer) fails to load with the +cpu build ("operator torchvision::nms does not exist").

Output, one JSON object per line (see docs/benchmarks.md): per foreground class
``dice_<class>@<budget>min`` (``unit`` ``dice``, ``speedup`` voxflow / nnU-Net: > 1 means voxflow's
Dice is higher), then ``plan_preprocess_s``, ``train_s`` and ``predict_s`` (``unit`` ``s``,
``speedup`` nnU-Net / voxflow) and ``train_iterations@<budget>min``. What nnU-Net ran (schedule,
patch, checkpoint, TTA) goes to stderr.

Run: ``.venv/bin/python scripts/benchmarks/vs_nnunet.py --data /tmp/demo_data --nnunet-python
/tmp/nnunet-venv/bin/python [--budget-minutes 8] [--work DIR] [--skip-voxflow] [--tta]``. Exit 2
(one line on stderr) when nnU-Net is not installed for that Python.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
import nnunet_side  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
INSTALL_HINT = ("install it with `pip install -e .[bench]`, or in a venv of its own: "
                "python3 -m venv /tmp/nnunet-venv && /tmp/nnunet-venv/bin/pip install 'torch==2.13.0' "
                "'nnunetv2==2.8.1', then pass --nnunet-python /tmp/nnunet-venv/bin/python")


def _net_segment(*args: str, log_path: Path) -> tuple[float, str]:
    """Run ``net_segment`` (this Python's) with ``args``; its wall seconds and its output's last line."""
    cmd = [sys.executable, "-c", "import sys; from voxflow.cli.main import application_script; "
           "sys.argv[0] = 'net_segment'; application_script()", *args]
    start = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as handle:
        done = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, check=False,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    seconds = time.perf_counter() - start
    lines = log_path.read_text(encoding="utf-8").strip().splitlines()
    if done.returncode != 0:
        raise RuntimeError(f"net_segment {args[0]} failed ({log_path}): {lines[-1] if lines else 'no output'}")
    return seconds, lines[-1] if lines else ""


def run_voxflow(data: Path, work: Path, budget_s: float, heldout: list[str],
                labels: Mapping[str, int] = nnunet_side.DEMO_LABELS,
                config: Path = REPO / "configs" / "demo_brain_tissue.ini") -> dict[str, Any]:
    """voxflow's side: ``net_segment plan`` on ``data`` (from ``config``), ``train`` for ``budget_s``
    wall-clock seconds on its training subjects, ``inference`` and ``evaluation`` of ``heldout``.

    As nnU-Net's side (fold ``all``: every training subject trains, none validates), nothing is
    chosen on the held-out subjects: no validation rounds, the last checkpoint, no post-processing,
    no test-time mirroring (nnU-Net predicts with ``--disable_tta``). voxflow has no wall-clock stop,
    so the budget is met by measuring: 12 iterations of the planned recipe (their time counts in
    ``train_s``) give the steady seconds per iteration, and ``max_iter`` fills the rest of the
    budget, so the poly schedule still ends at the budget.

    Returns the same keys as :func:`nnunet_side.run_nnunet` (:data:`nnunet_side.RESULT_KEYS`).
    """
    work.mkdir(parents=True, exist_ok=True)
    split = nnunet_side.read_split(data / "dataset_split.csv")
    phases = {s: "inference" if s in heldout else "training" for p in split.values() for s in p}
    (work / "split.csv").write_text("".join(f"{s},{p}\n" for s, p in sorted(phases.items())), encoding="utf-8")
    text = config.read_text(encoding="utf-8")
    for key, value in (("path_to_search", str(data.resolve())), ("model_dir", str(work / "model")),
                       ("dataset_split_file", str(work / "split.csv")), ("dataset_to_infer", "inference"),
                       ("save_seg_dir", str(work / "model" / "output"))):
        text = re.sub(rf"^{key}\s*=.*$", f"{key} = {value}", text, flags=re.M)
    base = work / "config.ini"
    base.write_text(text, encoding="utf-8")
    planned = work / "config_planned.ini"
    plan_s, _ = _net_segment("plan", "-c", str(base), "--output", str(planned), log_path=work / "plan.log")
    fair = ["--validation_every_n", "-1", "--postprocessing", "", "--tta_mirror_axes", "", "--inference_iter", "-1"]
    probe_s, report = _net_segment("train", "-c", str(planned), "--model_dir", str(work / "probe"), "--max_iter", "12",
                                   "--save_every_n", "0", *fair, log_path=work / "probe.log")
    windows_per_s = float(re.search(r"windows_per_s=([0-9.]+)", report).group(1))
    batch = int(re.search(r"^batch_size\s*=\s*(\d+)", planned.read_text(encoding="utf-8"), re.M).group(1))
    seconds_per_iteration = batch / windows_per_s
    start_up = max(probe_s - 12 * seconds_per_iteration, 0.0)
    iterations = max(int((budget_s - probe_s - start_up) / seconds_per_iteration), 1)
    train_s, _ = _net_segment("train", "-c", str(planned), "--max_iter", str(iterations),
                              "--save_every_n", str(iterations), *fair, log_path=work / "train.log")
    predict_s, _ = _net_segment("inference", "-c", str(planned), *fair, log_path=work / "inference.log")
    out = work / "model" / "output"
    files = nnunet_side.find_files(data, "label")
    predictions = {s: next(out.glob(f"{s}_*.nii.gz")) for s in heldout}
    dice, _ = nnunet_side.score(predictions, {s: files[s] for s in heldout}, [v for v in labels.values() if v])
    notes = (f"net_segment plan (CPU, 2 cores) then train {iterations} iterations "
             f"({seconds_per_iteration:.2f} s each, measured by a 12-iteration probe of {probe_s:.0f} s counted in "
             "train_s); no validation, last checkpoint, no post-processing, no mirroring")
    return {"dice": dice, "plan_preprocess_s": plan_s, "train_s": probe_s + train_s, "predict_s": predict_s,
            "iterations": iterations, "subjects": heldout, "notes": notes}


def device_name() -> str:
    """``cpu (<n> cores)``: both sides run on the CPU."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"cpu ({cores} cores)"


def rows(peer_result: Mapping[str, Any], voxflow_result: Mapping[str, Any] | None, budget_minutes: float,
         peer: str, labels: Mapping[str, int] = nnunet_side.DEMO_LABELS, device: str | None = None,
         ) -> list[dict[str, Any]]:
    """Print and return the benchmark's JSON lines (``voxflow_result`` None: voxflow's values null)."""
    device = device or device_name()
    mine = voxflow_result or {}
    budget = f"{budget_minutes:g}min"
    subjects = len(peer_result.get("subjects") or [])
    printed = []
    for name, value in labels.items():
        if value == 0:
            continue
        printed.append(_common.emit(f"dice_{name}@{budget}", "dice", _get(mine.get("dice"), value), peer,
                                    _get(peer_result["dice"], value), device, digits=4, subjects=subjects))
    for key in ("plan_preprocess_s", "train_s", "predict_s"):
        printed.append(_common.emit(key, "s", mine.get(key), peer, peer_result.get(key), device, digits=1))
    printed.append(_common.emit(f"train_iterations@{budget}", "iterations", mine.get("iterations"), peer,
                                peer_result.get("iterations"), device, digits=0))
    return printed


def _get(values: Mapping[Any, float] | None, label: int) -> float | None:
    """``values[label]``, also when the keys became strings (a result read back from JSON)."""
    if not values:
        return None
    return values.get(label, values.get(str(label)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-minutes", type=float, default=8.0, help="wall-clock training budget per side")
    parser.add_argument("--data", type=Path, default=REPO / "demo_data",
                        help="voxflow dataset folder with dataset_split.csv (default: demo_data)")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: a new one in /tmp)")
    parser.add_argument("--nnunet-python", default=os.environ.get("VOXFLOW_NNUNET_PYTHON", sys.executable),
                        help="Python with nnunetv2 installed (default: $VOXFLOW_NNUNET_PYTHON, else this one)")
    parser.add_argument("--skip-voxflow", action="store_true", help="run the nnU-Net side only")
    parser.add_argument("--iterations-per-epoch", type=int, default=10,
                        help="nnU-Net training iterations per epoch (nnUNetTrainer: 250)")
    parser.add_argument("--val-iterations", type=int, default=1,
                        help="nnU-Net validation iterations per epoch (nnUNetTrainer: 50)")
    parser.add_argument("--da-workers", type=int, default=1, help="nnU-Net data-augmentation processes")
    parser.add_argument("--tta", action="store_true", help="nnU-Net predicts with mirroring TTA (its default)")
    parser.add_argument("--dataset-id", type=int, default=nnunet_side.DATASET_ID)
    args = parser.parse_args(argv)

    versions = nnunet_side.nnunet_versions(args.nnunet_python)
    if versions is None:
        print(f"vs_nnunet: nnU-Net v2 (nnunetv2 and torch) is not installed for {args.nnunet_python}: "
              f"{INSTALL_HINT}.", file=sys.stderr)
        return 2
    if not (args.data / "dataset_split.csv").exists():
        print(f"vs_nnunet: no dataset_split.csv in {args.data}: build the demo with "
              f"`python scripts/build_demo_data.py --out {args.data}`.", file=sys.stderr)
        return 1
    work = args.work or Path(tempfile.mkdtemp(prefix="vs_nnunet_"))
    budget_s = args.budget_minutes * 60

    def log(message: str) -> None:
        print(f"[vs_nnunet] {message}", file=sys.stderr, flush=True)

    log(f"nnunetv2 {versions['nnunetv2']} (torch {versions['torch']}) from {args.nnunet_python}; work folder {work}")
    peer_result = nnunet_side.run_nnunet(args.data, work / "nnunet", args.nnunet_python, budget_s,
                                         args.dataset_id, iterations_per_epoch=args.iterations_per_epoch,
                                         val_iterations=args.val_iterations, da_workers=args.da_workers,
                                         tta=args.tta, log=log)
    log(f"nnU-Net: {peer_result['notes']}")
    voxflow_result = None
    if not args.skip_voxflow:
        voxflow_result = run_voxflow(args.data, work / "voxflow", budget_s, list(peer_result["subjects"]))
        log(f"voxflow: {voxflow_result['notes']}; Dice " + ", ".join(
            f"{k}: {v:.4f}" for k, v in voxflow_result["dice"].items()))
    rows(peer_result, voxflow_result, args.budget_minutes, f"nnunetv2 {versions['nnunetv2']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
