"""Print the QC demo's held-out result next to chance: metrics, confusion matrix, accuracy per test brain.

Reads what ``net_classify evaluation`` wrote (``evaluation.csv``: ``metric,class,value``;
``confusion_matrix.csv``: rows = true class, columns = predicted) and, for the accuracy of each
test brain, the inferred classes (``classes_class.csv``) and the true ones (``labels.csv``). Chance
is a guess that ignores the image: with balanced classes, 1/K accuracy, balanced accuracy and
macro-F1 (K classes), and an ROC AUC of 0.5.

Usage::

    python scripts/qc_report.py --evaluation runs/demo_qc/evaluation \
        --classes runs/demo_qc/output/classes_class.csv --labels qc_data/labels.csv

Prints Markdown, then the same as one JSON line; exits 2 with a one-line error if a file is missing
or malformed.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc")


def read_table(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def read_confusion(path: Path) -> tuple[list[str], list[list[int]]]:
    """``(class names, counts)`` of a confusion_matrix.csv (rows true, columns predicted)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    names = rows[0][1:]
    counts = [[int(c) for c in row[1:]] for row in rows[1:]]
    if [row[0] for row in rows[1:]] != names or any(len(row) != len(names) for row in counts):
        raise ValueError(f"{path} is not a square confusion matrix with the same classes on both axes")
    return names, counts


def brain_of(subject: str, classes: set[str]) -> str:
    """The base brain of a volume id ``<brain>_<class>[_<instance>]`` (``colin27_spike_1`` → ``colin27``)."""
    parts = subject.split("_")
    for cut in range(len(parts) - 1, 0, -1):
        if parts[cut] in classes:
            return "_".join(parts[:cut])
    return subject


def report(evaluation: Path, classes_csv: Path, labels_csv: Path) -> dict:
    """``{"metrics": {name: {"value", "chance"}}, "classes", "confusion", "per_brain": {brain: accuracy}, ...}``."""
    rows = read_table(evaluation / "evaluation.csv")
    values = {row["metric"]: float(row["value"]) for row in rows if not row["class"]}
    names, confusion = read_confusion(evaluation / "confusion_matrix.csv")
    k = len(names)
    chance = {"accuracy": 1.0 / k, "balanced_accuracy": 1.0 / k, "macro_f1": 1.0 / k, "roc_auc": 0.5}
    metrics = {m: {"value": values[m], "chance": chance[m]} for m in METRICS if m in values}
    truth = {row["subject_id"]: row["class"] for row in read_table(labels_csv)}
    per_brain: dict[str, list[int]] = {}
    for row in read_table(classes_csv):
        subject = row["subject_id"]
        if subject not in truth:
            raise KeyError(f"inferred subject '{subject}' has no row in {labels_csv}")
        hits = per_brain.setdefault(brain_of(subject, set(names)), [0, 0])
        hits[0] += int(row["class"] == truth[subject])
        hits[1] += 1
    recall = {name: (row[i] / sum(row) if sum(row) else float("nan")) for i, (name, row) in enumerate(zip(names, confusion))}
    return {"metrics": metrics, "classes": names, "confusion": confusion, "recall": recall,
            "per_brain": {brain: hit / total for brain, (hit, total) in per_brain.items()},
            "volumes": sum(map(sum, confusion))}


def markdown(result: dict) -> str:
    """Metrics against chance, the confusion matrix and the accuracy per test brain."""
    lines = [f"held-out volumes: {result['volumes']}", "", "| metric | network | chance |", "|---|---|---|"]
    lines += [f"| {name} | {m['value']:.3f} | {m['chance']:.3f} |" for name, m in result["metrics"].items()]
    names = result["classes"]
    lines += ["", "confusion matrix (rows: true class, columns: predicted)", "",
              "| true \\ predicted | " + " | ".join(names) + " | recall |", "|---" * (len(names) + 2) + "|"]
    for name, row in zip(names, result["confusion"]):
        lines.append(f"| {name} | " + " | ".join(map(str, row)) + f" | {result['recall'][name]:.2f} |")
    lines += ["", "| test brain | accuracy |", "|---|---|"]
    lines += [f"| {brain} | {accuracy:.3f} |" for brain, accuracy in result["per_brain"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluation", type=Path, required=True, help="save_csv_dir of net_classify evaluation")
    parser.add_argument("--classes", type=Path, required=True, help="the inferred classes table (classes_class.csv)")
    parser.add_argument("--labels", type=Path, required=True, help="the true classes (labels.csv)")
    args = parser.parse_args(argv)
    try:
        result = report(args.evaluation, args.classes, args.labels)
    except (OSError, KeyError, ValueError) as error:
        print(f"qc_report: error: {error}", file=sys.stderr)
        return 2
    print(markdown(result))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
