"""Reading configuration files (INI or YAML) into raw ``{section: {key: value}}`` mappings.

INI files are read NiftyNet's way with :mod:`configparser`, but with ``%``-interpolation off (a
regex may contain ``%``), no ``[DEFAULT]`` inheritance, full-line and inline ``#``/``;`` comments,
and case-insensitive keys.  ``.yaml``/``.yml`` files hold the same sections and keys as nested
mappings.  Values stay raw here (strings, or YAML scalars/lists/mappings); typing is the
validator's job.
"""

from __future__ import annotations

import ast
import configparser
import os
from typing import Any

import yaml

from voxflow.errors import ConfigError

RawConfig = dict[str, dict[str, Any]]

YAML_SUFFIXES = (".yaml", ".yml")


def read_config_file(path: str, source: str | None = None) -> RawConfig:
    """Read an INI or YAML config file into raw sections, in file order.

    Args:
        path: the file; ``.yaml``/``.yml`` are read as YAML, anything else as INI.
        source: how messages name the file (default: ``path``).

    Raises:
        ConfigError: the file is missing, unreadable or malformed (with the line number).
    """
    source = source or path
    if not os.path.exists(path):
        raise ConfigError(f"Configuration file not found: {source} (looked for {os.path.abspath(path)}).")
    if not os.path.isfile(path):
        raise ConfigError(f"Configuration file {source} is not a file.")
    try:
        # utf-8-sig: a byte-order mark (Windows Notepad writes one) is dropped, not read as part of
        # the first section header
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"Cannot read configuration file {source}: {err}.") from err
    if path.lower().endswith(YAML_SUFFIXES):
        return parse_yaml(text, source)
    return parse_ini(text, source)


def new_ini_parser() -> configparser.ConfigParser:
    """Return the ConfigParser used to read and write voxflow INI files."""
    return configparser.ConfigParser(
        interpolation=None,
        inline_comment_prefixes=("#", ";"),
        strict=True,
        empty_lines_in_values=False,
        default_section="\0voxflow-no-default",
    )


def _ini_error_text(err: configparser.Error) -> tuple[int | None, str]:
    if isinstance(err, configparser.MissingSectionHeaderError):
        return err.lineno, f"a key before any [SECTION] header: {err.line.strip()!r}"
    if isinstance(err, configparser.DuplicateSectionError):
        return err.lineno, f"section [{err.section}] appears twice"
    if isinstance(err, configparser.DuplicateOptionError):
        return err.lineno, f"key `{err.option}` appears twice in [{err.section}]"
    if isinstance(err, configparser.ParsingError):
        lineno, line = err.errors[0]
        if len(line) >= 2 and line[0] == line[-1] and line[0] in "'\"":  # Python < 3.13 stores repr(line)
            try:
                line = ast.literal_eval(line)
            except (ValueError, SyntaxError):
                pass
        return lineno, f"expected `key = value` or [SECTION], got {line.strip()!r}"
    return None, str(err).splitlines()[0]


def parse_ini(text: str, source: str) -> RawConfig:
    """Parse INI text; ``source`` names it in error messages.

    Raises:
        ConfigError: malformed INI, naming the line.
    """
    parser = new_ini_parser()
    try:
        parser.read_string(text, source=source)
    except configparser.Error as err:
        lineno, what = _ini_error_text(err)
        where = f" at line {lineno}" if lineno is not None else ""
        raise ConfigError(f"Cannot parse {source}{where}: {what}.") from None
    return {section: dict(parser.items(section)) for section in parser.sections()}


def parse_yaml(text: str, source: str) -> RawConfig:
    """Parse YAML text: a mapping of section names to mappings of keys to values.

    Raises:
        ConfigError: malformed YAML (with the line number) or not that two-level shape.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"Cannot parse {source}{where}: {problem}.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"Cannot parse {source}: expected a mapping of [SECTION] names to keys. "
            f"Received: {type(data).__name__}."
        )
    return raw_from_mapping(data, source)


def raw_from_mapping(data: dict[Any, Any], source: str) -> RawConfig:
    """Check a ``{section: {key: value}}`` mapping and lower-case its keys.

    Raises:
        ConfigError: a section is not a mapping, or a key appears twice ignoring case.
    """
    raw: RawConfig = {}
    for section, body in data.items():
        name = str(section).strip()
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ConfigError(
                f"Section [{name}] of {source} must be a mapping of keys to values. "
                f"Received: {type(body).__name__} {body!r}."
            )
        keys: dict[str, Any] = {}
        for key, value in body.items():
            lowered = str(key).strip().lower()
            if lowered in keys:
                raise ConfigError(f"Key `{lowered}` appears twice in [{name}] of {source}.")
            keys[lowered] = value
        raw[name] = keys
    return raw
