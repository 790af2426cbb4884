"""The shipped zoo: every file matches its index, and brain_tissue_unet reaches the Dice its README states."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from voxflow.zoo import shipped_zoo, verify_zoo
from voxflow.zoo.index import read_index_file

REPO = Path(__file__).resolve().parents[2]
ENTRY = "brain_tissue_unet"


def test_shipped_zoo_is_found_and_consistent():
    zoo = shipped_zoo()
    assert zoo is not None and zoo.resolve() == (REPO / "model_zoo").resolve()
    assert verify_zoo(zoo) == []
    entry = read_index_file(zoo).entries[ENTRY]
    assert entry.files["weights.tar.gz"].size < 4 << 20  # small enough to live in the repository (no optimiser state)
    for name in entry.files:
        if name.endswith((".ini", ".md", ".py")):
            text = (zoo / ENTRY / name).read_text(encoding="utf-8")
            assert not re.search(r"(^|[\s=])/(work|home|tmp|root|Users)/", text, re.M), name


def _stated_dice():
    readme = (REPO / "model_zoo" / ENTRY / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- measured-dice: (\{.*?\}) -->", readme)
    assert match, "the README states its measured Dice in a <!-- measured-dice: {...} --> comment"
    return json.loads(match.group(1))


@pytest.mark.slow
def test_pretrained_entry_reaches_on_held_out_brains_what_its_readme_states(tmp_path):
    """Builds the held-out real brains and their classical references (needs antspyx, ~10 min the first
    time), installs the entry and scores it as scripts/measure_zoo_model.py does."""
    pytest.importorskip("ants")
    stated = _stated_dice()
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "measure_zoo_model.py"), "--entry", ENTRY,
         "--data", str(REPO / "runs" / "zoo" / "data"), "--keep", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=3600)
    assert result.returncode == 0, result.stderr[-2000:]
    measured = json.loads(result.stdout)
    assert measured["held_out"] == stated["brains"]
    for tissue in ("csf", "gm", "wm"):
        assert abs(measured["mean_dice"][tissue] - stated[tissue]) <= 0.02, (tissue, measured["mean_dice"])
