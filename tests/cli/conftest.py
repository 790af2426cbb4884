"""Fixtures for the CLI tests."""

import pytest
from cli_data import make_subject


@pytest.fixture
def tiny_dataset(tmp_path):
    """Five subjects in tmp_path/data; returns the folder."""
    data = tmp_path / "data"
    data.mkdir()
    for i in range(5):
        make_subject(str(data), f"sub{i:02d}", seed=i)
    return data
