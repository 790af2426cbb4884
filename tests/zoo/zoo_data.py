"""Tiny data for the model-zoo tests (reuses tests/cli/cli_data.py)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "cli"))
from cli_data import make_subject, write_config  # noqa: E402

__all__ = ["make_subject", "make_tiny_data", "write_config"]


def make_tiny_data(folder, count=4):
    """``count`` tiny subjects (blob T1 + 3-class label) in ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        make_subject(str(folder), f"sub{i:02d}", seed=i)
    return folder
