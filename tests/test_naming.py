"""One helper finds the nearest valid name for every "Did you mean" hint."""

from pathlib import Path

import voxflow
from voxflow.naming import LONGEST, closest, did_you_mean

PACKAGE = Path(voxflow.__file__).parent


def test_nearest_name_is_case_insensitive_and_spelt_as_valid():
    assert closest("UNIFORN", ["uniform", "weighted"]) == "uniform"
    assert closest("dise", ["Dice", "GDSC"]) == "Dice"
    assert closest("zzzz", ["uniform"]) is None
    assert did_you_mean("glorot_unifrom", ["glorot_uniform", "he_normal"]) == " Did you mean 'glorot_uniform'?"
    assert closest("u" * (LONGEST + 1), ["uniform"]) is None  # long words cost difflib seconds


def test_no_other_module_computes_suggestions_itself():
    users = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
             if "import difflib" in p.read_text(encoding="utf-8")]
    assert users == ["naming.py"]
