"""Tiny data for the model-zoo tests (reuses tests/cli/cli_data.py), and hand-built zoo entries."""

import io
import os
import sys
import tarfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "cli"))
from cli_data import make_subject, write_config  # noqa: E402

from voxflow.zoo.index import Entry, Index, read_index_file, record_file, write_index_file  # noqa: E402

__all__ = ["ZeroReader", "make_fake_entry", "make_subject", "make_tiny_data", "write_archive_of", "write_config"]

FAKE_CONFIG = "[SYSTEM]\nmodel_dir = model\n\n[NETWORK]\nname = toynet\n\n[T1]\npath_to_search =\n"


def make_tiny_data(folder, count=4):
    """``count`` tiny subjects (blob T1 + 3-class label) in ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        make_subject(str(folder), f"sub{i:02d}", seed=i)
    return folder


class ZeroReader(io.RawIOBase):
    """``size`` zero bytes, read in chunks (a big member without holding it in memory)."""

    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def write_archive_of(path, members, compresslevel=6):
    """A ``.tar.gz`` at ``path`` of ``members``: ``{name: bytes, or an int = that many zero bytes}``."""
    with tarfile.open(path, "w:gz", compresslevel=compresslevel) as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = payload if isinstance(payload, int) else len(payload)
            tar.addfile(info, ZeroReader(payload) if isinstance(payload, int) else io.BytesIO(payload))


def make_fake_entry(zoo, entry_id="fake", members=None, files=None, code=None, **entry_fields):
    """Add the entry ``entry_id`` to the zoo folder ``zoo`` (no training needed); returns ``zoo``.

    Args:
        members: the weights archive's members (see :func:`write_archive_of`); default one
            ``models/ckpt-1/meta.json``.
        files: more files of the entry, ``{name: text}`` (README.md and config.ini are always written).
        code: the entry's ``code`` list; ``None`` = every ``.py`` file among ``files``.
        entry_fields: more :class:`Entry` fields (``description``, ``network``, ``version``).
    """
    folder = zoo / entry_id
    folder.mkdir(parents=True, exist_ok=True)
    texts = {"README.md": f"# {entry_id}\n\nA fake entry for tests.\n", "config.ini": FAKE_CONFIG, **(files or {})}
    for name, text in texts.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    write_archive_of(folder / "weights.tar.gz", members or {"models/ckpt-1/meta.json": b"{}"})
    records = {n: record_file(folder, n) for n in [*texts, "weights.tar.gz"]}
    if code is None:
        code = sorted(n for n in texts if n.endswith(".py"))
    index = read_index_file(zoo) if (zoo / "index.yaml").is_file() else Index()
    fields = {"description": "a fake entry", "network": "toynet", "version": 1, **entry_fields}
    version = fields.pop("version")
    index.entries[entry_id] = Entry(entry_id, version, records, code=list(code), **fields)
    write_index_file(zoo, index)
    return zoo
