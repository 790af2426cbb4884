"""Import a script of ``scripts/`` (or ``scripts/benchmarks/``) as a module, for its tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def load_script(name: str, folder: Path = SCRIPTS):
    """The module ``folder/<name>.py``, registered under ``name`` (its sibling scripts importable)."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))  # scripts import their siblings
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
