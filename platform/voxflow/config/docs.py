"""The configuration reference (Markdown), generated from the schema.

``scripts/gen_config_docs.py`` writes :func:`render_reference` into README.md between the
:data:`START_MARKER` and :data:`END_MARKER` lines; a test checks the two never drift apart.

Example:
    >>> text = render_reference()
    >>> "| `batch_size` |" in text
    True
"""

from __future__ import annotations

from typing import Any

from voxflow import registry
from voxflow.config import schema
from voxflow.config.paths import PathDefault
from voxflow.config.values import ChoiceOrPathType, ChoiceType, FloatType, IntType, ValueType, range_text

START_MARKER = "<!-- config-reference:start -->"
END_MARKER = "<!-- config-reference:end -->"

_INTRO = """\
voxflow reads NiftyNet-style INI files (or YAML files with the same sections and keys as nested
mappings). Sections: the system sections `[SYSTEM]`, `[NETWORK]`, `[TRAINING]`, `[INFERENCE]`,
`[EVALUATION]` (missing ones take all defaults), the application section (e.g. `[SEGMENTATION]`,
required), and any other section is an *input source* such as `[T1]` or `[label]`. Keys are
validated per section: a key in the wrong section is an error that says where it belongs.

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


def replace_block(text: str, block: str) -> str:
    """Return ``text`` with the lines between the markers replaced by ``block``.

    Raises:
        ValueError: the markers are missing or out of order.
    """
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    if start < 0 or end < 0 or end < start:
        raise ValueError(f"the markers {START_MARKER} and {END_MARKER} are missing or out of order")
    head = text[: start + len(START_MARKER)]
    return f"{head}\n{block}\n{text[end:]}"


def has_markers(text: str) -> bool:
    """Whether ``text`` holds both markers in order."""
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    return 0 <= start < end
