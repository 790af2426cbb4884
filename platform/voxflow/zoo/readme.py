"""The README of a packed entry: the facts ``net_zoo pack`` knows, for the author to finish.

The generated facts sit between ``<!-- pack:start -->`` and ``<!-- pack:end -->``; when an entry
is packed again only that block is replaced, so what the author wrote around it is kept.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from typing import Any

START, END = "<!-- pack:start -->", "<!-- pack:end -->"


def _split_counts(path: str) -> dict[str, list[str]]:
    phases: dict[str, list[str]] = defaultdict(list)
    if path and os.path.isfile(path):
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                if len(row) >= 2 and row[0].strip() and row[0].strip().lower() not in ("subject_id", "subject"):
                    phases[row[1].strip()].append(row[0].strip())
    return phases


def _evaluation_means(folder: str) -> dict[str, dict[str, float]]:
    """Mean of each metric column per label of ``<folder>/evaluation.csv`` (empty if absent); a
    long table (``metric, class, value``: net_classify's) gives each metric per class."""
    path = os.path.join(folder, "evaluation.csv") if folder else ""
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    if path and os.path.isfile(path):
        with open(path, newline="", encoding="utf-8") as handle:
            for raw in csv.DictReader(handle):
                row = {key.lower(): value for key, value in raw.items()}
                if "metric" in row and "value" in row:  # one metric per row
                    try:
                        sums[row.get("class") or "all"][row["metric"]].append(float(row["value"]))
                    except (TypeError, ValueError):
                        pass
                    continue
                label = row.get("label", "?")
                for key, value in row.items():
                    if key not in ("subject_id", "subject", "label"):
                        try:
                            sums[label][key].append(float(value))
                        except (TypeError, ValueError):
                            continue
    return {label: {k: sum(v) / len(v) for k, v in metrics.items() if v} for label, metrics in sums.items()}


def facts_block(cfg: Any, iteration: int, best: dict | None, label_values: list[int] | None) -> str:
    """Markdown listing what is known about the trained model (between the pack markers)."""
    image_sections = list(cfg.app.image)
    lines = [START, "", "## Facts recorded by `net_zoo pack`", ""]
    args = ", ".join(f"{k}={v}" for k, v in (cfg.network.network_args or {}).items())
    lines.append(f"- Network: `{cfg.network.name}`" + (f" ({args})" if args else ""))
    classes = cfg.app.num_classes if "num_classes" in cfg.app else None
    values = f"; label values {label_values}" if label_values else ""
    if classes:
        lines.append(f"- Classes: {classes} (outputs 0..{classes - 1}{values})")
    for name in image_sections:
        section = cfg.inputs[name]
        window = "×".join(map(str, section.spatial_window_size))
        spacing = ("resampled to " + "×".join(f"{v:g}" for v in section.pixdim) + " mm" if section.pixdim
                   else "spacing kept as in the file")
        orientation = ("reoriented to " + "".join(section.axcodes) if section.axcodes
                       else "orientation kept as in the file")
        lines.append(f"- Input `[{name}]`: window {window} voxels; {spacing}; {orientation}")
    norm = [step for step, on in (("histogram standardisation", cfg.network.normalisation),
                                  ("whitening", cfg.network.whitening)) if on]
    where = " (foreground only)" if cfg.network.normalise_foreground_only and norm else ""
    lines.append(f"- Intensity: {', '.join(norm) or 'none'}{where}")
    lines.append(f"- Checkpoint: iteration {iteration} of {cfg.training.max_iter} "
                 f"(loss {cfg.training.loss_type}, optimiser {cfg.training.optimiser}, lr {cfg.training.lr:g})")
    if best:
        lines.append(f"- Best validation: iteration {best.get('iteration')}, "
                     f"{best.get('metric', 'metric')} {float(best.get('value', float('nan'))):.4f}")
    phases = _split_counts(cfg.system.dataset_split_file)
    for phase in ("training", "validation", "inference"):
        if phases.get(phase):
            shown = ", ".join(phases[phase][:8]) + (" ..." if len(phases[phase]) > 8 else "")
            lines.append(f"- {phase.capitalize()} subjects ({len(phases[phase])}): {shown}")
    means = _evaluation_means(cfg.evaluation.save_csv_dir)
    if means:
        metrics = sorted({m for row in means.values() for m in row})
        lines += ["", "Evaluation of the training run (`evaluation.csv`, mean over subjects):", "",
                  "| label | " + " | ".join(metrics) + " |", "| --- |" + " --- |" * len(metrics)]
        for label in sorted(means, key=lambda s: (len(s), s)):
            lines.append(f"| {label} | " + " | ".join(f"{means[label].get(m, float('nan')):.4f}" for m in metrics) + " |")
    lines += ["", END]
    return "\n".join(lines)


def render_readme(entry_id: str, facts: str, existing: str | None = None, script: str = "net_segment") -> str:
    """A new README around ``facts``, or ``existing`` with its facts block replaced; ``script`` is
    the application's console script."""
    if existing and START in existing and END in existing:
        head, rest = existing.split(START, 1)
        return head + facts + rest.split(END, 1)[1]
    return f"""# {entry_id}

TODO (author): one paragraph on the task — what is predicted, from which images.

## Training data and licence

TODO (author): where the training images come from and under which licence they may be used.

## Input assumptions

TODO (author): modality, orientation, spacing, intensity range, skull-stripping, field of view.

## Metrics

TODO (author): the metrics on held-out subjects, and how to reproduce them.

## How to run

```bash
net_download {entry_id}
{script} inference -c ~/.voxflow/models/{entry_id}/config.ini \\
    --path_to_search my_images/ --save_seg_dir my_segmentations/
```

{facts}
"""
