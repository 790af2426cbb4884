"""Writers of evaluation rows: per-row CSV, statistics CSV and console tables (atomic files).

Statistics are taken per LABEL and metric over subjects: ``mean``, ``std`` (population), ``median``,
``min``, ``max`` over the finite values, and ``n`` (finite values), ``n_nan`` and ``n_inf``; a
missed structure (``inf``) is therefore counted, never averaged.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

import numpy as np

from voxflow.atomic import atomic_write_text

STATISTICS = ("mean", "std", "median", "min", "max", "n", "n_nan", "n_inf")


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _format(value: object) -> object:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    return value


def write_rows_csv(path: str, rows: Sequence[dict], metrics: Sequence[str],
                   id_columns: tuple[str, str] = ("SUBJECT", "LABEL")) -> None:
    """One line per subject and unit: the two id columns, then one column per metric."""
    header = [*id_columns, *metrics]
    keys = ["SUBJECT", "LABEL", *metrics]
    atomic_write_text(path, _csv_text(header, [[_format(row.get(k)) for k in keys] for row in rows]))


def statistics(rows: Sequence[dict], metrics: Sequence[str]) -> list[dict[str, object]]:
    """Per LABEL (in first-seen order) and metric: the :data:`STATISTICS` over subjects."""
    labels = list(dict.fromkeys(row["LABEL"] for row in rows))
    table = []
    for label in labels:
        chosen = [row for row in rows if row["LABEL"] == label]
        for metric in metrics:
            values = np.array([float(row[metric]) for row in chosen], dtype=np.float64)
            finite = values[np.isfinite(values)]
            stats: dict[str, object] = {"LABEL": label, "METRIC": metric}
            for name, function in (("mean", np.mean), ("std", np.std), ("median", np.median),
                                   ("min", np.min), ("max", np.max)):
                stats[name] = float(function(finite)) if finite.size else math.nan
            stats.update(n=int(finite.size), n_nan=int(np.isnan(values).sum()), n_inf=int(np.isinf(values).sum()))
            table.append(stats)
    return table


def write_statistics_csv(path: str, rows: Sequence[dict], metrics: Sequence[str]) -> None:
    """The :func:`statistics` table as CSV: LABEL, METRIC, mean, std, median, min, max, n, n_nan, n_inf."""
    table = statistics(rows, metrics)
    header = ["LABEL", "METRIC", *STATISTICS]
    atomic_write_text(path, _csv_text(header, [[_format(s[k]) for k in header] for s in table]))


def console_table(rows: Sequence[dict], metrics: Sequence[str], width: int = 12) -> str:
    """Rows as an aligned text table (SUBJECT, LABEL, metrics with 4 decimals)."""
    names = [m[:width] for m in metrics]
    lines = [f"{'SUBJECT':<16} {'LABEL':<10} " + " ".join(f"{m:>{width}}" for m in names)]
    for row in rows:
        cells = " ".join(f"{float(row[m]):>{width}.4f}" for m in metrics)
        lines.append(f"{str(row['SUBJECT'])[:16]:<16} {str(row['LABEL'])[:10]:<10} {cells}")
    return "\n".join(lines)


def console_statistics(rows: Sequence[dict], metrics: Sequence[str]) -> str:
    """Mean ± std (finite values) per label and metric, with counts of NaN / inf."""
    lines = [f"{'LABEL':<10} {'METRIC':<26} {'mean':>10} {'std':>10} {'median':>10} {'n':>4} {'nan':>4} {'inf':>4}"]
    for s in statistics(rows, metrics):
        lines.append(f"{str(s['LABEL'])[:10]:<10} {str(s['METRIC'])[:26]:<26} {s['mean']:>10.4f} {s['std']:>10.4f} "
                     f"{s['median']:>10.4f} {s['n']:>4} {s['n_nan']:>4} {s['n_inf']:>4}")
    return "\n".join(lines)
