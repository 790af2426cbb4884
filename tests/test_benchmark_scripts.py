"""The benchmark scripts keep their output contract: one JSON object per line and case, with
``case``, ``unit``, ``voxflow``, ``peer``, ``peer_value``, ``speedup`` and ``device``.

Run on tiny inputs (the numbers mean nothing at this size); peers are timed only where installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = ("case", "unit", "voxflow", "peer", "peer_value", "speedup", "device")


def _rows(script: str, *args: str) -> list[dict]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmarks" / script), *args],
                            capture_output=True, text=True, encoding="utf-8", env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    rows = [json.loads(line) for line in lines]  # every line is one JSON object
    assert rows and all(isinstance(row, dict) for row in rows)
    return rows


def _check(row: dict) -> None:
    assert all(key in row for key in REQUIRED), row
    # times are printed rounded to 0.1 ms: a tiny case may read 0.0 (the speedup is from unrounded times)
    assert isinstance(row["voxflow"], (int, float)) and row["voxflow"] >= 0 and row["unit"]
    if row["peer"] is None:
        assert row["peer_value"] is None and row["speedup"] is None
    else:
        assert row["peer_value"] >= 0 and row["speedup"] > 0


def test_augmentation_benchmark_prints_one_row_per_case():
    cases = ["RandomFlip", "RandomNoise", "RandomMotion"]
    rows = _rows("augmentation.py", "--size", "12", "--repeats", "1", "--cases", ",".join(cases))
    assert [row["case"] for row in rows] == cases  # no GPU here: one row per case
    for row in rows:
        _check(row)
        assert row["unit"] == "s" and row["device"].startswith("cpu") and row["shape"] == [1, 12, 12, 12, 1]
        assert row["voxflow_min"] <= row["voxflow"]


def test_metrics_benchmark_prints_rows_with_matching_values():
    rows = _rows("metrics.py", "--size", "24", "--repeats", "1", "--no-real")
    for row in rows:
        _check(row)
        if row.get("peer_metric") is not None:  # the peer computed the same metric
            assert row["relative_difference"] < 1e-9


def test_registration_benchmark_times_voxflow_and_demons_on_one_pair():
    rows = _rows("registration.py", "--shape", "16,16,16", "--repeats", "1", "--demons-iterations", "1",
                 "--instance-iterations", "1")
    assert [row["case"] for row in rows] == ["register_pair_16x16x16", "register_pair_refined_16x16x16"]
    for row in rows:
        _check(row)
        assert row["peer"].startswith("SimpleITK") and row["shape"] == [16, 16, 16]


def test_startup_benchmark_times_each_commands_imports():
    # TensorFlow's cases cost 4 imports of it (about 20 s); the contract is the same for every case
    rows = _rows("startup.py", "--repeats", "1", "--no-brain", "--modules", "voxflow.cli.main,net_evaluate")
    assert [row["case"] for row in rows] == ["import_voxflow.cli.main", "import_net_evaluate"]
    for row in rows:
        _check(row)
        assert row["slowest_imports_ms"] and all(ms >= 0 for ms in row["slowest_imports_ms"].values())
