"""The model zoo: entries with verified files, safe installs, and packing trained models.

An entry is a folder (``README.md``, ``config.ini``, ``weights.tar.gz``, optional plugin source)
listed in ``index.yaml`` with the size and SHA-256 of every file (:mod:`.index`).
``net_download`` installs entries into ``~/.voxflow/models/<id>`` (:mod:`.installer`, :mod:`.fetch`,
:mod:`.archive`); ``net_zoo pack`` makes them from a trained ``model_dir`` (:mod:`.pack`).

Example:
    >>> from voxflow.zoo import install
    >>> result = install("brain_tissue_unet")          # doctest: +SKIP
    >>> result.config                                  # doctest: +SKIP
    PosixPath('/home/me/.voxflow/models/brain_tissue_unet/config.ini')

Nothing here imports TensorFlow, and nothing downloaded is ever imported: an entry's plugin
network is imported only by a run whose config names it (from the config's own folder).
"""

from voxflow.zoo.fetch import models_dir, shipped_zoo, voxflow_home, zoo_url
from voxflow.zoo.index import Entry, FileRecord, Index, ZooError, verify_zoo
from voxflow.zoo.installer import InstallResult, install, installed_problem

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
