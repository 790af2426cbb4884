"""Installing a zoo entry: download, verify, unpack safely, rewrite paths, then rename into place.

Steps for ``install("brain_tissue_unet")``:

1. read the index at the zoo URL and find the entry;
2. if ``<models>/<id>`` is installed, of the same version, and every installed file still has
   the SHA-256 recorded at install time, stop: nothing to do (``force=True`` re-downloads);
3. download every file of the entry into a temporary folder next to the target, checking size
   and SHA-256 of each before anything is unpacked;
4. unpack the weights archive into ``model/`` after checking every member (no links, devices,
   absolute names or ``..``), rewrite the config's relative paths to absolute paths into the
   install folder, write ``install.json`` (the installed files and their SHA-256);
5. rename the temporary folder to ``<models>/<id>`` (an older install is moved aside first and
   removed after), so an entry is never half-installed.

Steps 2-5 hold a :class:`~voxflow.locks.FolderLock` on the models folder (a second
``net_download`` stops with one line instead of racing the first), and first clean up what
killed installs left there (:mod:`.staging`). The unpacked size is bounded
(:class:`~voxflow.zoo.limits.UnpackLimits`).

Nothing in an entry is imported or run here. An entry's code (the ``code`` files of its index
record: a plugin network next to the config) is imported only by a run whose config names it,
and only with ``--trust-downloaded-code``: the registry refuses any module below a folder holding
``install.json`` (:data:`INSTALL_RECORD`) without it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from voxflow.atomic import atomic_write_json, atomic_write_text
from voxflow.locks import FolderLock
from voxflow.zoo.archive import extract_archive
from voxflow.zoo.fetch import download_file, fetch_index, join_url, models_dir, zoo_url
from voxflow.zoo.index import Entry, check_entry_id, file_sha256
from voxflow.zoo.ini_paths import relative_to_absolute, rewrite_paths
from voxflow.zoo.limits import UnpackLimits
from voxflow.zoo.staging import recover_leftovers, staging_folder, swap_into_place

CONFIG_NAME = "config.ini"
WEIGHTS_DIR = "model"
INSTALL_RECORD = "install.json"
"""Written into every install; the registry treats any module below a folder holding it as
downloaded code (imported only with ``--trust-downloaded-code``). Keep the name."""
LEFTOVER_KINDS = ("install", "tmp")


@dataclass(frozen=True)
class InstallResult:
    """What :func:`install` did: ``status`` is ``installed``, ``reinstalled`` or ``up to date``;
    ``code`` names the entry's code files (relative to ``path``)."""

    entry_id: str
    version: int
    path: Path
    status: str
    code: tuple[str, ...] = ()

    @property
    def config(self) -> Path:
        """The installed ``config.ini``."""
        return self.path / CONFIG_NAME


def install(entry_id: str, url: str | None = None, models: Path | None = None, force: bool = False,
            progress: bool = True, limits: UnpackLimits | None = None) -> InstallResult:
    """Install one entry (see the module docstring).

    Args:
        entry_id: the entry's ID in the index.
        url: the zoo URL; ``None`` = ``VOXFLOW_ZOO_URL`` or the shipped zoo.
        models: install root; ``None`` = ``$VOXFLOW_HOME/models``.
        force: download and install again even if a verified install exists.
        progress: show a progress bar per file.
        limits: bounds on the unpacked weights; ``None`` = the environment's or the defaults.

    Returns:
        The :class:`InstallResult`.

    Raises:
        ZooError: unknown entry, unreachable file, checksum mismatch or unsafe archive; nothing
            is left behind then.
        LockedError: another run installs into the same models folder.
    """
    check_entry_id(entry_id)
    limits = limits if limits is not None else UnpackLimits.resolve()
    url = zoo_url(url)
    entry = fetch_index(url).get(entry_id, url)
    root = Path(models) if models is not None else models_dir()
    target = root / entry_id
    with FolderLock(str(root), "the models folder"):
        recover_leftovers(root, LEFTOVER_KINDS)
        if target.exists() and not force and installed_problem(target, entry) is None:
            return InstallResult(entry_id, entry.version, target, "up to date", tuple(entry.code))
        work = staging_folder(root, f"install-{entry_id}")
        try:
            _download_and_unpack(entry, url, work, target, progress, limits)
            status = "reinstalled" if target.exists() else "installed"
            swap_into_place(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return InstallResult(entry_id, entry.version, target, status, tuple(entry.code))


def _download_and_unpack(entry: Entry, url: str, work: Path, target: Path, progress: bool,
                         limits: UnpackLimits) -> None:
    downloads = work / ".download"
    for name, record in sorted(entry.files.items()):
        download_file(join_url(url, entry.entry_id, name), downloads / name, record, progress)
    # Every file is verified; only now is anything unpacked or moved into the entry folder.
    for name in entry.files:
        if name != entry.weights:
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(downloads / name, work / name)
    extract_archive(downloads / entry.weights, work / WEIGHTS_DIR, limits)
    shutil.rmtree(downloads)
    config = work / CONFIG_NAME
    if config.is_file():
        text = config.read_text(encoding="utf-8")
        atomic_write_text(str(config), rewrite_paths(text, relative_to_absolute(str(target))))
    files = {path.relative_to(work).as_posix(): file_sha256(path)
             for path in sorted(work.rglob("*")) if path.is_file()}
    record = {"entry_id": entry.entry_id, "version": entry.version, "zoo_url": url,
              "index_files": {n: r.sha256 for n, r in sorted(entry.files.items())}, "code": sorted(entry.code),
              "files": files}
    atomic_write_json(str(work / INSTALL_RECORD), record)


def installed_problem(target: Path, entry: Entry | None = None) -> str | None:
    """Why the install at ``target`` cannot be used as it is, or ``None`` if it verifies.

    Args:
        target: ``<models>/<entry_id>``.
        entry: the index's current entry; when given, the installed version and files must match it.
    """
    record_path = target / INSTALL_RECORD
    if not record_path.is_file():
        return f"{target} has no {INSTALL_RECORD} (not installed by net_download, or interrupted)"
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        files = dict(record["files"])
    except (ValueError, KeyError, TypeError):
        return f"{record_path} is unreadable"
    if entry is not None:
        wanted = {n: r.sha256 for n, r in entry.files.items()}
        if record.get("version") != entry.version or record.get("index_files") != wanted:
            return f"installed version {record.get('version')} differs from the index's {entry.version}"
    for name, sha in files.items():
        path = target / name
        if not path.is_file():
            return f"{path} is missing"
        if file_sha256(path) != sha:
            return f"{path} was changed since it was installed"
    return None


def installed_entries(models: Path | None = None) -> dict[str, dict]:
    """``{entry_id: install record}`` of the entries installed under ``models``."""
    root = Path(models) if models is not None else models_dir()
    found = {}
    if root.is_dir():
        for path in sorted(root.iterdir()):
            record = path / INSTALL_RECORD
            if path.is_dir() and not path.name.startswith(".") and record.is_file():
                try:
                    found[path.name] = json.loads(record.read_text(encoding="utf-8"))
                except ValueError:
                    continue
    return found
