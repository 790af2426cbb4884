"""Fixtures for the model-zoo tests: one tiny trained model per module, packed into a zoo."""

import pytest
from zoo_data import make_tiny_data, write_config

from voxflow.cli.main import main
from voxflow.zoo.pack import pack


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A toynet trained 2 iterations on tiny data: ``(config path, data folder)``."""
    root = tmp_path_factory.mktemp("trained")
    data = make_tiny_data(root / "data")
    config = write_config(root)
    assert main(["train", "-c", config, "--max_iter", "2"], prog="net_segment", application="segmentation") == 0
    return config, data


@pytest.fixture(scope="module")
def zoo(trained, tmp_path_factory):
    """A zoo folder holding the tiny model as entry ``tiny`` (packed from its latest checkpoint)."""
    folder = tmp_path_factory.mktemp("zoo")
    pack(trained[0], "tiny", folder, checkpoint="latest", description="tiny toynet")
    return folder


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh ``VOXFLOW_HOME``; returns its ``models`` folder (not created)."""
    monkeypatch.setenv("VOXFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VOXFLOW_ZOO_URL", raising=False)
    return tmp_path / "home" / "models"
