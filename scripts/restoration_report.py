"""Print the restoration demo's held-out result: the network against the classical answer.

Reads two ``net_regress evaluation`` tables (the network's outputs, and the degraded input evaluated
as if it were the output) and prints, per test brain, PSNR and SSIM over the whole image and inside
the brain mask, with the difference, as a Markdown table, then the same as one JSON line.

Usage::

    python scripts/restoration_report.py --network runs/demo_restoration/evaluation/evaluation.csv \
        --baseline runs/demo_restoration/baseline_evaluation/evaluation.csv --subjects colin27,icbm2009c
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

METRICS = ("psnr", "ssim")


def read_rows(path: Path) -> dict[tuple[str, str], dict[str, float]]:
    """``{(subject, region): {metric: value}}`` of an evaluation table (region ``image`` or ``mask``)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return {(row["SUBJECT"], row["LABEL"]): {m: float(row[m]) for m in METRICS} for row in csv.DictReader(handle)}


def report(network: Path, baseline: Path, subjects: list[str]) -> dict:
    """``{subject: {region: {metric: {"network", "baseline", "gain"}}}}``."""
    ours, theirs = read_rows(network), read_rows(baseline)
    result: dict = {}
    for subject in subjects:
        for region in ("image", "mask"):
            key = (subject, region)
            if key not in ours or key not in theirs:
                raise KeyError(f"no row for subject '{subject}' ({region}) in both tables")
            result.setdefault(subject, {})[region] = {
                m: {"network": ours[key][m], "baseline": theirs[key][m], "gain": ours[key][m] - theirs[key][m]}
                for m in METRICS}
    return result


def markdown(result: dict) -> str:
    """The table the README shows."""
    lines = ["| test brain | region | PSNR B-spline (dB) | PSNR network (dB) | gain | SSIM B-spline | SSIM network | gain |",
             "|---|---|---|---|---|---|---|---|"]
    for subject, regions in result.items():
        for region, metrics in regions.items():
            p, s = metrics["psnr"], metrics["ssim"]
            lines.append(f"| {subject} | {'brain' if region == 'mask' else 'whole image'} | {p['baseline']:.2f} | "
                         f"{p['network']:.2f} | {p['gain']:+.2f} | {s['baseline']:.4f} | {s['network']:.4f} | "
                         f"{s['gain']:+.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--subjects", required=True, help="comma-separated subject ids")
    args = parser.parse_args(argv)
    try:
        result = report(args.network, args.baseline, [s for s in args.subjects.split(",") if s])
    except (OSError, KeyError, ValueError) as error:
        print(f"restoration_report: error: {error}", file=sys.stderr)
        return 2
    print(markdown(result))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
