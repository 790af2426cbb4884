"""``net_download`` (install zoo entries) and ``net_zoo`` (pack and verify zoo entries).

Neither imports TensorFlow. Errors caused by the user's input (unknown entry, checksum mismatch,
unsafe archive, bad config) print one line and exit with status 2; unexpected errors print one
line and a hint to rerun with ``--debug`` (status 1).

Examples::

    net_download --list
    net_download --info brain_tissue_unet
    net_download brain_tissue_unet [--force] [--zoo-url https://example.org/zoo]
    net_zoo pack -c config.ini --id my_model [--zoo model_zoo] [--checkpoint best]
    net_zoo verify model_zoo
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from voxflow import __version__
from voxflow.cli.guard import run_guarded

DOWNLOAD_EPILOG = """\
The zoo URL is --zoo-url, else $VOXFLOW_ZOO_URL, else the model_zoo/ shipped with voxflow
(offline). https://, http://, file:// and folders work. Entries are installed into
$VOXFLOW_HOME/models/<ID> (default ~/.voxflow/models/<ID>). Then:
  net_segment inference -c ~/.voxflow/models/<ID>/config.ini --path_to_search my_images/
An entry's code files (--info lists them) are never imported unless you run the entry with
--trust-downloaded-code. Weights archives holding code, or unpacking to more than the bounds
(defaults: 4096 MB in all, 2048 MB per file, 200 times the archive; also set by
$VOXFLOW_MAX_UNPACKED_MB, $VOXFLOW_MAX_MEMBER_MB, $VOXFLOW_MAX_UNPACK_RATIO), are refused.
"""


def _run(prog: str, debug: bool, body: Callable[[], int]) -> int:
    return run_guarded(prog, body, debug=debug)


def _size(num: int) -> str:
    from voxflow.zoo.index import human_size  # noqa: PLC0415 - keep --help fast

    return human_size(num)


def _positive(text: str) -> float:
    """An argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, found {text!r}")
    return value


# ------------------------------------------------------------------------------------ net_download
def _download_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="net_download", description="Install voxflow model-zoo entries.",
                                     epilog=DOWNLOAD_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("ids", nargs="*", metavar="ID", help="entries to install")
    parser.add_argument("--list", action="store_true", help="list the zoo's entries and what is installed")
    parser.add_argument("--info", metavar="ID", help="show an entry's files and README")
    parser.add_argument("--zoo-url", metavar="URL", help="zoo to use (default: $VOXFLOW_ZOO_URL or the shipped zoo)")
    parser.add_argument("--force", action="store_true", help="download and install again even if installed")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--max-unpacked-mb", type=_positive, metavar="MB",
                        help="refuse weights that unpack to more MiB in all (default: $VOXFLOW_MAX_UNPACKED_MB or 4096)")
    parser.add_argument("--max-member-mb", type=_positive, metavar="MB",
                        help="refuse weights with a larger file, in MiB (default: $VOXFLOW_MAX_MEMBER_MB or 2048)")
    parser.add_argument("--max-unpack-ratio", type=_positive, metavar="R",
                        help="refuse weights unpacking to more than R times the archive's size "
                             "(default: $VOXFLOW_MAX_UNPACK_RATIO or 200)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.add_argument("-v", "--version", action="version", version=f"voxflow {__version__}")
    return parser


def _print_info(entry, url: str) -> None:  # noqa: ANN001 - a voxflow.zoo.index.Entry
    """The entry's files, its code files apart (with the consent they need), and its README."""
    from voxflow.zoo import fetch  # noqa: PLC0415

    print(f"{entry.entry_id} v{entry.version}: {entry.description} (network: {entry.network or '?'})")
    for name, record in sorted(entry.files.items()):
        if name not in entry.code:
            print(f"  {name}  {_size(record.size)}  sha256 {record.sha256}")
    if entry.code:
        print("  code (Python the entry ships; read it before you run the entry):")
        for name in entry.code:
            print(f"    {name}  {_size(entry.files[name].size)}  sha256 {entry.files[name].sha256}")
        print("  net_segment / net_run import this code only when you run the entry with --trust-downloaded-code.")
    readme = "README.md"
    if readme in entry.files:
        import tempfile  # noqa: PLC0415
        from pathlib import Path  # noqa: PLC0415

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / readme
            fetch.download_file(fetch.join_url(url, entry.entry_id, readme), path, entry.files[readme],
                                progress=False)
            print()
            print(path.read_text(encoding="utf-8").rstrip())


def _download(args: argparse.Namespace) -> int:
    from voxflow.zoo import fetch, installer  # noqa: PLC0415 - keep --help fast
    from voxflow.zoo.limits import UnpackLimits  # noqa: PLC0415

    url = fetch.zoo_url(args.zoo_url)
    if args.list:
        index = fetch.fetch_index(url)
        installed = installer.installed_entries()
        print(f"model zoo {url} ({len(index.entries)} entries; installed in {fetch.models_dir()})")
        for entry_id, entry in sorted(index.entries.items()):
            have = installed.get(entry_id, {}).get("version")
            mark = "" if have is None else (" [installed]" if have == entry.version else f" [v{have} installed]")
            print(f"  {entry_id}  v{entry.version}  {_size(entry.total_size())}  {entry.description}{mark}")
        return 0
    if args.info:
        _print_info(fetch.fetch_index(url).get(args.info, url), url)
        return 0
    if not args.ids:
        print("net_download: error: give entry IDs to install, --list or --info ID.", file=sys.stderr)
        return 2
    limits = UnpackLimits.resolve(args.max_unpacked_mb, args.max_member_mb, args.max_unpack_ratio)
    for entry_id in args.ids:
        result = installer.install(entry_id, url, force=args.force, progress=not args.quiet, limits=limits)
        if result.status == "up to date":
            print(f"{entry_id} v{result.version} is already installed and verified in {result.path} "
                  "(--force to download again)")
        else:
            print(f"{entry_id} v{result.version} {result.status} in {result.path}")
        if result.code:
            print(f"  note: {entry_id} ships code ({', '.join(result.code)} in {result.path}): read it; it is "
                  "imported only when you run the entry with --trust-downloaded-code")
        print(f"  run: {_command_for(result.config)} inference -c {result.config} --path_to_search YOUR_IMAGES/")
    return 0


def _command_for(config: object) -> str:
    """The console script of the installed config's application (``net_segment`` for a
    segmentation entry, ``net_classify`` for a classifier), else ``net_run``."""
    import configparser  # noqa: PLC0415

    from voxflow import registry  # noqa: PLC0415

    parser = configparser.ConfigParser()
    try:
        parser.read(str(config), encoding="utf-8")
    except (OSError, configparser.Error):
        return "net_segment"
    for section in parser.sections():
        try:
            app_class = registry.resolve("application", section.lower())
        except Exception:  # noqa: BLE001 - not an application's section
            continue
        return getattr(app_class, "CONSOLE_SCRIPT", None) or "net_run"
    return "net_segment"


def net_download(argv: list[str] | None = None) -> None:
    """Entry point of ``net_download``; exits with the status."""
    args = _download_parser().parse_args(argv)
    sys.exit(_run("net_download", args.debug, lambda: _download(args)))


# ------------------------------------------------------------------------------------------ net_zoo
def _zoo_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="net_zoo", description="Make and check voxflow model-zoo entries.",
                                     allow_abbrev=False)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.add_argument("-v", "--version", action="version", version=f"voxflow {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    pack = sub.add_parser("pack", help="turn a trained model_dir into a zoo entry",
                          epilog="Other --key value arguments override the config, as for net_segment.")
    pack.add_argument("-c", "--conf", required=True, metavar="CONFIG", help="the training config")
    pack.add_argument("--id", required=True, dest="entry_id", metavar="ID", help="the entry's ID (folder name)")
    pack.add_argument("--zoo", metavar="DIR", help="zoo folder (default: model_zoo/ of the checkout, or ./model_zoo)")
    pack.add_argument("--checkpoint", default="best", help="latest | best | N (default: best)")
    pack.add_argument("--description", default="", help="one line for the index")
    pack.add_argument("--entry-version", type=int, default=None, metavar="N",
                      help="entry version (default: previous + 1 if any file changed, 1 if new)")
    pack.add_argument("--app-section", default=None,
                      help="the application's config section (default: the one in the config)")
    pack.add_argument("--force", action="store_true", help="replace an existing entry (keeps README edits)")
    pack.add_argument("--debug", action="store_true", help="show full tracebacks")
    verify = sub.add_parser("verify", help="check a zoo's index.yaml against its files")
    verify.add_argument("zoo", metavar="DIR", help="the zoo folder")
    verify.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def _default_zoo() -> str:
    from voxflow.zoo.fetch import shipped_zoo  # noqa: PLC0415

    found = shipped_zoo()
    return str(found) if found is not None else "model_zoo"


def _zoo(args: argparse.Namespace, overrides: list[str]) -> int:
    if args.command == "verify":
        from voxflow.zoo.verify import verify_zoo  # noqa: PLC0415

        problems = verify_zoo(args.zoo)
        for line in problems:
            print(f"net_zoo: {line}", file=sys.stderr)
        if problems:
            print(f"net_zoo: error: {len(problems)} problem(s) in {args.zoo}", file=sys.stderr)
            return 2
        print(f"{args.zoo}: every file matches index.yaml")
        return 0
    from voxflow.zoo.pack import pack  # noqa: PLC0415

    result = pack(args.conf, args.entry_id, args.zoo or _default_zoo(), checkpoint=args.checkpoint,
                  overrides=overrides, app_section=args.app_section, description=args.description,
                  force=args.force, version=args.entry_version)
    entry = result.entry
    print(f"packed iteration {result.iteration} as {entry.entry_id} v{entry.version} in {result.folder} "
          f"({len(entry.files)} files, {_size(entry.total_size())}); finish its README.md")
    return 0


def net_zoo(argv: list[str] | None = None) -> None:
    """Entry point of ``net_zoo``; exits with the status."""
    parser = _zoo_parser()
    args, overrides = parser.parse_known_args(argv)
    if args.command == "verify" and overrides:
        parser.error(f"unrecognized arguments: {' '.join(overrides)}")
    sys.exit(_run("net_zoo", args.debug, lambda: _zoo(args, overrides)))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "download":
        net_download(sys.argv[2:])
    net_zoo()
