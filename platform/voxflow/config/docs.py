"""The configuration reference and the NiftyNet key table (Markdown), generated from the schema.

``scripts/gen_config_docs.py`` writes :func:`render_reference` into README.md between the
:data:`START_MARKER` and :data:`END_MARKER` lines, and :func:`render_niftynet_keys` (every key
NiftyNet read and what voxflow does with it) between :data:`NIFTYNET_START` and
:data:`NIFTYNET_END`; a test checks they never drift apart.

Example:
    >>> text = render_reference()
    >>> "| `batch_size` |" in text
    True
"""

from __future__ import annotations

from typing import Any

from voxflow import registry
from voxflow.config import schema
from voxflow.config.components import ComponentType
from voxflow.config.paths import PathDefault
from voxflow.config.values import ChoiceOrPathType, ChoiceType, FloatType, IntType, ValueType, range_text

START_MARKER = "<!-- config-reference:start -->"
END_MARKER = "<!-- config-reference:end -->"
NIFTYNET_START = "<!-- niftynet-keys:start -->"
NIFTYNET_END = "<!-- niftynet-keys:end -->"

_INTRO = """\
voxflow reads NiftyNet-style INI files (or YAML files with the same sections and keys as nested
mappings). Sections: the system sections `[SYSTEM]`, `[NETWORK]`, `[TRAINING]`, `[INFERENCE]`,
`[EVALUATION]` (missing ones take all defaults), the application section (e.g. `[SEGMENTATION]`,
required), and any other section is an *input source* such as `[T1]` or `[label]`. Keys are
validated per section: a key in the wrong section is an error that says where it belongs (a key
where NiftyNet's example configs put it is read in its section, with a notice: "NiftyNet
configs"). Every problem in the file is reported at once, one line each.

**Value syntax.** Keys are case-insensitive; `#` and `;` start comments; `%` is a plain character.
Booleans: `yes/true/t/y/1` or `no/false/f/n/0`, any case. Arrays: comma-separated, optional
parentheses: `(1.0, 1.0, 1.0)` or `1,1,1`. A `window` with 2 values is a 2-D window padded with 1
(`64,64` → `64, 64, 1`); a `spatial int` or `spatial float` array with one value is repeated to
the three axes (`border=5` → `5, 5, 5`); `checkpoint` is an iteration, `latest` (= -1) or `best`.
`kwargs`: `name=value` pairs, e.g. `network_args = base_features=8, depth=3`. An empty value means
unset (the default).

**Command-line overrides.** Any key can be given after the action as `--key value` or
`--key=value`; `--SECTION.key value` sets it in one section only (`--T1.pixdim=2,2,2`,
`--NETWORK.batch_size 1`). A bare key defined in several sections is set in all of them
(`--spatial_window_size` in `[INFERENCE]` and every input section). Overrides beat file values,
which beat defaults.

**Paths.** A relative path written in the file is resolved against the config file's folder; one
given on the command line against the current folder; `~` is expanded. `model_dir` defaults to
`<config folder>/model`, and the files a run produces default to places inside it.
"""


def _type_text(value_type: ValueType) -> str:
    if isinstance(value_type, ComponentType):
        return " \\| ".join(f"`{name}`" for name in registry.names(value_type.family)) + " \\| an import path"
    if isinstance(value_type, ChoiceType):
        words = " \\| ".join(f"`{choice}`" for choice in value_type.choices)
        return words + (" \\| an import path" if isinstance(value_type, ChoiceOrPathType) else "")
    if isinstance(value_type, (IntType, FloatType)):
        bounds = range_text(value_type.minimum, value_type.maximum,
                            getattr(value_type, "open_min", False), getattr(value_type, "open_max", False))
        return value_type.doc_name + bounds.replace(">=", "≥").replace("<=", "≤")
    return value_type.doc_name


def _default_text(key: schema.Key) -> str:
    value: Any = key.default
    if key.required is True:
        return "**required**"
    if key.required:
        return f"required for {', '.join(key.required)}"
    if isinstance(value, PathDefault):
        return f"`{value}`"
    if value is None or value == "" or value == () or value == {}:
        return "unset"
    return f"`{key.type.format(value)}`"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_table(keys: dict[str, schema.Key]) -> str:
    """Return one Markdown table: key, type, default, meaning."""
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key in keys.values():
        rows.append(f"| `{key.name}` | {_type_text(key.type)} | {_escape(_default_text(key))} | {_escape(key.doc)} |")
    return "\n".join(rows)


def render_reference(heading_level: int = 3) -> str:
    """Return the whole configuration reference as Markdown (no trailing newline).

    Args:
        heading_level: Markdown level of each section's heading.
    """
    hashes = "#" * heading_level
    parts = [_INTRO.rstrip()]
    parts.append(f"{hashes} Input-source sections (`[T1]`, `[label]`, …)\n\n"
                 "Every section that is not a system or application section describes one input "
                 "source; the application section's roles name them.\n\n" + render_table(schema.INPUT_KEYS))
    for name in schema.SYSTEM_SECTIONS:
        parts.append(f"{hashes} `[{name}]`\n\n" + render_table(schema.section_keys(name)))
    # the core schema knows no application: the built-in ones declare their own (plugins' are not listed)
    for name in registry.register_builtin_applications():
        parts.append(f"{hashes} `[{name}]` (application section)\n\n"
                     "Role keys list input-section names; several names are concatenated as channels.\n\n"
                     + render_table(schema.section_keys(name)))
    return "\n\n".join(parts)


_NIFTYNET_INTRO = """\
Every key NiftyNet read, in the section it read it from, and what voxflow does with it: **same**
(the same key, section and meaning), **same, differs** (the same key; the difference is given),
**moved** (read from another section; still accepted where NiftyNet had it, with a notice),
**replaced** (another key serves its purpose), **refused** (an error naming the key and why), or
**no such application** (a NiftyNet application voxflow does not have). Keys that NiftyNet's own
example configs put in the wrong section, where NiftyNet ignored them, are read as if written in
their section, with a notice."""

_DIFFERS = "≠NiftyNet: "


def _niftynet_difference(doc: str) -> str:
    """The text of a key doc's "(≠NiftyNet: ...)" note, or ``""``."""
    start = doc.find(_DIFFERS)
    if start < 0:
        return ""
    depth, end = 0, start
    for end in range(start, len(doc)):
        depth += {"(": 1, ")": -1}.get(doc[end], 0)
        if depth < 0:
            break
    return doc[start + len(_DIFFERS): end].strip()


def _section_text(section: str) -> str:
    return "input sections" if section == schema.INPUT else f"`[{section}]`"


def _misplaced_text(key: str) -> str:
    places = [("the application section" if place == schema.APPLICATION else f"`[{place}]`")
              for place in schema.NIFTYNET_MISPLACED.get(key, ())]
    if not places:
        return ""
    return (f"also read from {' and '.join(places)}, where NiftyNet's example configs put it and NiftyNet ignored "
            "it (with a notice)")


def niftynet_verdict(section: str, key: str) -> tuple[str, str]:
    """``(verdict, why)`` for NiftyNet's ``[section] key`` (see :data:`_NIFTYNET_INTRO`).

    Raises:
        ValueError: the schema does not say what voxflow does with the key: it must be defined,
            or listed in :data:`~voxflow.config.schema.NIFTYNET_ONLY_KEYS`.
    """
    known = (*schema.SYSTEM_SECTIONS, schema.INPUT, *schema.app_section_names())
    if section not in known:
        return "no such application", f"voxflow has no `[{section}]` application"
    table = schema.section_keys(section)
    if key in table:
        why = "; ".join(part for part in (_niftynet_difference(table[key].doc), _misplaced_text(key)) if part)
        return ("same, differs" if _niftynet_difference(table[key].doc) else "same"), why
    home = schema.relocation(key, section, section)
    if home is not None:
        return f"moved to `[{home}]`", f"still read from {_section_text(section)}, with a notice"
    if key in schema.NIFTYNET_REPLACED_BY:
        return f"replaced by `{schema.NIFTYNET_REPLACED_BY[key]}`", schema.NIFTYNET_ONLY_KEYS.get(key, "")
    if key in schema.NIFTYNET_ONLY_KEYS:
        return "refused", schema.NIFTYNET_ONLY_KEYS[key]
    raise ValueError(f"NiftyNet's {_section_text(section)} key `{key}` is neither defined in voxflow's schema nor "
                     "listed in NIFTYNET_ONLY_KEYS: say what voxflow does with it")


def render_niftynet_keys() -> str:
    """Return the NiftyNet key table as Markdown (no trailing newline): one row per key of
    :data:`~voxflow.config.schema.NIFTYNET_KEYS`.

    Raises:
        ValueError: a NiftyNet key the schema does not account for (see :func:`niftynet_verdict`).
    """
    registry.register_builtin_applications()
    rows = [_NIFTYNET_INTRO, "", "| NiftyNet section | key | voxflow | why |", "| --- | --- | --- | --- |"]
    for section, keys in schema.NIFTYNET_KEYS.items():
        for key in keys:
            verdict, why = niftynet_verdict(section, key)
            rows.append(f"| {_section_text(section)} | `{key}` | {verdict} | {_escape(why)} |")
    return "\n".join(rows)


def replace_block(text: str, block: str, start_marker: str = START_MARKER, end_marker: str = END_MARKER) -> str:
    """Return ``text`` with the lines between the markers replaced by ``block``.

    Raises:
        ValueError: the markers are missing or out of order.
    """
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < 0 or end < start:
        raise ValueError(f"the markers {start_marker} and {end_marker} are missing or out of order")
    head = text[: start + len(start_marker)]
    return f"{head}\n{block}\n{text[end:]}"


def has_markers(text: str, start_marker: str = START_MARKER, end_marker: str = END_MARKER) -> bool:
    """Whether ``text`` holds both markers in order."""
    start, end = text.find(start_marker), text.find(end_marker)
    return 0 <= start < end
