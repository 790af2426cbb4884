"""The configuration reference is generated from the schema and README.md holds the current one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from voxflow import registry
from voxflow.config import schema
from voxflow.config.docs import (
    END_MARKER,
    NIFTYNET_END,
    NIFTYNET_START,
    START_MARKER,
    has_markers,
    render_niftynet_keys,
    render_reference,
    replace_block,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_config_docs.py"


def test_reference_lists_every_key_of_every_section():
    text = render_reference()
    tables = [schema.INPUT_KEYS, *(schema.section_keys(name) for name in schema.SYSTEM_SECTIONS)]
    tables += [schema.section_keys(name) for name in registry.register_builtin_applications()]
    for table in tables:
        for key in table.values():
            assert f"| `{key.name}` |" in text
    assert "`[NETWORK]`" in text and "`[SEGMENTATION]` (application section)" in text
    assert ("| `window_sampling` | `uniform` \\| `weighted` \\| `balanced` \\| `resize` \\| `selective` \\| `patch` \\| "
            "an import path | `uniform` |") in text
    assert "| `model_dir` | path | `<config folder>/model` |" in text
    assert "| `num_classes` | int ≥ 2 | **required** |" in text
    assert "--SECTION.key" in text and "config file's folder" in text


def test_replace_block_keeps_the_rest():
    text = f"# Title\n\nintro\n{START_MARKER}\nold\nstuff\n{END_MARKER}\n\nmore\n"
    assert replace_block(text, "NEW") == f"# Title\n\nintro\n{START_MARKER}\nNEW\n{END_MARKER}\n\nmore\n"
    with pytest.raises(ValueError):
        replace_block("no markers", "NEW")


def test_script_writes_and_checks(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# voxflow\n{START_MARKER}\nstale\n{END_MARKER}\ntail\n", encoding="utf-8")
    run = [sys.executable, str(SCRIPT), "--readme", str(readme)]
    assert subprocess.run([*run, "--check"], capture_output=True).returncode == 1
    assert subprocess.run(run, capture_output=True).returncode == 0
    assert render_reference() in readme.read_text(encoding="utf-8")
    assert readme.read_text(encoding="utf-8").endswith(f"{END_MARKER}\ntail\n")
    assert subprocess.run([*run, "--check"], capture_output=True).returncode == 0
    readme.write_text("# no markers\n", encoding="utf-8")
    result = subprocess.run(run, capture_output=True, text=True)
    assert result.returncode == 1 and "lacks" in result.stderr


def test_readme_reference_is_up_to_date():
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    if not has_markers(text):
        pytest.skip(f"README.md has no {START_MARKER} / {END_MARKER} markers yet")
    assert replace_block(text, render_reference()) == text, (
        "README.md's configuration reference is out of date: run python scripts/gen_config_docs.py"
    )


def test_niftynet_table_says_what_voxflow_does_with_every_niftynet_key(monkeypatch):
    text = render_niftynet_keys()
    for section, keys in schema.NIFTYNET_KEYS.items():
        shown = "input sections" if section == schema.INPUT else f"`[{section}]`"
        for key in keys:
            assert f"| {shown} | `{key}` | " in text, (section, key)
    assert "| `[NETWORK]` | `queue_length` | same | also read from `[SYSTEM]`" in text
    assert "| `[SYSTEM]` | `event_handler` | refused | events are built into the voxflow engine |" in text
    monkeypatch.setitem(schema.NIFTYNET_KEYS, "NETWORK", (*schema.NIFTYNET_KEYS["NETWORK"], "vx_unaccounted"))
    with pytest.raises(ValueError, match="vx_unaccounted"):
        render_niftynet_keys()


def test_readme_niftynet_table_is_up_to_date():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert has_markers(text, NIFTYNET_START, NIFTYNET_END), "README.md lacks the NiftyNet key table's markers"
    assert replace_block(text, render_niftynet_keys(), NIFTYNET_START, NIFTYNET_END) == text, (
        "README.md's NiftyNet key table is out of date: run python scripts/gen_config_docs.py"
    )
