"""Where the zoo is, where entries are installed, and fetching files with their checksums.

The zoo URL is, in order: ``--zoo-url``, the ``VOXFLOW_ZOO_URL`` environment variable, or the
``model_zoo/`` folder shipped with voxflow (inside the installed package, or at the root of a
source checkout for an editable install), so ``net_download`` works offline. ``https://``,
``http://`` and ``file://`` URLs and plain folder paths are accepted.

Entries are installed into ``$VOXFLOW_HOME/models/<entry_id>`` (``VOXFLOW_HOME`` defaults to
``~/.voxflow``). A zoo folder or ``VOXFLOW_HOME`` that turns out to be a file is one error line.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from voxflow.progress import progress_bar
from voxflow.zoo.index import INDEX_NAME, FileRecord, Index, ZooError, parse_index

ZOO_URL_ENV = "VOXFLOW_ZOO_URL"
HOME_ENV = "VOXFLOW_HOME"
TIMEOUT_S = 60.0
_CHUNK = 1 << 16
_SCHEMES = ("https", "http", "file")


def shipped_zoo() -> Path | None:
    """The ``model_zoo/`` folder shipped with voxflow, or ``None`` if there is none.

    Looked for inside the installed package (``voxflow/model_zoo``, see setup.py) and, for an
    editable install from a checkout, at the checkout's root (``<root>/platform/voxflow``).
    """
    package = Path(__file__).resolve().parent.parent
    for folder in (package / "model_zoo", package.parent.parent / "model_zoo"):
        if (folder / INDEX_NAME).is_file():
            return folder
    return None


def zoo_url(explicit: str | None = None) -> str:
    """Resolve the zoo URL (see the module docstring); folders become ``file://`` URLs.

    Raises:
        ZooError: no URL given and no shipped zoo found, or an unsupported URL scheme.
    """
    url = explicit or os.environ.get(ZOO_URL_ENV, "").strip()
    if not url:
        folder = shipped_zoo()
        if folder is None:
            raise ZooError("No model zoo found: this voxflow ships no model_zoo/ folder. Give one with "
                           f"--zoo-url URL or the {ZOO_URL_ENV} environment variable.")
        return folder.as_uri()
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme in _SCHEMES:
        url = url.rstrip("/")
    elif scheme and len(scheme) > 1:
        raise ZooError(f"Unsupported model-zoo URL '{url}'. Expected https://, http://, file:// or a folder.")
    else:
        url = Path(url).expanduser().resolve().as_uri()
    _check_local_zoo(url)
    return url


def _check_local_zoo(url: str) -> None:
    """Refuse a ``file://`` zoo that is a file (a folder is expected)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "file":
        return
    folder = Path(urllib.request.url2pathname(parts.path))
    if folder.exists() and not folder.is_dir():
        raise ZooError(f"Model-zoo folder {folder} is a file: give the folder holding {INDEX_NAME} "
                       "(--zoo-url or $" + ZOO_URL_ENV + ").")


def voxflow_home() -> Path:
    """``$VOXFLOW_HOME`` or ``~/.voxflow``.

    Raises:
        ZooError: it (or its ``models`` folder) exists but is a file.
    """
    home = Path(os.environ.get(HOME_ENV) or "~/.voxflow").expanduser().resolve()
    where = f"{HOME_ENV} {home}" if os.environ.get(HOME_ENV) else f"{home} (the default {HOME_ENV})"
    if home.exists() and not home.is_dir():
        raise ZooError(f"{where} is a file: expected a folder (installed models go to its models/ folder).")
    if (home / "models").exists() and not (home / "models").is_dir():
        raise ZooError(f"{home / 'models'} is a file: expected the folder of installed models (move the file, "
                       f"or set {HOME_ENV} to another folder).")
    return home


def models_dir() -> Path:
    """Where entries are installed: ``<voxflow home>/models``."""
    return voxflow_home() / "models"


def join_url(base: str, *names: str) -> str:
    """``base/<name>/...`` with each path segment URL-quoted."""
    parts = [urllib.parse.quote(part) for name in names for part in name.split("/")]
    return base.rstrip("/") + "/" + "/".join(parts)


def _open(url: str):  # noqa: ANN202 - a file-like HTTP/file response
    try:
        return urllib.request.urlopen(url, timeout=TIMEOUT_S)  # noqa: S310 - schemes checked in zoo_url
    except urllib.error.HTTPError as err:
        raise ZooError(f"Cannot download {url}: HTTP {err.code} {err.reason}.") from err
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise ZooError(f"Cannot download {url}: {reason}.") from err


def fetch_index(url: str) -> Index:
    """Download and parse ``<url>/index.yaml``.

    Raises:
        ZooError: unreachable or malformed index.
    """
    where = join_url(url, INDEX_NAME)
    with _open(where) as response:
        data = response.read(16 << 20)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ZooError(f"Malformed model-zoo index {where}: not UTF-8 text.") from err
    return parse_index(text, where)


def download_file(url: str, destination: Path, record: FileRecord, progress: bool = True) -> None:
    """Download ``url`` to ``destination`` and check its size and SHA-256 against ``record``.

    Reading stops as soon as more bytes arrive than the index promises. Progress is a bar at a
    terminal and plain lines in a log file (:func:`voxflow.progress.progress_bar`).

    Raises:
        ZooError: unreachable, too large, too short or a checksum mismatch (the partial file
            is removed).
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    received = 0
    try:
        with _open(url) as response, open(destination, "wb") as out, progress_bar(
            total=record.size, unit="B", unit_scale=True, desc=record.name, disable=not progress, leave=False,
        ) as bar:
            while chunk := response.read(_CHUNK):
                received += len(chunk)
                if received > record.size:
                    raise ZooError(f"Download of {url} is larger than the {record.size} bytes the index "
                                   "lists: refusing it.")
                digest.update(chunk)
                out.write(chunk)
                bar.update(len(chunk))
    except (OSError, urllib.error.URLError) as err:
        destination.unlink(missing_ok=True)
        raise ZooError(f"Cannot download {url}: {err}.") from err
    except ZooError:
        destination.unlink(missing_ok=True)
        raise
    if received != record.size:
        destination.unlink(missing_ok=True)
        raise ZooError(f"Download of {url} has {received} bytes; the index lists {record.size}.")
    if digest.hexdigest() != record.sha256:
        destination.unlink(missing_ok=True)
        raise ZooError(f"Checksum mismatch for {url}: SHA-256 {digest.hexdigest()[:16]}..., the index "
                       f"lists {record.sha256[:16]}...; the file is corrupted or was changed.")
