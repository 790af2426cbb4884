"""One-line error messages in the Keras style, with "Did you mean" suggestions (:mod:`voxflow.naming`).

Every message names where (file or command line, section, key), what was expected and what was
received, e.g. "Invalid value for `window_sampling` in [NETWORK] of config.ini. Expected one of:
uniform, weighted, balanced, resize. Received: 'uniforn'. Did you mean 'uniform'?".
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from typing import Any

from voxflow.config import schema
from voxflow.config.values import SHOWN_CHARACTERS, clip, clip_repr
from voxflow.naming import closest  # noqa: F401 - messages.closest, used across config/

__all__ = ["SHOWN_CHARACTERS", "clip", "clip_repr", "closest", "invalid_value", "location", "received",
           "unknown_key"]

COMMAND_LINE = "the command line"

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 3, 8, 8, 8
_REPR.maxstring, _REPR.maxother = SHOWN_CHARACTERS, SHOWN_CHARACTERS


def location(section: str, source: str, from_cli: bool = False) -> str:
    """Return ``"in [SECTION] of config.ini"`` or ``"in [SECTION] from the command line"``."""
    section = clip(section)
    return f"in [{section}] from {COMMAND_LINE}" if from_cli else f"in [{section}] of {source}"


def received(value: Any) -> str:
    """Show a received raw value, quoted if it is a string, in at most about 100 characters.

    Long strings show their start and their length; containers a few items (``reprlib``); so a
    50 MB value or a deeply shared YAML structure is never written out whole.
    """
    if isinstance(value, str):
        return clip_repr(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    try:
        return clip(_REPR.repr(value), 2 * SHOWN_CHARACTERS)
    except ValueError:  # an integer of over 4300 digits inside a list: Python refuses to write it
        return f"a {type(value).__name__}"


def invalid_value(key: str, where: str, expected: str, value: Any,
                  suggestion: str | None = None, detail: str | None = None) -> str:
    """Message for a value of the wrong type, out of range or not among the choices."""
    got = received(value) + (f" ({detail})" if detail else "")
    hint = f" Did you mean '{suggestion}'?" if suggestion else ""
    return f"Invalid value for `{key}` {where}. Expected {expected}. Received: {got}.{hint}"


def _home_label(home: str, input_names: list[str]) -> str:
    if home != schema.INPUT:
        return f"[{home}]"
    return f"an input section (e.g. [{input_names[0]}])" if input_names else "an input section"


def schema_sections(app_name: str) -> list[str]:
    """All section schema names: the system sections, the app section and :data:`schema.INPUT`."""
    return [*schema.SYSTEM_SECTIONS, app_name, schema.INPUT]


def key_homes(key: str, app_name: str) -> list[str]:
    """Schema sections (see :func:`schema_sections`) that define ``key``."""
    return [name for name in schema_sections(app_name) if key in schema.section_keys(name)]


def unknown_key(key: str, section: str, shown: str, where: str, valid: Iterable[str], app_name: str,
                input_names: list[str]) -> str:
    """Message for a key that the section does not define, pointing to where it belongs.

    Args:
        key: the unknown key.
        section: schema name of the section it was found in (or :data:`schema.INPUT`).
        shown: the section's name as written.
        where: the :func:`location` phrase.
        valid: the keys the section defines.
        app_name: the application section name.
        input_names: input sections present, for examples.
    """
    key, shown = clip(key), clip(shown)
    head = f"Unknown key `{key}` {where}"
    if key in schema.NIFTYNET_ONLY_KEYS:
        return f"{head}: a NiftyNet key that voxflow does not use ({schema.NIFTYNET_ONLY_KEYS[key]}); remove it."
    homes = [home for home in key_homes(key, app_name) if home != section]
    if homes:
        places = " or ".join(_home_label(home, input_names) for home in homes)
        return f"{head}: `{key}` belongs in {places}, not [{shown}]."
    valid = sorted(valid)
    near = closest(key, valid)
    if near:
        return f"{head}. Did you mean `{near}`?"
    elsewhere = {k: home for home in schema_sections(app_name) for k in schema.section_keys(home)}
    near = closest(key, elsewhere)
    if near:
        return f"{head}. Did you mean `{near}` (in {_home_label(elsewhere[near], input_names)})?"
    return f"{head}. Valid keys: {', '.join(valid)}."

