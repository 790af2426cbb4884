"""``net_segment`` and ``net_run``: parse the command line, load the config, run the driver.

``--help`` and config errors answer without importing TensorFlow. Errors caused by the user's
input print one line and exit with status 2 — a config with several problems prints one
``error:`` line for each (:class:`~voxflow.errors.ConfigProblems`); unexpected errors print one
line plus a hint to rerun with ``--debug`` for the traceback (exit status 1). ``net_run`` takes
NiftyNet's options: ``-a``/``--application_name``/``--app``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from voxflow import __version__, registry
from voxflow.cli.guard import MAX_MESSAGE, run_guarded
from voxflow.errors import ConfigProblems, PluginError

ACTION_WORDS = {"train": "train", "training": "train", "inference": "inference", "infer": "inference",
                "evaluation": "evaluation", "evaluate": "evaluation", "eval": "evaluation", "export": "export",
                "plan": "plan"}

EPILOG = """\
Any config key can be overridden: --max_iter 10, --batch_size=1, --SECTION.key value
(e.g. --T1.pixdim 2,2,2). A bare key that several sections have (spatial_window_size,
path_to_search) is set in all of them. Example:
  net_segment train -c config.ini --max_iter 100
  net_segment inference -c config.ini --path_to_search new_images/
  net_segment evaluation -c config.ini
  net_segment export -c config.ini --output exported_model/
  net_segment plan -c config.ini --device gpu --memory_gb 24   (or -c data_folder/)
"""


def _parser(prog: str, needs_app: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="voxflow: config-driven deep learning for medical imaging.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("action", metavar="ACTION", nargs="?" if needs_app else None,
                        help="train | inference | evaluation | export | plan")
    parser.add_argument("-c", "--conf", required=not needs_app, metavar="CONFIG", help="INI or YAML configuration file")
    if needs_app:
        parser.add_argument("-a", "--application_name", "--app", metavar="APP",
                            help="application alias (segmentation), NiftyNet's alias (net_segment) or import path "
                                 "(my_pkg.apps.MyApp)")
        parser.add_argument("--list", action="store_true", help="list the built-in applications and exit")
    parser.add_argument("--output", metavar="PATH", help="export: the folder to write the SavedModel and .keras file "
                        "to; plan: the planned config file")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="plan: the device to plan for")
    parser.add_argument("--memory_gb", type=float, default=None, metavar="GB",
                        help="plan: the GPU's memory (default 8) or the CPU's budget for activations (default 1.5)")
    parser.add_argument("--cpu_cores", type=int, default=2, metavar="N", help="plan: the CPU cores to plan for")
    parser.add_argument("--trust-downloaded-code", action="store_true",
                        help="allow importing a plugin that came with a model-zoo download (read it first)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.add_argument("-v", "--version", action="version", version=f"voxflow {__version__}")
    return parser


def main(argv: list[str] | None, prog: str, application: str | None) -> int:
    """Run one console command; returns the exit status."""
    parser = _parser(prog, needs_app=application is None)
    args, overrides = parser.parse_known_args(argv)
    if application is None:
        if args.list:
            print(list_applications())
            return 0
        missing = [flag for flag, value in (("ACTION", args.action), ("-c", args.conf), ("-a", args.application_name))
                   if not value]
        if missing:
            parser.print_usage(sys.stderr)
            print(f"{prog}: error: the following arguments are required: {', '.join(missing)} (or --list)",
                  file=sys.stderr)
            return 2
    action = ACTION_WORDS.get(args.action.lower())
    if action is None:
        parser.print_usage(sys.stderr)
        print(f"{prog}: error: unknown action '{args.action}'. Expected one of: train, inference, evaluation, export, "
              "plan.",
              file=sys.stderr)
        return 2
    return run_guarded(prog, lambda: _report_each_problem(prog, lambda: _run(prog, action, args, overrides,
                                                                              application)), debug=args.debug)


def _report_each_problem(prog: str, body: Callable[[], int]) -> int:
    """Run ``body``; a config with several problems prints one ``error:`` line per problem (exit 2)."""
    try:
        return body()
    except ConfigProblems as err:
        for problem in err.problems:
            line = " ".join(problem.split("\n"))
            if len(line) > MAX_MESSAGE:
                line = line[:MAX_MESSAGE] + f"… ({len(line) - MAX_MESSAGE} more characters)"
            print(f"{prog}: error: {line}", file=sys.stderr)
        return err.exit_code


def _run(prog: str, action: str, args: argparse.Namespace, overrides: list[str], application: str | None) -> int:
    from voxflow.config import load_config  # noqa: PLC0415 - keep --help free of imports

    app_name = application or args.application_name
    registry.trust_downloaded_code(args.trust_downloaded_code)
    if not registry.is_builtin("application", app_name):
        # a plugin application imports TensorFlow itself: import it first, without its start-up noise
        from voxflow.engine.quiet import import_tensorflow_quietly  # noqa: PLC0415

        import_tensorflow_quietly()
    conf_dir = os.path.dirname(os.path.abspath(args.conf))
    app_class = registry.resolve("application", app_name, search_dirs=(os.getcwd(), conf_dir))
    from voxflow.applications.base import Application  # noqa: PLC0415

    if not (isinstance(app_class, type) and issubclass(app_class, Application)):
        raise PluginError(f"Application '{app_name}' is a {type(app_class).__name__}, not a subclass of "
                          "voxflow.applications.base.Application (docs/plugins.md).")
    app_class.register()
    if action == "plan":
        from voxflow.cli.plan import run_plan  # noqa: PLC0415

        return run_plan(app_class, args, overrides)
    cfg = load_config(args.conf, overrides=overrides, app_section=app_class.SECTION, action=action)
    if cfg.system.cuda_devices:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(cfg.system.cuda_devices)
    from voxflow.engine.quiet import import_tensorflow_quietly  # noqa: PLC0415

    import_tensorflow_quietly()
    from voxflow.engine.driver import ApplicationDriver  # noqa: PLC0415

    if cfg.system.num_folds > 1:  # one run per fold (voxflow.engine.folds)
        from voxflow.engine.folds import run_folds  # noqa: PLC0415

        def reload(extra: list[str]) -> object:
            return load_config(args.conf, overrides=[*overrides, *extra], app_section=app_class.SECTION, action=action)

        result = run_folds(app_class, cfg, reload, action, args.output)
    else:
        result = ApplicationDriver(app_class, cfg).run(action, output=args.output)
    if action == "export":
        from voxflow.engine.export import export_summary  # noqa: PLC0415

        print(export_summary(result))
        return 0
    print(app_class.report(action, result))
    return 0


def application_script(argv: list[str] | None = None) -> None:
    """Entry point of every built-in application's console script (``net_segment`` ...): the
    application is the one that declares this script's name as its ``CONSOLE_SCRIPT``."""
    prog = os.path.basename(sys.argv[0])
    application = registry.application_of_script(prog)
    if application is None:
        print(f"{prog}: error: no voxflow application declares the console script '{prog}'; use net_run -a NAME.",
              file=sys.stderr)
        sys.exit(2)
    sys.exit(main(argv, prog=prog, application=application))


def net_segment(argv: list[str] | None = None) -> None:
    """Entry point of ``net_segment`` (kept for scripts that call it by name)."""
    sys.exit(main(argv, prog="net_segment", application="segmentation"))


def list_applications() -> str:
    """One line per built-in application: aliases, console script, config section, and what it does."""
    lines = ["NAME (net_run -a NAME)  CONSOLE SCRIPT  SECTION          WHAT IT DOES",
             *(f"{alias:<24}{app.CONSOLE_SCRIPT or '-':<16}{'[' + app.SECTION + ']':<17}"
               f"{(app.__doc__ or '').strip().splitlines()[0] if app.__doc__ else ''}"
               for alias, app in sorted(registry.builtin_applications().items())),
             "A plugin application is named by its import path: net_run -a my_pkg.module.MyApplication."]
    return "\n".join(lines)


def net_run(argv: list[str] | None = None) -> None:
    """Entry point of ``net_run`` (``-a`` names the application)."""
    sys.exit(main(argv, prog="net_run", application=None))
