"""Applications own their config sections: the core schema knows none, each registers its own."""

import subprocess
import sys

import pytest

from voxflow.applications.base import Application
from voxflow.config import Key, config_from_dict, schema
from voxflow.config.values import IntType
from voxflow.errors import ConfigError
from voxflow.roles import Kind, Role


class ToyApplication(Application):
    SECTION = "TOYAPP"
    ROLES = (Role("image", Kind.INTENSITY, "the input", required=True),)
    KEYS = (Key("levels", IntType(1), 3, "a key of its own"),)
    SHARED_DEFAULTS = {("NETWORK", "batch_size"): 7, ("INFERENCE", "output_postfix"): "_toy"}


@pytest.fixture(autouse=True)
def restore_registered_sections():
    """The toy sections registered here stay out of the other tests (the README reference, say)."""
    saved = [dict(table) for table in (schema._APP_TABLES, schema._APP_OWNERS, schema._APP_DEFAULTS)]
    yield
    for table, before in zip((schema._APP_TABLES, schema._APP_OWNERS, schema._APP_DEFAULTS), saved):
        table.clear()
        table.update(before)


def _raw(**network):
    return {"in": {"path_to_search": "data"}, "TOYAPP": {"image": "in"}, "NETWORK": {"name": "toynet", **network}}


def test_the_core_schema_knows_no_application():
    code = "from voxflow.config import schema; print(schema.app_section_names())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_an_application_registers_its_section_and_its_defaults_for_shared_keys(tmp_path):
    ToyApplication.register()
    ToyApplication.register()  # once is enough; again changes nothing
    cfg = config_from_dict(_raw(), tmp_path)  # the application section is found in the mapping
    assert cfg.app_name == "TOYAPP" and cfg.app.levels == 3
    assert cfg.network.batch_size == 7 and cfg.inference.output_postfix == "_toy"
    assert config_from_dict(_raw(batch_size=2), tmp_path).network.batch_size == 2  # the user's value wins


def test_a_section_cannot_be_registered_twice_with_other_keys():
    class Other(Application):
        SECTION = "TOYAPP"
        KEYS = (Key("other", IntType(), 1, "another key"),)

    ToyApplication.register()
    with pytest.raises(ValueError, match="already defined"):
        Other.register()


def test_built_in_sections_are_found_when_a_file_names_them(tmp_path):
    cfg = config_from_dict({"T1": {"path_to_search": "d"}, "SEGMENTATION": {"image": "T1", "num_classes": 2},
                            "NETWORK": {"name": "unet"}}, tmp_path, action="inference")
    assert cfg.app_name == "SEGMENTATION"
    with pytest.raises(ConfigError, match="no application section"):
        config_from_dict({"T1": {"path_to_search": "d"}}, tmp_path)
