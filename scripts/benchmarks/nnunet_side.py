"""The nnU-Net v2 side of ``vs_nnunet.py``: convert a voxflow dataset, plan, preprocess, train on the
CPU under a wall-clock budget, predict the held-out subjects and score them with voxflow's Dice.

nnU-Net runs in its own Python (``--nnunet-python``; a separate venv keeps torch out of voxflow's),
always through its own command-line tools, each started as ``python -c "<entry point>"`` so that
only the interpreter has to be known:

1. :func:`convert`: ``<data>/<id>_T1.nii.gz`` + ``<id>_label.nii.gz`` and ``dataset_split.csv`` →
   ``nnUNet_raw/Dataset<ID>_<name>/`` with ``imagesTr/<id>_0000.nii.gz``, ``labelsTr/<id>.nii.gz``
   (the split's training subjects), ``imagesTs/<id>_0000.nii.gz`` (its validation and inference
   subjects: the held-out ones) and ``dataset.json`` (channel ``T1``: nnU-Net's z-score
   normalisation; labels background 0, CSF 1, GM 2, WM 3). Files are copied unchanged.
2. :func:`plan_and_preprocess`: ``nnUNetv2_plan_and_preprocess -d ID -c 3d_fullres -np 1 -npfp 1
   --verify_dataset_integrity``.
3. :func:`train`: ``nnUNetv2_train ID 3d_fullres all -tr nnUNetTrainer_VoxflowBudget -device cpu``.
   nnU-Net's stock short trainers (``nnUNetTrainer_1epoch``, ``_5epochs``, ``_10epochs``, ...) keep
   250 iterations per epoch, and one 3d_fullres iteration takes seconds on 2 CPU cores: even one
   epoch overruns a budget of minutes and no checkpoint exists before the end of the run
   (``checkpoint_latest.pth`` is written every 50 epochs). So :data:`BUDGET_TRAINER` is written into
   the folder ``nnUNet_extTrainer`` names (nnU-Net >= 2.6 finds ``-tr`` classes there): a subclass of
   ``nnUNetTrainer`` with its network, loss, augmentation, sampling, optimiser and poly LR decay,
   and another schedule: ``--iterations-per-epoch`` training and ``--val-iterations`` validation
   iterations per epoch, ``num_epochs`` re-estimated after every epoch from the time left (so the
   learning rate decays over the budget as over a full run), no iteration started that would end
   after the deadline (``nnUNetv2_train``'s start + budget), ``checkpoint_final.pth`` written as
   usual, and the final validation on the training cases (fold ``all``) skipped. Should the run
   still overrun (budget + grace), it is killed and the last ``checkpoint_latest.pth`` (saved every
   epoch) is used.
4. :func:`predict`: ``nnUNetv2_predict -i imagesTs -o ... -d ID -c 3d_fullres -f all -tr ...
   -device cpu -npp 1 -nps 1`` with ``--disable_tta`` unless ``tta`` (nnU-Net's default is mirroring
   test-time augmentation: 8 passes per window in 3-D).
5. :func:`score`: Dice per label with ``voxflow.evaluation`` (``read_pair`` + ``Evaluator``), in the
   calling (voxflow's) Python, so that both sides are scored by the same code; mean over subjects.

:func:`run_nnunet` chains them and returns :data:`RESULT_KEYS` (the voxflow side returns the same).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATASET_ID = 987
DATASET_NAME = "VoxflowDemo"
DEMO_LABELS = {"background": 0, "CSF": 1, "GM": 2, "WM": 3}
CONFIGURATION = "3d_fullres"
TRAINER = "nnUNetTrainer_VoxflowBudget"
ENDINGS = (".nii.gz", ".nii")
RESULT_KEYS = ("dice", "plan_preprocess_s", "train_s", "predict_s", "iterations", "subjects", "notes")

# nnU-Net's console scripts (nnunetv2's entry_points.txt), run as ``python -c`` with that interpreter.
ENTRY_POINTS = {
    "nnUNetv2_plan_and_preprocess":
        "nnunetv2.experiment_planning.plan_and_preprocess_entrypoints:plan_and_preprocess_entry",
    "nnUNetv2_train": "nnunetv2.run.run_training:run_training_entry",
    "nnUNetv2_predict": "nnunetv2.inference.predict_from_raw_data:predict_entry_point",
}

BUDGET_TRAINER = '''"""nnU-Net's default trainer under a wall-clock budget (written by voxflow's
scripts/benchmarks/nnunet_side.py into the folder nnUNet_extTrainer names).

Network, loss, data augmentation, sampling, optimiser and poly learning-rate decay are
nnUNetTrainer's; only the schedule changes, read from the environment:
  VOXFLOW_NNUNET_DEADLINE        time.time() by which training must be over
  VOXFLOW_NNUNET_ITERATIONS      training iterations per epoch (nnUNetTrainer: 250)
  VOXFLOW_NNUNET_VAL_ITERATIONS  validation iterations per epoch (nnUNetTrainer: 50)
After every epoch num_epochs becomes the epochs done plus those that fit in the time left (the
last one cut at the deadline), so the learning rate decays over the budget as it does over a full
run. An iteration is not started when it would end after the deadline (its length: the median of
the last five; the validation and end of epoch that follow it: as long as the last ones, half an
iteration before the first). Epoch 0 always runs at least one iteration. checkpoint_latest.pth is saved every epoch,
checkpoint_final.pth at the end as usual; the final validation (on the training cases with fold
"all") is skipped. voxflow_budget.json in the output folder records what ran.
"""

import json
import os
import time
from os.path import join

import torch

from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer


class nnUNetTrainer_VoxflowBudget(nnUNetTrainer):
    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.deadline = float(os.environ.get("VOXFLOW_NNUNET_DEADLINE", "inf"))
        self.num_iterations_per_epoch = int(os.environ.get("VOXFLOW_NNUNET_ITERATIONS", "250"))
        self.num_val_iterations_per_epoch = max(1, int(os.environ.get("VOXFLOW_NNUNET_VAL_ITERATIONS", "50")))
        self.num_epochs = 1000  # an upper bound until the first epoch has been timed
        self.save_every = 1
        self.budget_record = {"iterations": 0, "epochs": 0, "stopped_by": "num_epochs", "epoch_s": [],
                              "iteration_s": [], "num_epochs_planned": []}

    def _fits(self, iteration_s: list, tail_s) -> bool:
        recent = sorted(iteration_s[-5:])
        step = recent[len(recent) // 2] if recent else 0.0
        tail = step / 2 if tail_s is None else tail_s  # before the first validation: half an iteration
        return time.time() + step + tail <= self.deadline

    def run_training(self):
        self.on_train_start()
        record, tail_s = self.budget_record, None
        while self.current_epoch < self.num_epochs:
            if self.current_epoch > 0 and not self._fits(record["iteration_s"], tail_s):
                record["stopped_by"] = "deadline"
                break
            epoch_start = time.time()
            self.on_epoch_start()
            self.on_train_epoch_start()
            train_outputs = []
            for _ in range(self.num_iterations_per_epoch):
                if train_outputs and not self._fits(record["iteration_s"], tail_s):
                    record["stopped_by"] = "deadline"
                    break
                start = time.time()
                train_outputs.append(self.train_step(next(self.dataloader_train)))
                record["iteration_s"].append(round(time.time() - start, 3))
                record["iterations"] += 1
            self.on_train_epoch_end(train_outputs)
            tail_start = time.time()
            with torch.no_grad():
                self.on_validation_epoch_start()
                val_outputs = [self.validation_step(next(self.dataloader_val))
                               for _ in range(self.num_val_iterations_per_epoch)]
                self.on_validation_epoch_end(val_outputs)
            self.on_epoch_end()
            tail_s = time.time() - tail_start
            record["epochs"] += 1
            record["epoch_s"].append(round(time.time() - epoch_start, 3))
            if record["stopped_by"] == "deadline":
                break
            timed = record["epoch_s"][1:] or record["epoch_s"]  # epoch 0 includes the warm-up
            left = self.deadline - time.time()
            more = max(0, -(-left // (sum(timed) / len(timed))))  # ceil: the last one is cut at the deadline
            if more == 0:
                record["stopped_by"] = "deadline"
                break
            self.num_epochs = min(1000, self.current_epoch + int(more))
            self.lr_scheduler.max_steps = max(self.num_epochs, 1)
            record["num_epochs_planned"].append(self.num_epochs)
        self.on_train_end()
        if self.local_rank == 0:
            with open(join(self.output_folder, "voxflow_budget.json"), "w") as handle:
                json.dump(record, handle, indent=1)

    def perform_actual_validation(self, save_probabilities: bool = False):
        self.print_to_log_file("voxflow budget trainer: final validation skipped")
'''


@dataclass
class Converted:
    """An nnU-Net raw dataset made by :func:`convert`."""

    folder: Path  # nnUNet_raw/Dataset<ID>_<name>
    dataset_id: int
    training: list[str]
    heldout: list[str]
    references: dict[str, Path]  # held-out subject id → its voxflow label file
    labels: dict[str, int]
    file_ending: str


# --- the voxflow dataset ----------------------------------------------------------------------

def _ending(name: str) -> str | None:
    return next((e for e in ENDINGS if name.endswith(e)), None)


def _subject_id(stem: str, token: str) -> str:
    """voxflow's id of a file found by ``filename_contains = token``: its name without the
    extension and the token, stripped of ``_ - . `` (``subject_000_T1`` → ``subject_000``)."""
    return stem.replace(token, "").strip("_-. ") or stem


def find_files(data: Path, token: str) -> dict[str, Path]:
    """``{subject id: path}`` of the NIfTI files directly in ``data`` whose name contains ``token``."""
    found: dict[str, Path] = {}
    for path in sorted(Path(data).iterdir()):
        ending = _ending(path.name)
        if ending and token in path.name and path.is_file():
            subject = _subject_id(path.name[: -len(ending)], token)
            if subject in found:
                raise ValueError(f"Subject {subject!r} has two files containing {token!r}: {found[subject]}, {path}.")
            found[subject] = path
    return found


def read_split(path: Path) -> dict[str, list[str]]:
    """``{phase: [subject ids]}`` from voxflow's ``dataset_split_file`` (``subject_id,phase`` rows)."""
    parts: dict[str, list[str]] = {"training": [], "validation": [], "inference": []}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for row in csv.reader(handle):
            row = [cell.strip() for cell in row]
            if len(row) < 2 or not row[0] or row[0].startswith("#") or row[0].lower() in ("subject_id", "subject"):
                continue
            if row[1].lower() not in parts:
                raise ValueError(f"Unknown phase {row[1]!r} for {row[0]!r} in {path}.")
            parts[row[1].lower()].append(row[0])
    return parts


def convert(data: Path, raw_root: Path, dataset_id: int = DATASET_ID, name: str = DATASET_NAME,
            labels: Mapping[str, int] = DEMO_LABELS, image_contains: str = "T1", label_contains: str = "label",
            channel: str = "T1", split_file: Path | None = None) -> Converted:
    """Write a voxflow dataset as nnU-Net raw dataset ``raw_root/Dataset<ID>_<name>`` (replaced).

    Training cases are the split's ``training`` subjects; the held-out (``imagesTs``) ones its
    ``validation`` and ``inference`` subjects, which must have labels (they are scored).

    Raises:
        ValueError: no training or held-out subject, a subject without its image or label, or
            images of different file endings.
    """
    data = Path(data)
    images, label_files = find_files(data, image_contains), find_files(data, label_contains)
    split = read_split(split_file or data / "dataset_split.csv")
    training, heldout = split["training"], split["validation"] + split["inference"]
    if not training or not heldout:
        raise ValueError(f"The split needs training and validation/inference subjects: {split}.")
    missing = [s for s in training + heldout if s not in images or s not in label_files]
    if missing:
        raise ValueError(f"Subjects without a {image_contains!r} image or {label_contains!r} label in {data}: {missing}.")
    endings = {_ending(images[s].name) for s in training + heldout} | {_ending(label_files[s].name) for s in training}
    if len(endings) != 1:
        raise ValueError(f"nnU-Net needs one file ending for all images; found {sorted(endings)}.")
    ending = endings.pop()

    folder = Path(raw_root) / f"Dataset{dataset_id:03d}_{name}"
    if folder.exists():
        shutil.rmtree(folder)
    for sub in ("imagesTr", "labelsTr", "imagesTs"):
        (folder / sub).mkdir(parents=True)
    for subject in training:
        shutil.copyfile(images[subject], folder / "imagesTr" / f"{subject}_0000{ending}")
        shutil.copyfile(label_files[subject], folder / "labelsTr" / f"{subject}{ending}")
    for subject in heldout:
        shutil.copyfile(images[subject], folder / "imagesTs" / f"{subject}_0000{ending}")
    dataset = {"channel_names": {"0": channel}, "labels": dict(labels), "numTraining": len(training),
               "file_ending": ending, "name": name,
               "description": f"voxflow dataset {data} (held out in imagesTs: {', '.join(heldout)})"}
    (folder / "dataset.json").write_text(json.dumps(dataset, indent=2) + "\n", encoding="utf-8")
    return Converted(folder, dataset_id, list(training), list(heldout), {s: label_files[s] for s in heldout},
                     dict(labels), ending)


# --- running nnU-Net --------------------------------------------------------------------------

def command(python: str, tool: str, *args: str) -> list[str]:
    """``python -c`` running the console script ``tool`` (``nnUNetv2_train`` ...) with ``args``."""
    module, function = ENTRY_POINTS[tool].split(":")
    code = f"import sys; from {module} import {function}; sys.argv[0] = {tool!r}; sys.exit({function}())"
    return [python, "-c", code, *map(str, args)]


def nnunet_versions(python: str) -> dict[str, str] | None:
    """``{"nnunetv2": ..., "torch": ...}`` installed for ``python``, or None (no such Python, or
    nnunetv2 or torch missing)."""
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({p: m.version(p) for p in ('nnunetv2', 'torch')}))")
    try:
        result = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def nnunet_env(work: Path, da_workers: int = 1, **extra: str) -> dict[str, str]:
    """The environment of nnU-Net's tools: its three folders and the trainer folder under ``work``,
    no GPU, ``da_workers`` augmentation processes, one thread per helper process (as
    ``nnUNetv2_train``'s own ``__main__``; its ``-device cpu`` gives torch all the cores)."""
    work = Path(work)
    env = dict(os.environ)
    env.update({
        "nnUNet_raw": str(work / "nnUNet_raw"),
        "nnUNet_preprocessed": str(work / "nnUNet_preprocessed"),
        "nnUNet_results": str(work / "nnUNet_results"),
        "nnUNet_extTrainer": str(work / "trainers"),
        "nnUNet_n_proc_DA": str(da_workers),
        "nnUNet_compile": "false",
        "CUDA_VISIBLE_DEVICES": "",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
        **extra,
    })
    return env


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""


def run_logged(cmd: Sequence[str], env: Mapping[str, str], log: Path, timeout: float | None = None) -> tuple[float, bool]:
    """Run ``cmd`` with its output in ``log``; ``(wall seconds, timed out)``. A run past ``timeout``
    is stopped: SIGINT to its process group (nnU-Net saves and exits), SIGTERM 10 s later (a process that
    inherited an ignored SIGINT, as background jobs of a shell do), SIGKILL 10 s after that.

    Raises:
        RuntimeError: a non-zero exit (not counting a timeout), with the end of the log.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as handle:
        process = subprocess.Popen(list(cmd), stdout=handle, stderr=subprocess.STDOUT, env=dict(env),
                                   start_new_session=True)
        timed_out = False
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                os.killpg(process.pid, sig)
                try:
                    process.wait(timeout=10)
                    break
                except subprocess.TimeoutExpired:
                    continue
    seconds = time.perf_counter() - start
    if process.returncode != 0 and not timed_out:
        raise RuntimeError(f"{log.stem} failed (exit {process.returncode}); end of {log}:\n{_tail(log)}")
    return seconds, timed_out


def plan_and_preprocess(python: str, work: Path, dataset_id: int = DATASET_ID, processes: int = 1,
                        da_workers: int = 1) -> float:
    """``nnUNetv2_plan_and_preprocess`` for 3d_fullres; its wall seconds."""
    cmd = command(python, "nnUNetv2_plan_and_preprocess", "-d", str(dataset_id), "-c", CONFIGURATION,
                  "-np", str(processes), "-npfp", str(processes), "--verify_dataset_integrity")
    seconds, _ = run_logged(cmd, nnunet_env(work, da_workers), Path(work) / "logs" / "plan_and_preprocess.log")
    return seconds


def write_budget_trainer(work: Path) -> Path:
    """Write :data:`BUDGET_TRAINER` into ``work/trainers`` (``nnUNet_extTrainer``)."""
    path = Path(work) / "trainers" / f"{TRAINER}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BUDGET_TRAINER, encoding="utf-8")
    return path


def output_folder(work: Path, converted: Converted) -> Path:
    """nnU-Net's model folder of the budget trainer's fold ``all``."""
    return (Path(work) / "nnUNet_results" / converted.folder.name / f"{TRAINER}__nnUNetPlans__{CONFIGURATION}"
            / "fold_all")


def train(python: str, work: Path, converted: Converted, budget_s: float, iterations_per_epoch: int = 10,
          val_iterations: int = 1, da_workers: int = 1, grace_s: float | None = None) -> dict[str, Any]:
    """``nnUNetv2_train ID 3d_fullres all -tr nnUNetTrainer_VoxflowBudget -device cpu`` with its
    deadline at its start + ``budget_s``; killed at the deadline + ``grace_s`` (default: a quarter
    of the budget, at least 2 min). Returns ``train_s``, ``checkpoint`` (the file to predict
    with) and the trainer's ``voxflow_budget.json`` (``iterations``, ``epochs``, ``stopped_by``...).

    Raises:
        RuntimeError: training failed, or was killed before any checkpoint was saved.
    """
    write_budget_trainer(work)
    grace_s = max(120.0, budget_s / 4) if grace_s is None else grace_s
    cmd = command(python, "nnUNetv2_train", str(converted.dataset_id), CONFIGURATION, "all", "-tr", TRAINER,
                  "-device", "cpu")
    env = nnunet_env(work, da_workers, VOXFLOW_NNUNET_ITERATIONS=str(iterations_per_epoch),
                     VOXFLOW_NNUNET_VAL_ITERATIONS=str(val_iterations),
                     VOXFLOW_NNUNET_DEADLINE=repr(time.time() + budget_s))
    seconds, killed = run_logged(cmd, env, Path(work) / "logs" / "train.log", timeout=budget_s + grace_s)
    folder = output_folder(work, converted)
    record: dict[str, Any] = {}
    if (folder / "voxflow_budget.json").exists():
        record = json.loads((folder / "voxflow_budget.json").read_text(encoding="utf-8"))
    checkpoint = next((name for name in ("checkpoint_final.pth", "checkpoint_latest.pth")
                       if (folder / name).exists()), None)
    if checkpoint is None:
        raise RuntimeError(f"nnUNetv2_train left no checkpoint in {folder}; end of its log:\n"
                           f"{_tail(Path(work) / 'logs' / 'train.log')}")
    if killed:
        record.setdefault("stopped_by", f"killed at budget + {grace_s:g} s")
        record.setdefault("iterations", None)
    return {"train_s": seconds, "checkpoint": checkpoint, **record}


def predict(python: str, work: Path, converted: Converted, out: Path, tta: bool = False,
            checkpoint: str = "checkpoint_final.pth", processes: int = 1) -> float:
    """``nnUNetv2_predict`` of ``imagesTs`` into ``out``; its wall seconds."""
    if out.exists():
        shutil.rmtree(out)
    args = ["-i", converted.folder / "imagesTs", "-o", out, "-d", converted.dataset_id, "-c", CONFIGURATION,
            "-f", "all", "-tr", TRAINER, "-chk", checkpoint, "-device", "cpu", "-npp", processes, "-nps", processes,
            "--disable_progress_bar"]
    cmd = command(python, "nnUNetv2_predict", *map(str, args), *([] if tta else ["--disable_tta"]))
    seconds, _ = run_logged(cmd, nnunet_env(work), Path(work) / "logs" / f"predict{'_tta' if tta else ''}.log")
    return seconds


def score(predictions: Mapping[str, Path], references: Mapping[str, Path],
          labels: Sequence[int]) -> tuple[dict[int, float], list[dict[str, Any]]]:
    """Dice per label, mean over subjects, computed by ``voxflow.evaluation`` (``read_pair`` checks
    that each prediction shares its reference's grid); also the per-subject rows.

    Raises:
        ValueError: a reference subject without a prediction.
    """
    from voxflow.evaluation.evaluator import Evaluator  # noqa: PLC0415
    from voxflow.evaluation.files import read_pair  # noqa: PLC0415

    missing = sorted(set(references) - set(predictions))
    if missing:
        raise ValueError(f"No prediction for {missing}.")
    evaluator = Evaluator(("dice",), labels=list(labels))
    for subject in sorted(references):
        ref, seg, spacing = read_pair(str(references[subject]), str(predictions[subject]))
        evaluator.add(subject, ref, seg, spacing)
    dice = {label: sum(float(r["dice"]) for r in evaluator.rows if r["LABEL"] == label)
            / len(references) for label in labels}
    return dice, evaluator.rows


def run_nnunet(data: Path, work: Path, python: str, budget_s: float, dataset_id: int = DATASET_ID,
               labels: Mapping[str, int] = DEMO_LABELS, iterations_per_epoch: int = 10, val_iterations: int = 1,
               da_workers: int = 1, tta: bool = False, log=print) -> dict[str, Any]:  # noqa: ANN001
    """Convert, plan and preprocess, train for ``budget_s`` s, predict and score the held-out
    subjects. Returns :data:`RESULT_KEYS` (``dice`` by label value) plus ``train`` (the trainer's
    record) and ``tta``."""
    work = Path(work)
    converted = convert(data, work / "nnUNet_raw", dataset_id, labels=labels)
    log(f"nnU-Net: {len(converted.training)} training, {len(converted.heldout)} held-out subjects "
        f"({', '.join(converted.heldout)}) in {converted.folder}")
    plan_s = plan_and_preprocess(python, work, dataset_id, da_workers=da_workers)
    log(f"nnU-Net: planning + preprocessing {plan_s:.1f} s; training for {budget_s:g} s")
    trained = train(python, work, converted, budget_s, iterations_per_epoch, val_iterations, da_workers)
    log(f"nnU-Net: trained {trained['train_s']:.1f} s, {trained.get('iterations')} iterations in "
        f"{trained.get('epochs')} epochs (stopped by {trained.get('stopped_by')})")
    out = work / f"predictions{'_tta' if tta else ''}"
    predict_s = predict(python, work, converted, out, tta, trained["checkpoint"])
    predictions = {s: out / f"{s}{converted.file_ending}" for s in converted.heldout}
    values = [v for v in labels.values() if v != 0]
    dice, _ = score(predictions, converted.references, values)
    log(f"nnU-Net: predicted {len(predictions)} subjects in {predict_s:.1f} s "
        f"({'with' if tta else 'without'} mirroring TTA); Dice " + ", ".join(f"{k}: {v:.4f}" for k, v in dice.items()))
    plans = json.loads((work / "nnUNet_preprocessed" / converted.folder.name / "nnUNetPlans.json").read_text())
    plan = plans["configurations"][CONFIGURATION]
    notes = (f"nnUNetv2_train ... 3d_fullres all -tr {TRAINER} -device cpu (nnUNetTrainer with "
             f"{iterations_per_epoch} iterations/epoch, {val_iterations} validation iterations/epoch, "
             f"epochs fitted to the {budget_s:g} s budget, stopped by {trained.get('stopped_by')}); "
             f"patch {plan.get('patch_size')}, batch {plan.get('batch_size')}; predicted with "
             f"{trained['checkpoint']}, {'with' if tta else 'without'} mirroring TTA; "
             f"{da_workers} augmentation worker(s)")
    return {"dice": dice, "plan_preprocess_s": plan_s, "train_s": trained["train_s"], "predict_s": predict_s,
            "iterations": trained.get("iterations"), "subjects": converted.heldout, "notes": notes,
            "train": trained, "tta": tta}
