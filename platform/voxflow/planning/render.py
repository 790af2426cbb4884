"""Writing a plan: as configuration text (a new INI file, or the user's with the planned keys set) and
as a table for the console.

:func:`render_config` edits text line by line, so the user's comments, blank lines, key order and
unrelated keys survive; configparser only checks that the text is a valid INI file. For every planned
key it writes a ``# voxflow plan: <why>`` comment line above ``key = value``; a key already in the
section is replaced in place (with its indented continuation lines, and the plan comment above it if
an earlier plan wrote one, so planning twice gives the same text); a missing key goes after the
section's last key; a missing section is appended. A key the plan leaves unset (``None``, e.g.
``rotation_angle`` when only in-plane rotation is planned) is commented out where present.

Where the keys go:

* every input section named in ``image_sections``: ``pixdim`` (target spacing), ``spatial_window_size``,
  ``interp_order`` (0, nearest neighbour, for label sections; 1 otherwise); image sections of CT-like
  channels also ``intensity_clip`` and ``fixed_whitening`` (left unset for the other channels);
* the application section (``[SEGMENTATION]``): each role of ``image_sections`` (``image = CT``),
  ``num_classes`` and ``label_normalisation``;
* ``[NETWORK]``, ``[TRAINING]``, ``[INFERENCE]`` and ``[AUGMENTATION]``: the plan's keys. Mirroring
  is NiftyNet's ``[TRAINING] random_flipping_axes``; rotation and zoom are ``[AUGMENTATION]
  random_affine`` because it takes a probability (NiftyNet's ``rotation_angle`` and
  ``scaling_percentage`` warp every window, and are left unset).
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Mapping, Sequence

import numpy as np

from voxflow.errors import ConfigError
from voxflow.planning.fingerprint import Fingerprint
from voxflow.planning.planner import Plan, PlannedKey, value_text

MARK = "# voxflow plan:"
_HEADER = re.compile(r"^\s*\[([^\]]+)\]\s*(?:[#;].*)?$")
_KEY = re.compile(r"^([^\s#;\[=:][^=:]*?)\s*[=:]")


def _label_sections(fp: Fingerprint, label_sections: Sequence[str] | None) -> set[str]:
    return set(label_sections) if label_sections is not None else ({fp.label_section} - {""})


def _channel_sections(fp: Fingerprint, image_sections: Mapping[str, Sequence[str]], labels: set[str]) -> list[str]:
    """The input section of each channel: as the fingerprint recorded, else the non-label sections in order."""
    if all(c.section for c in fp.channels):
        return [c.section for c in fp.channels]
    ordered = [s for sections in image_sections.values() for s in sections if s not in labels]
    return ordered if len(ordered) == len(fp.channels) else [""] * len(fp.channels)


def planned_keys(plan: Plan, fp: Fingerprint, image_sections: Mapping[str, Sequence[str]],
                 label_sections: Sequence[str] | None = None) -> list[PlannedKey]:
    """Every key :func:`render_config` writes, input sections first (see the module docstring)."""
    labels = _label_sections(fp, label_sections)
    by_section: dict[str, list] = {}
    for section, channel in zip(_channel_sections(fp, image_sections, labels), plan.channels):
        by_section.setdefault(section, []).append(channel)
    keys = []
    for section in dict.fromkeys(s for sections in image_sections.values() for s in sections):
        label = section in labels
        keys += [PlannedKey(section, "pixdim", plan.target_spacing, plan.why["target spacing (mm)"]),
                 PlannedKey(section, "spatial_window_size", plan.window, plan.why["window (voxels)"]),
                 PlannedKey(section, "interp_order", 0 if label else 1,
                            "nearest neighbour for labels" if label else "linear for images")]
        channels = by_section.get(section, [])
        if label or not channels:
            continue
        if len(channels) == 1 and channels[0].ct_like:
            c = channels[0]
            keys += [PlannedKey(section, "intensity_clip", c.clip, c.why),
                     PlannedKey(section, "fixed_whitening", c.whitening, "clipped foreground mean, std (dataset-wide)")]
        else:
            why = ("not CT: per-image z-score" if not any(c.ct_like for c in channels)
                   else "several channels in one file: set the CT values by hand (see the table)")
            keys += [PlannedKey(section, "intensity_clip", None, why), PlannedKey(section, "fixed_whitening", None, why)]
    app = next((k.section for k in plan.keys if k.key == "num_classes"), "SEGMENTATION")
    keys += [PlannedKey(app, role, tuple(sections), "input sections of this role")
             for role, sections in image_sections.items()]
    return keys + plan.keys


def _parse(text: str) -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    try:
        parser.read_string(text)
    except configparser.Error as error:
        first = " ".join(str(error).split())
        raise ConfigError(f"Cannot plan into the configuration: it is not a valid INI file ({first}).") from None


def _span(lines: list[str], section: str) -> tuple[int, int] | None:
    """(header index, end index) of ``section`` (exact name first, then any case), or None."""
    headers = [(i, m.group(1).strip()) for i, line in enumerate(lines) if (m := _HEADER.match(line))]
    for exact in (True, False):
        for n, (i, name) in enumerate(headers):
            if name == section if exact else name.lower() == section.lower():
                end = headers[n + 1][0] if n + 1 < len(headers) else len(lines)
                return i, end
    return None


def _key_extent(lines: list[str], start: int, end: int, key: str) -> tuple[int, int] | None:
    """(first, past-last) line of ``key`` (with continuation lines) inside ``start..end``."""
    for i in range(start + 1, end):
        match = _KEY.match(lines[i])
        if match and match.group(1).strip().lower() == key.lower():
            stop = i + 1
            while stop < end and lines[stop][:1] in (" ", "\t") and lines[stop].strip():
                stop += 1
            first = i - 1 if i - 1 > start and lines[i - 1].startswith(MARK) else i
            return first, stop
    return None


def _set_key(lines: list[str], item: PlannedKey) -> None:
    span = _span(lines, item.section)
    if span is None:
        if item.value is None:
            return
        while lines and not lines[-1].strip():
            lines.pop()
        lines += ["", f"[{item.section}]"]
        span = (len(lines) - 1, len(lines))
    start, end = span
    new = [] if item.value is None else [f"{MARK} {item.why}", f"{item.key} = {value_text(item.value)}"]
    found = _key_extent(lines, start, end, item.key)
    if found is not None:
        first, stop = found
        if item.value is None:
            new = [f"{MARK} unset: {item.why}"] + ["# " + line for line in lines[first:stop] if not line.startswith(MARK)]
        lines[first:stop] = new
        return
    last = max((i for i in range(start, end) if lines[i].strip() and not lines[i].lstrip().startswith(("#", ";"))),
               default=start)
    lines[last + 1:last + 1] = new


def render_config(plan: Plan, fp: Fingerprint, *, image_sections: Mapping[str, Sequence[str]],
                  base_text: str | None = None, label_sections: Sequence[str] | None = None) -> str:
    """The plan as INI text: a complete commented file, or ``base_text`` with the planned keys set.

    Args:
        plan: the plan.
        fp: the fingerprint it was made from.
        image_sections: the application's roles and their input sections, e.g.
            ``{"image": ["CT"], "label": ["seg"]}``.
        base_text: the user's configuration text; None for a new file.
        label_sections: sections resampled by nearest neighbour; default: the fingerprint's label section.

    Returns:
        The text, ending with a newline.

    Raises:
        ConfigError: ``base_text`` is not a valid INI file.
    """
    if base_text is None:
        base_text = (f"# Planned by voxflow from the fingerprint of {fp.num_cases} case(s) for a {plan.device.upper()} "
                     f"({plan.spatial_dims}-D).\n# Set path_to_search (or csv_file) in each input section.\n")
    _parse(base_text)
    lines = base_text.splitlines()
    for item in planned_keys(plan, fp, image_sections, label_sections):
        _set_key(lines, item)
    text = "\n".join(lines) + "\n"
    _parse(text)
    return text


def _table(rows: Sequence[tuple[str, ...]], headers: tuple[str, ...]) -> list[str]:
    widths = [max(len(str(r[c])) for r in [headers, *rows]) for c in range(len(headers) - 1)]
    out = []
    for row in [headers, *rows]:
        out.append("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)) + "  " + str(row[-1]))
        if row is headers:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * len(headers[-1]))
    return [line.rstrip() for line in out]


def render_table(plan: Plan, fp: Fingerprint) -> str:
    """A fixed-width summary of the fingerprint and every planned value with its reason."""
    spacings, shapes = np.asarray(fp.spacings), np.asarray(fp.shapes)
    boxes = np.asarray(fp.foreground_boxes)
    total = sum(fp.class_voxels.values())
    facts = [
        ("cases", str(fp.num_cases)),
        ("spacing (mm) median", value_text(tuple(float(v) for v in np.median(spacings, 0)))),
        ("spacing (mm) min / max", f"{value_text(tuple(float(v) for v in spacings.min(0)))} / "
                                   f"{value_text(tuple(float(v) for v in spacings.max(0)))}"),
        ("shape median", value_text(tuple(int(v) for v in np.median(shapes, 0)))),
        ("foreground box median", value_text(tuple(int(v) for v in np.median(boxes, 0)))),
        ("classes (share of voxels)", ", ".join(f"{k}: {v / total:.3%}" for k, v in fp.class_voxels.items())),
    ]
    channel_rows = [(c.section or str(i), "CT" if c.ct_like else "other", f"{c.mean:.4g}", f"{c.std:.4g}",
                     f"{c.p00_5:.4g}", f"{c.median:.4g}", f"{c.p99_5:.4g}", c.ct_reason)
                    for i, c in enumerate(fp.channels)]
    lines = ["Dataset fingerprint", *_table(facts, ("item", "value")), "",
             "Foreground intensities per channel",
             *_table(channel_rows, ("channel", "kind", "mean", "std", "p0.5", "median", "p99.5", "why")), "",
             f"Plan ({plan.device}, {plan.spatial_dims}-D)", *_table(plan.rows(), ("item", "value", "why"))]
    if plan.notes:
        lines += ["", "Notes", *(f"- {note}" for note in plan.notes)]
    return "\n".join(lines) + "\n"
