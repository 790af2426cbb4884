"""Configuration: INI/YAML files and ``--key value`` overrides -> one validated, typed ``Config``.

Example:
    >>> from voxflow.config import load_config, save_config
    >>> cfg = load_config("config.ini", overrides=["--max_iter", "10", "--T1.pixdim=2,2,2"],
    ...                   app_section="SEGMENTATION", action="train")   # doctest: +SKIP
    >>> cfg.network.batch_size, cfg.inputs["T1"].pixdim                 # doctest: +SKIP
    (2, (2.0, 2.0, 2.0))

The schema (every key, type, default and doc) lives in :mod:`voxflow.config.schema`; the
configuration reference in README.md is generated from it by ``scripts/gen_config_docs.py``.
This package never imports TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from voxflow.config import schema
from voxflow.config.build import build_config
from voxflow.config.config import Config, Section, render_ini, save_config
from voxflow.config.schema import Key, register_app_section, register_keys
from voxflow.config.sources import raw_from_mapping, read_config_file

__all__ = [
    "Config",
    "Key",
    "Section",
    "config_from_dict",
    "load_config",
    "register_app_section",
    "register_keys",
    "render_ini",
    "save_config",
    "schema",
]


def load_config(path: str | os.PathLike[str], overrides: Sequence[str] = (),
                app_section: str | None = None, action: str = "train") -> Config:
    """Read, validate and resolve a configuration file.

    Args:
        path: an INI file (NiftyNet format) or a ``.yaml``/``.yml`` file with the same sections.
        overrides: leftover command-line tokens: ``--key value``, ``--key=value``,
            ``--SECTION.key value``; they beat file values, which beat defaults.
        app_section: the application's section, e.g. ``SEGMENTATION``; ``None`` = the one
            application section in the file.
        action: ``train``, ``inference`` or ``evaluation`` (decides which keys are required).

    Returns:
        The typed configuration; relative paths in the file are resolved against its folder.

    Raises:
        ConfigError: the file is missing or malformed, or a value, key or section is invalid.
    """
    given = os.fspath(path)
    absolute = os.path.abspath(os.path.expanduser(given))
    raw = read_config_file(absolute, source=given)
    return build_config(raw, source=given, config_dir=os.path.dirname(absolute), path=absolute,
                        overrides=overrides, app_section=app_section, action=action)


def config_from_dict(data: Mapping[str, Mapping[str, Any]], config_dir: str | os.PathLike[str],
                     overrides: Sequence[str] = (), app_section: str | None = None,
                     action: str = "train", source: str = "the configuration mapping") -> Config:
    """Validate a ``{section: {key: value}}`` mapping exactly like a file.

    Values may be strings (as in INI) or native values (as in YAML).

    Args:
        data: the sections.
        config_dir: folder relative paths in ``data`` are resolved against (the "config folder").
        overrides: command-line tokens, as in :func:`load_config`.
        app_section: the application's section; ``None`` = the one in ``data``.
        action: ``train``, ``inference`` or ``evaluation``.
        source: how error messages name the origin.

    Raises:
        ConfigError: as :func:`load_config`.
    """
    raw = raw_from_mapping(dict(data), source)
    return build_config(raw, source=source, config_dir=os.fspath(config_dir), path=None,
                        overrides=overrides, app_section=app_section, action=action)
