"""Console scripts come from the applications' declarations; net_run lists and checks applications."""

import subprocess
import sys

from voxflow import registry
from voxflow.cli.main import main


def test_every_declared_console_script_is_installed_and_dispatches_to_its_application():
    for alias, app in registry.builtin_applications().items():
        assert registry.application_of_script(app.CONSOLE_SCRIPT) == alias
        code = ("import sys; sys.argv[0] = '/somewhere/" + app.CONSOLE_SCRIPT + "'; "
                "from voxflow.cli.main import application_script; application_script(['--help'])")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout.startswith(f"usage: {app.CONSOLE_SCRIPT}"), out.stderr


def test_an_undeclared_script_name_is_one_line():
    code = ("import sys; sys.argv[0] = 'net_nothing'; "
            "from voxflow.cli.main import application_script; application_script(['--help'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "net_nothing" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_net_run_lists_the_applications(capsys):
    assert main(["--list"], prog="net_run", application=None) == 0
    listing = capsys.readouterr().out
    assert "segmentation" in listing and "net_segment" in listing and "[SEGMENTATION]" in listing


def test_net_run_without_an_application_or_with_a_non_application(tmp_path, capsys):
    assert main(["train", "-c", "x.ini"], prog="net_run", application=None) == 2
    assert "-a" in capsys.readouterr().err
    (tmp_path / "vx_not_an_app.py").write_text("class Thing:\n    pass\n", encoding="utf-8")
    (tmp_path / "c.ini").write_text("[SEGMENTATION]\n", encoding="utf-8")
    assert main(["train", "-c", str(tmp_path / "c.ini"), "-a", "vx_not_an_app.Thing"], prog="net_run",
                application=None) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a subclass of voxflow.applications.base.Application" in err[0]
