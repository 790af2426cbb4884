"""``net_evaluate``: compare segmentations with references, file by file, without TensorFlow.

Example:
    net_evaluate --ref labels/ --seg output/ --suffix _seg --metrics dice,hausdorff95,surface_dice@1 \\
        --labels 1,2 --csv results.csv --plot results.png

Writes ``--csv`` (one row per subject and label), ``<csv stem>_statistics.csv`` (mean, std, median,
min, max, counts of NaN/inf over subjects) and prints both tables. User errors (missing file,
different grids, unknown metric) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from voxflow.cli.guard import run_guarded
from voxflow.errors import DataError

DEFAULT = "dice,jaccard,hausdorff95,average_distance"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="net_evaluate", allow_abbrev=False,
        description="Evaluate segmentations against references (metrics per subject and label).",
        epilog="Metric names: see docs/evaluation.md (e.g. dice, hausdorff95, hausdorff@99, surface_dice@1, "
               "surface_dice_2mm, f_measure@2, average_distance).")
    parser.add_argument("--ref", required=True, help="folder of reference label maps, or CSV subject_id,path")
    parser.add_argument("--seg", required=True, help="folder of segmentations, or CSV subject_id,path")
    parser.add_argument("--metrics", default=DEFAULT, help=f"comma-separated metric names (default {DEFAULT})")
    parser.add_argument("--labels", default=None, help="comma-separated label values (default: all non-zero)")
    parser.add_argument("--units", default="label", choices=("label", "foreground", "cc"),
                        help="evaluate each label, foreground vs background, or connected components")
    parser.add_argument("--ref-suffix", default="", help="suffix removed from reference names to get the subject id")
    parser.add_argument("--suffix", "--seg-suffix", dest="seg_suffix", default="",
                        help="suffix removed from segmentation names, e.g. _seg")
    parser.add_argument("--csv", required=True, help="output CSV (one row per subject and label)")
    parser.add_argument("--plot", default=None, help="box plots of each metric per label (PNG/PDF/SVG)")
    parser.add_argument("--quiet", action="store_true", help="do not print the tables")
    return parser


def run(argv: list[str] | None = None) -> int:
    """Run ``net_evaluate``; returns the exit status."""
    args = _parser().parse_args(argv)
    return run_guarded("net_evaluate", lambda: _evaluate(args), user_errors=(ValueError,))


def _evaluate(args: argparse.Namespace) -> int:
    from voxflow.evaluation import writers  # noqa: PLC0415
    from voxflow.evaluation.evaluator import Evaluator  # noqa: PLC0415
    from voxflow.evaluation.files import list_files, read_pair  # noqa: PLC0415

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    try:
        labels = None if args.labels is None else [int(v) for v in args.labels.split(",") if v.strip()]
    except ValueError as err:
        raise DataError(f"--labels expects comma-separated integers. Received {args.labels!r}.") from err
    evaluator = Evaluator(metrics, labels=labels, units=args.units)
    refs, segs = list_files(args.ref, args.ref_suffix), list_files(args.seg, args.seg_suffix)
    missing = sorted(set(segs) - set(refs))
    if missing:
        raise DataError(f"No reference for segmentation subject(s) {', '.join(missing)} in {args.ref}.")
    if not segs:
        raise DataError(f"No segmentation images found in {args.seg}.")
    for subject in sorted(segs):
        ref, seg, spacing = read_pair(refs[subject], segs[subject])
        evaluator.add(subject, ref, seg, spacing)
    names = evaluator.metric_names
    from voxflow.atomic import clean_leftovers  # noqa: PLC0415

    clean_leftovers(os.path.dirname(os.path.abspath(args.csv)), kinds=("tmp",))  # a killed run's
    stem = os.path.splitext(args.csv)[0]
    writers.write_rows_csv(args.csv, evaluator.rows, names)
    writers.write_statistics_csv(f"{stem}_statistics.csv", evaluator.rows, names)
    if args.plot:
        from voxflow.evaluation.plots import box_plots  # noqa: PLC0415

        box_plots(args.plot, evaluator.rows, names)
    if not args.quiet:
        print(writers.console_table(evaluator.rows, names))
        print()
        print(writers.console_statistics(evaluator.rows, names))
    return 0


def main(argv: list[str] | None = None) -> None:
    """Console entry point ``net_evaluate``: exits with the status of :func:`run`."""
    sys.exit(run(argv))


if __name__ == "__main__":  # pragma: no cover
    main()
