"""Fixtures for the augmentation tests."""

import pytest
from augment_data import sphere_batch


@pytest.fixture
def batch():
    return sphere_batch()
