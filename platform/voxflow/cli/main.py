"""``net_segment`` and ``net_run``: parse the command line, load the config, run the driver.

``--help`` and config errors answer without importing TensorFlow. Errors caused by the user's
input print one line and exit with status 2; unexpected errors print one line plus a hint to
rerun with ``--debug`` for the traceback (exit status 1).
"""

from __future__ import annotations

import argparse
import os
import sys

from voxflow import __version__, registry
from voxflow.errors import PluginError
from voxflow.cli.guard import run_guarded

ACTION_WORDS = {"train": "train", "training": "train", "inference": "inference", "infer": "inference",
                "evaluation": "evaluation", "evaluate": "evaluation", "eval": "evaluation", "export": "export"}

EPILOG = """\
Any config key can be overridden: --max_iter 10, --batch_size=1, --SECTION.key value
(e.g. --T1.pixdim 2,2,2). A bare key that several sections have (spatial_window_size,
path_to_search) is set in all of them. Example:
  net_segment train -c config.ini --max_iter 100
  net_segment inference -c config.ini --path_to_search new_images/
  net_segment evaluation -c config.ini
  net_segment export -c config.ini --output exported_model/
"""


def _parser(prog: str, needs_app: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="voxflow: config-driven deep learning for medical imaging.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("action", metavar="ACTION", help="train | inference | evaluation | export")
    parser.add_argument("-c", "--conf", required=True, metavar="CONFIG", help="INI or YAML configuration file")
    if needs_app:
        parser.add_argument("-a", "--application_name", required=True, metavar="APP",
                            help="application alias (segmentation) or import path (my_pkg.apps.MyApp)")
    parser.add_argument("--output", metavar="DIR", help="export: the folder to write the SavedModel and .keras file to")
    parser.add_argument("--trust-downloaded-code", action="store_true",
                        help="allow importing a plugin that came with a model-zoo download (read it first)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.add_argument("-v", "--version", action="version", version=f"voxflow {__version__}")
    return parser


def main(argv: list[str] | None, prog: str, application: str | None) -> int:
    """Run one console command; returns the exit status."""
    parser = _parser(prog, needs_app=application is None)
    args, overrides = parser.parse_known_args(argv)
    action = ACTION_WORDS.get(args.action.lower())
    if action is None:
        parser.print_usage(sys.stderr)
        print(f"{prog}: error: unknown action '{args.action}'. Expected one of: train, inference, evaluation, export.",
              file=sys.stderr)
        return 2
    return run_guarded(prog, lambda: _run(prog, action, args, overrides, application), debug=args.debug)


def _run(prog: str, action: str, args: argparse.Namespace, overrides: list[str], application: str | None) -> int:
    from voxflow.config import load_config  # noqa: PLC0415 - keep --help free of imports

    app_name = application or args.application_name
    registry.trust_downloaded_code(args.trust_downloaded_code)
    conf_dir = os.path.dirname(os.path.abspath(args.conf))
    app_class = registry.resolve("application", app_name, search_dirs=(os.getcwd(), conf_dir))
    from voxflow.applications.base import Application  # noqa: PLC0415

    if not (isinstance(app_class, type) and issubclass(app_class, Application)):
        raise PluginError(f"Application '{app_name}' is a {type(app_class).__name__}, not a subclass of "
                          "voxflow.applications.base.Application (docs/plugins.md).")
    app_class.register()
    cfg = load_config(args.conf, overrides=overrides, app_section=app_class.SECTION, action=action)
    if cfg.system.cuda_devices:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(cfg.system.cuda_devices)
    from voxflow.engine.quiet import import_tensorflow_quietly  # noqa: PLC0415

    import_tensorflow_quietly()
    from voxflow.engine.driver import ApplicationDriver  # noqa: PLC0415

    result = ApplicationDriver(app_class, cfg).run(action, output=args.output)
    if action == "export":
        print(f"export: SavedModel and .keras file of iteration {result['iteration']} written to {result['folder']}")
        return 0
    print(app_class.report(action, result))
    return 0


def net_segment(argv: list[str] | None = None) -> None:
    """Entry point of ``net_segment``."""
    sys.exit(main(argv, prog="net_segment", application="segmentation"))


def net_run(argv: list[str] | None = None) -> None:
    """Entry point of ``net_run`` (``-a`` names the application)."""
    sys.exit(main(argv, prog="net_run", application=None))
