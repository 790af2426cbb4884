"""Command-line overrides: ``--key value``, ``--key=value`` and ``--SECTION.key value``.

A bare key is set in every section that defines it: ``--spatial_window_size 64,64,64`` sets it in
``[INFERENCE]`` and in every input section present; ``--path_to_search`` in every input section.
``--SECTION.key`` sets only that section (``--T1.pixdim=2,2,2``, ``--NETWORK.batch_size 1``).
Overrides beat file values, which beat defaults.

Example:
    >>> [o.key for o in parse_overrides(["--max_iter", "10", "--T1.pixdim=2,2,2"])]
    ['max_iter', 'pixdim']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from voxflow.config import schema
from voxflow.config.messages import clip, clip_repr, closest, location, unknown_key
from voxflow.errors import ConfigError

_NUMBER = re.compile(r"-\d|-\.\d")


@dataclass(frozen=True)
class Override:
    """One command-line override.

    Attributes:
        option: the option as typed, e.g. ``--T1.pixdim``.
        section: the section named before the dot, or ``None`` for a bare key.
        key: the key, lower case.
        value: the value text (``""`` = unset, i.e. back to the default).
    """

    option: str
    section: str | None
    key: str
    value: str


def parse_overrides(tokens: Sequence[str]) -> list[Override]:
    """Split leftover argv tokens into overrides.

    Raises:
        ConfigError: a token is not an option, or an option has no value.
    """
    overrides, index = [], 0
    tokens = list(tokens)
    while index < len(tokens):
        token = tokens[index]
        if not token.startswith("--") or len(token) == 2:
            raise ConfigError(
                f"Unexpected command-line argument {clip_repr(token)}. Expected options as --key value or --key=value."
            )
        name, equals, value = token[2:].partition("=")
        if not equals:
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if following is None or (following.startswith("-") and not _NUMBER.match(following)):
                shown = clip(name)
                raise ConfigError(f"Missing value for command-line option `--{shown}`. Expected --{shown} VALUE.")
            value = following
            index += 1
        section, dot, key = name.rpartition(".")
        overrides.append(Override(f"--{name}", section if dot else None, key.strip().lower(), value))
        index += 1
    return overrides


def _match_section(name: str, sections: dict[str, dict[str, schema.Key]]) -> str | None:
    if name in sections:
        return name
    lowered = {section.lower(): section for section in sections}
    return lowered.get(name.lower())


def override_targets(override: Override, sections: dict[str, dict[str, schema.Key]], app_name: str,
                     input_names: list[str]) -> list[str]:
    """Return the sections an override sets.

    Args:
        override: the override.
        sections: every section of the config (system sections, the app section, the inputs
            present) mapped to its key table.
        app_name: the application section name.
        input_names: the input sections present.

    Raises:
        ConfigError: unknown section or key, with the nearest valid name.
    """
    if override.section is not None:
        section = _match_section(override.section, sections)
        if section is None:
            near = closest(override.section, sections, cutoff=0.5)
            hint = f" Did you mean [{near}]?" if near else f" Sections: {', '.join(sections)}."
            raise ConfigError(
                f"Unknown section [{clip(override.section)}] in command-line option `{clip(override.option)}`.{hint}"
            )
        table = sections[section]
        if override.key not in table:
            kind = schema.INPUT if section in input_names else section
            where = location(section, "", from_cli=True)
            raise ConfigError(unknown_key(override.key, kind, section, where, table, app_name, input_names))
        return [section]
    targets = [name for name, table in sections.items() if override.key in table]
    if not targets:
        every_key = {key for table in sections.values() for key in table}
        every_key.update(schema.INPUT_KEYS)
        near = closest(override.key, every_key)
        hint = f" Did you mean `--{near}`?" if near else ""
        reason = ""
        if override.key in schema.INPUT_KEYS:
            reason = " There is no input section to set it in."
        elif override.key in schema.NIFTYNET_ONLY_KEYS:
            reason = f" It is a NiftyNet option voxflow does not use ({schema.NIFTYNET_ONLY_KEYS[override.key]})."
        raise ConfigError(f"Unknown command-line option `{clip(override.option)}`.{reason or hint}")
    return targets
