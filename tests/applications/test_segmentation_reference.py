"""Segmentation gives the outputs it gave when they were recorded: weights, images, CSVs, state.

The runs and what they cover are in ``reference_runs.py``. On the machine kind the reference was
recorded on (same TensorFlow, NumPy and CPU instruction sets) every array and text must be equal
bit for bit: a refactoring that changes a single output fails here. Elsewhere floating-point order
may differ, so weights and probabilities are compared to 1e-3 and label maps to 99.5 % of voxels (on one
AVX-512 machine kind, after training, one probability of 1728 differed by 2e-4).
"""

import json

import numpy as np
import pytest
import reference_runs


def _same_machine_kind(recorded: dict) -> bool:
    now = reference_runs.fingerprint()
    return all(recorded.get(key) == now[key] for key in now)


def _close_csv(got: str, want: str) -> None:
    rows, expected = reference_runs.csv_rows(got), reference_runs.csv_rows(want)
    assert len(rows) == len(expected) and rows[0] == expected[0]
    for row, reference in zip(rows[1:], expected[1:]):
        for value, wanted in zip(row, reference):
            try:
                assert float(value) == pytest.approx(float(wanted), rel=1e-3, abs=1e-3, nan_ok=True)
            except ValueError:
                assert value == wanted


@pytest.mark.parametrize("name", sorted(reference_runs.CONFIGS))
def test_segmentation_outputs_are_unchanged(tmp_path, name):
    reference = reference_runs.load(name)
    got = reference_runs.run(name, tmp_path)
    assert sorted(got["arrays"]) == sorted(reference["arrays"])
    assert sorted(got["texts"]) == sorted(reference["texts"])
    if _same_machine_kind(reference["fingerprint"]):
        for key, want in reference["arrays"].items():
            np.testing.assert_array_equal(got["arrays"][key], want, err_msg=key)
        assert got["texts"] == reference["texts"]
        return
    for key, want in reference["arrays"].items():
        have = got["arrays"][key]
        assert have.shape == want.shape and have.dtype == want.dtype, key
        if np.issubdtype(want.dtype, np.integer):
            assert np.mean(have == want) >= 0.995, key
        else:
            np.testing.assert_allclose(have, want, rtol=1e-3, atol=1e-3, err_msg=key)
    for key, want in reference["texts"].items():
        if key.endswith(".csv") and key.startswith("evaluation"):
            _close_csv(got["texts"][key], want)
        elif key in ("label_map.json", "dataset_split.csv"):
            assert got["texts"][key] == want, key
        elif key == "models/best.json":
            assert json.loads(got["texts"][key])["iteration"] == json.loads(want)["iteration"]
