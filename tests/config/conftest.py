"""Shared fixtures for the config tests: a minimal valid segmentation config, as INI text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

BASE_INI = """\
[T1]
path_to_search = ./data
filename_contains = T1
spatial_window_size = 32, 32, 32

[label]
path_to_search = ./data
filename_contains = seg
interp_order = 0

[NETWORK]
name = toynet

[SEGMENTATION]
image = T1
label = label
num_classes = 2
"""


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write INI text (default: BASE_INI plus ``extra`` lines) to ``tmp_path/name``; return the path."""

    def write(text: str | None = None, extra: str = "", name: str = "config.ini") -> Path:
        path = tmp_path / name
        path.write_text((BASE_INI if text is None else text) + extra, encoding="utf-8")
        return path

    return write


@pytest.fixture
def base_ini() -> str:
    """The minimal valid segmentation config as INI text."""
    return BASE_INI
