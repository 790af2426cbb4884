"""Evaluator units (label, foreground, cc), CSV / statistics writers, console tables, box plots."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from voxflow.evaluation import Evaluator, writers


def _maps():
    ref = np.zeros((12, 10, 6), dtype=np.int64)
    ref[1:4, 1:4, 1:4] = 1
    ref[7:10, 6:9, 1:4] = 2
    seg = ref.copy()
    seg[1:4, 1:4, 4] = 1  # one extra slice of label 1
    seg[7:10, 6:9, 1:4] = 0  # label 2 missed
    seg[5, 8, 5] = 3  # a false-positive component (a label not evaluated)
    return ref, seg


def test_units_label_foreground_cc():
    ref, seg = _maps()
    by_label = Evaluator(["dice", "hausdorff"], labels=[1, 2]).add("s", ref, seg, (1.0, 1.0, 2.0))
    assert [r["LABEL"] for r in by_label] == [1, 2]
    assert by_label[0]["dice"] == pytest.approx(2 * 27 / (27 + 36)) and by_label[1]["hausdorff"] == math.inf
    fg = Evaluator(["dice"], units="foreground").add("s", ref, seg)
    assert fg == [{"SUBJECT": "s", "LABEL": "foreground", "dice": pytest.approx(2 * 27 / (54 + 37))}]
    cc = Evaluator(["dice", "tp"], units="cc").add("s", ref, seg)
    assert [r["LABEL"] for r in cc] == ["cc1", "cc2", "fp2"]
    assert cc[1]["dice"] == 0.0 and cc[2]["tp"] == 0.0
    with pytest.raises(ValueError, match="units"):
        Evaluator(["dice"], units="lesion")
    with pytest.raises(ValueError, match="Did you mean"):
        Evaluator(["dcie"])


def test_csv_statistics_and_console(tmp_path):
    ref, seg = _maps()
    evaluator = Evaluator(["dice", "hausdorff95"], labels=[1, 2])
    for subject in ("a", "b"):
        evaluator.add(subject, ref, seg)
    names = evaluator.metric_names
    writers.write_rows_csv(str(tmp_path / "rows.csv"), evaluator.rows, names)
    with open(tmp_path / "rows.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["SUBJECT", "LABEL", "dice", "hausdorff95"] and len(rows) == 4
    assert rows[1]["hausdorff95"] == "inf"
    writers.write_statistics_csv(str(tmp_path / "stats.csv"), evaluator.rows, names)
    with open(tmp_path / "stats.csv", encoding="utf-8") as handle:
        stats = {(r["LABEL"], r["METRIC"]): r for r in csv.DictReader(handle)}
    assert float(stats[("1", "dice")]["mean"]) == pytest.approx(2 * 27 / 63)
    assert stats[("2", "hausdorff95")]["n_inf"] == "2" and stats[("2", "hausdorff95")]["mean"] == "nan"
    assert not list(tmp_path.glob(".tmp-*"))  # atomic writes leave nothing behind
    table = writers.console_table(evaluator.rows, names)
    assert "SUBJECT" in table and len(table.splitlines()) == 5
    assert "mean" in writers.console_statistics(evaluator.rows, names)


def test_box_plots(tmp_path):
    pytest.importorskip("matplotlib")
    from voxflow.evaluation.plots import box_plots

    rows = [{"SUBJECT": s, "LABEL": label, "dice": 0.5 + 0.1 * i, "hausdorff95": math.inf if i == 2 else 1.0}
            for i, s in enumerate("abc") for label in (1, 2)]
    box_plots(str(tmp_path / "plot.png"), rows, ["dice", "hausdorff95"])
    assert (tmp_path / "plot.png").stat().st_size > 1000
