"""Plugins by import path: downloaded code needs consent, broken plugins are one-line errors."""

import json
import sys
import textwrap

import pytest

from voxflow import registry
from voxflow.errors import PluginError

MARKING_MODULE = textwrap.dedent("""\
    import pathlib
    pathlib.Path(__file__).with_name("IMPORTED").write_text("ran", encoding="utf-8")

    def thing():
        return 42
    """)


@pytest.fixture
def downloaded_entry(tmp_path, monkeypatch):
    """An installed zoo entry (install.json) holding a module and a namespace package with code."""
    entry = tmp_path / "models" / "some_entry"
    (entry / "model").mkdir(parents=True)
    (entry / "install.json").write_text(json.dumps({"entry_id": "some_entry"}), encoding="utf-8")
    (entry / "vx_dl_plugin.py").write_text(MARKING_MODULE, encoding="utf-8")
    (entry / "model" / "vx_dl_hidden.py").write_text(MARKING_MODULE, encoding="utf-8")
    for name in ("vx_dl_plugin", "model", "model.vx_dl_hidden"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield entry
    registry.trust_downloaded_code(False)


@pytest.mark.parametrize("path", ["vx_dl_plugin.thing", "model.vx_dl_hidden.thing"])
def test_downloaded_code_is_refused_before_it_runs(downloaded_entry, path):
    with pytest.raises(PluginError) as err:
        registry.resolve("loss", path, search_dirs=(str(downloaded_entry),))
    message = str(err.value)
    assert "--trust-downloaded-code" in message and str(downloaded_entry) in message and "\n" not in message
    assert not any(downloaded_entry.rglob("IMPORTED"))  # not a line of it ran


def test_downloaded_code_runs_with_consent(downloaded_entry):
    registry.trust_downloaded_code(True)
    thing = registry.resolve("loss", "vx_dl_plugin.thing", search_dirs=(str(downloaded_entry),))
    assert thing() == 42 and (downloaded_entry / "IMPORTED").is_file()


def test_code_next_to_a_config_outside_any_download_needs_no_consent(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "vx_local_plugin", raising=False)
    (tmp_path / "vx_local_plugin.py").write_text(MARKING_MODULE, encoding="utf-8")
    assert registry.resolve("loss", "vx_local_plugin.thing", search_dirs=(str(tmp_path),))() == 42


@pytest.mark.parametrize("source, needles", [
    ("raise RuntimeError('plugin exploded')\n", ["RuntimeError", "plugin exploded", "vx_broken"]),
    ("def f(:\n    pass\n", ["syntax error", "line 1", "vx_broken.py"]),
    ("import sys\nsys.exit(0)\n", ["sys.exit(0)", "vx_broken"]),
    ("import no_such_module_anywhere_vx\n", ["Cannot import", "no_such_module_anywhere_vx"]),
])
def test_a_broken_plugin_module_is_a_plugin_error(tmp_path, monkeypatch, source, needles):
    monkeypatch.delitem(sys.modules, "vx_broken", raising=False)
    (tmp_path / "vx_broken.py").write_text(source, encoding="utf-8")
    with pytest.raises(PluginError) as err:
        registry.resolve("network", "vx_broken.Net", search_dirs=(str(tmp_path),))
    assert "\n" not in str(err.value)
    for needle in needles:
        assert needle in str(err.value)


@pytest.mark.parametrize("name", [".Net", "pkg..Net", "Net.", "my-pkg.Net", "1pkg.Net"])
def test_a_name_that_is_no_import_path_is_a_plugin_error(name):
    with pytest.raises(PluginError, match="dotted import path"):
        registry.resolve("network", name)


def test_an_unrelated_install_json_does_not_mark_a_download(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "vx_own_plugin", raising=False)
    (tmp_path / "install.json").write_text(json.dumps({"name": "some other tool"}), encoding="utf-8")
    (tmp_path / "vx_own_plugin.py").write_text(MARKING_MODULE, encoding="utf-8")
    assert registry.resolve("loss", "vx_own_plugin.thing", search_dirs=(str(tmp_path),))() == 42
