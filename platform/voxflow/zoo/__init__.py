"""The model zoo: entries with verified files, safe installs, and packing trained models.

An entry is a folder (``README.md``, ``config.ini``, ``weights.tar.gz``, optional plugin source)
listed in ``index.yaml`` with the size and SHA-256 of every file and the list of its code files
(:mod:`.index`). ``net_download`` installs entries into ``~/.voxflow/models/<id>``
(:mod:`.installer`, :mod:`.fetch`, :mod:`.archive`, :mod:`.limits`); ``net_zoo pack`` makes them
from a trained ``model_dir`` (:mod:`.pack`); ``net_zoo verify`` checks a zoo (:mod:`.verify`).
Both write through staging folders that a killed run's successor cleans up (:mod:`.staging`).

Example:
    >>> from voxflow.zoo import install
    >>> result = install("brain_tissue_unet")          # doctest: +SKIP
    >>> result.config                                  # doctest: +SKIP
    PosixPath('/home/me/.voxflow/models/brain_tissue_unet/config.ini')

Nothing here imports TensorFlow, and nothing here imports or runs anything downloaded: an
entry's code is imported only by a run whose config names it, from the config's own folder, and
only when the user passes ``--trust-downloaded-code`` (see :mod:`voxflow.registry`).
"""

from voxflow.zoo.fetch import models_dir, shipped_zoo, voxflow_home, zoo_url
from voxflow.zoo.index import Entry, FileRecord, Index, ZooError
from voxflow.zoo.installer import InstallResult, install, installed_problem
from voxflow.zoo.verify import verify_zoo

__all__ = [
    "Entry",
    "FileRecord",
    "Index",
    "InstallResult",
    "ZooError",
    "install",
    "installed_problem",
    "models_dir",
    "shipped_zoo",
    "verify_zoo",
    "voxflow_home",
    "zoo_url",
]
