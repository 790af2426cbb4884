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

from voxflow.config import schema
from voxflow.config.messages import received
from voxflow.config.values import clip, clip_repr
from voxflow.errors import ConfigError
from voxflow.strict_yaml import StrictLoader, yaml_error_text

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
    if "\0" in path:
        raise ConfigError(f"Configuration file name {clip_repr(source)} contains a NUL byte.")
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


def _parse_error(source: str, line: int | None, what: str) -> ConfigError:
    where = f" at line {line}" if line is not None else ""
    return ConfigError(f"Cannot parse {source}{where}: {what}.")


def _ini_error_text(err: configparser.Error) -> tuple[int | None, str]:
    if isinstance(err, configparser.MissingSectionHeaderError):
        return err.lineno, f"a key before any [SECTION] header: {clip_repr(err.line.strip())}"
    if isinstance(err, configparser.DuplicateSectionError):
        return err.lineno, f"section [{clip(err.section)}] appears twice"
    if isinstance(err, configparser.DuplicateOptionError):
        return err.lineno, f"key `{clip(err.option)}` appears twice in [{clip(err.section)}]"
    if isinstance(err, configparser.ParsingError):
        lineno, line = err.errors[0]
        if len(line) >= 2 and line[0] == line[-1] and line[0] in "'\"":  # Python < 3.13 stores repr(line)
            try:
                line = ast.literal_eval(line)
            except (ValueError, SyntaxError):
                pass
        return lineno, f"expected `key = value` or [SECTION], got {clip_repr(line.strip())}"
    return None, clip(str(err).splitlines()[0])


def _known_sections() -> dict[str, None]:
    """System and application section names (upper case), which match in any case."""
    return dict.fromkeys([*schema.SYSTEM_SECTIONS, *schema.app_section_names()])


def _same_section(name: str, earlier: dict[str, int | None]) -> str | None:
    """The section of ``earlier`` that ``name`` repeats: the same name, or a known one in another case."""
    if name in earlier:
        return name
    if name.upper() not in _known_sections():
        return None  # input sections are case-sensitive, as configparser reads them
    return next((other for other in earlier if other.upper() == name.upper()), None)


def _repeated_section(name: str, first: str, first_line: int | None) -> str:
    at = f" at line {first_line}" if first_line is not None else ""
    if name == first:
        return f"section [{clip(name)}] appears twice (first{at})"
    return (f"section [{clip(name)}] repeats [{first}]{at} (system and application section names ignore "
            "case)")


def _header_line(text: str, name: str) -> int | None:
    """The line of the first ``[name]`` header in INI text (for messages only)."""
    pattern = configparser.ConfigParser.SECTCRE
    for number, line in enumerate(text.splitlines(), start=1):
        if line[:1].isspace():
            continue  # a continuation line, not a header
        match = pattern.match(line.strip())
        if match and match.group("header") == name:
            return number
    return None


def _check_ini_sections(sections: list[str], text: str, source: str) -> None:
    """Known sections written twice in different case (``[NETWORK]``, ``[network]``) are refused."""
    seen: dict[str, int | None] = {}
    for name in sections:
        first = _same_section(name, seen)
        if first is not None:
            line = _header_line(text, name)
            raise _parse_error(source, line, _repeated_section(name, first, _header_line(text, first)))
        seen[name] = None


def parse_ini(text: str, source: str) -> RawConfig:
    """Parse INI text; ``source`` names it in error messages.

    Raises:
        ConfigError: malformed INI, or a section or key given twice, naming the line.
    """
    parser = new_ini_parser()
    try:
        parser.read_string(text, source=source)
    except configparser.Error as err:
        raise _parse_error(source, *_ini_error_text(err)) from None
    _check_ini_sections(parser.sections(), text, source)
    return {section: dict(parser.items(section)) for section in parser.sections()}


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _key_name(node: yaml.Node, source: str) -> str | None:
    """A mapping key's text (``None`` if not a scalar); merge keys (``<<``) are refused."""
    if node.tag == "tag:yaml.org,2002:merge":
        raise _parse_error(source, _line(node), "merge keys (<<) are not allowed: write the keys out")
    return node.value.strip() if isinstance(node, yaml.ScalarNode) else None


def _check_yaml_keys(section: str, body: yaml.Node, source: str) -> None:
    """A key given twice in a section, in any case (INI keys ignore case), is refused."""
    if not isinstance(body, yaml.MappingNode):
        return
    seen: set[str] = set()
    for key_node, _ in body.value:
        key = _key_name(key_node, source)
        if key is None:
            continue
        if key.lower() in seen:
            raise _parse_error(source, _line(key_node), f"key `{clip(key.lower())}` appears twice in [{clip(section)}]")
        seen.add(key.lower())


def _check_yaml_sections(node: yaml.Node, source: str) -> None:
    """The YAML counterpart of configparser's strict mode, with the line of each repetition."""
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[str, int | None] = {}
    for key_node, body in node.value:
        name = _key_name(key_node, source)
        if name is None:
            continue
        first = _same_section(name, seen)
        if first is not None:
            raise _parse_error(source, _line(key_node), _repeated_section(name, first, seen[first]))
        seen[name] = _line(key_node)
        _check_yaml_keys(name, body, source)


def _load_yaml_config(text: str, source: str) -> Any:
    """:func:`voxflow.strict_yaml.load_yaml`, with config sections and keys checked on the nodes."""
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml_sections(node, source)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def parse_yaml(text: str, source: str) -> RawConfig:
    """Parse YAML text: a mapping of section names to mappings of keys to values.

    Aliases are refused (:mod:`voxflow.strict_yaml`: a kilobyte of nested aliases expands to
    gigabytes), and so is a section or key given twice, as INI files refuse them.

    Raises:
        ConfigError: malformed YAML (with the line number) or not that two-level shape.
    """
    try:
        data = _load_yaml_config(text, source)
    except yaml.YAMLError as err:
        line, problem = yaml_error_text(err)
        raise _parse_error(source, line, clip(problem)) from None
    except (ValueError, RecursionError) as err:  # PyYAML's int() of a 5000-digit number, deep nesting
        what = "it nests too deeply" if isinstance(err, RecursionError) else clip(str(err).splitlines()[0])
        raise _parse_error(source, None, what) from None
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
        ConfigError: a section is not a mapping, or a section or key appears twice (ignoring
            surrounding spaces, and case for keys).
    """
    raw: RawConfig = {}
    for section, body in data.items():
        name = str(section).strip()
        if name in raw:
            raise ConfigError(f"Section [{clip(name)}] appears twice in {source}.")
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ConfigError(
                f"Section [{clip(name)}] of {source} must be a mapping of keys to values. "
                f"Received: {type(body).__name__} {received(body)}."
            )
        keys: dict[str, Any] = {}
        for key, value in body.items():
            lowered = str(key).strip().lower()
            if lowered in keys:
                raise ConfigError(f"Key `{clip(lowered)}` appears twice in [{clip(name)}] of {source}.")
            keys[lowered] = value
        raw[name] = keys
    return raw
