"""Validation: raw sections + command-line overrides -> a typed :class:`~voxflow.config.Config`.

Validation is per section (a key in the wrong section is an error, not silently ignored) and
every problem is one :class:`~voxflow.errors.ConfigError` line naming the file or command line,
the section, the key, what was expected and what was received, with the nearest valid name.

Order of work: classify sections -> apply overrides -> application section (roles) -> section-name
typos -> system sections (``model_dir`` first, for the path defaults inside it) -> input
sections -> required keys for the action -> roles name existing input sections that say where
their files are.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from voxflow import registry
from voxflow.config import messages, schema
from voxflow.config.config import Config, Section
from voxflow.config.overrides import override_targets, parse_overrides
from voxflow.config.paths import PathDefault
from voxflow.config.sources import RawConfig
from voxflow.config.values import InvalidValue, is_unset
from voxflow.errors import ConfigError

#: How close (difflib ratio) an unused section name must be to a known one to count as a typo.
SECTION_TYPO_CUTOFF = 0.8


@dataclass(frozen=True)
class _Raw:
    value: Any
    option: str | None = None  # the command-line option that set it; None = from the file


@dataclass
class _Context:
    source: str
    config_dir: str
    app_name: str
    action: str
    input_names: list[str]
    written: dict[str, str]  # schema/section id -> name as written in the file

    def where(self, section: str, raw: _Raw | None = None) -> str:
        from_cli = raw is not None and raw.option is not None
        return messages.location(self.written.get(section, section), self.source, from_cli)


def build_config(raw: RawConfig, *, source: str, config_dir: str, path: str | None,
                 overrides: Sequence[str] = (), app_section: str | None = None,
                 action: str = "train") -> Config:
    """Validate raw sections and overrides into a :class:`Config`.

    Args:
        raw: ``{section: {key: value}}`` as read from a file or given as a mapping.
        source: how messages name the origin, e.g. ``config.ini``.
        config_dir: folder that relative paths written in ``raw`` are resolved against.
        path: the absolute config file path, or ``None``.
        overrides: leftover argv tokens (``--key value`` ...).
        app_section: the application section name, e.g. ``SEGMENTATION``; ``None`` = the one
            application section found in ``raw``.
        action: ``train``, ``inference`` or ``evaluation``.

    Raises:
        ConfigError: anything invalid (one line).
    """
    if action not in schema.ACTIONS:
        raise ConfigError(f"Unknown action '{action}'. Expected one of: {', '.join(schema.ACTIONS)}.")
    app_name = _application_section(raw, source, app_section)
    entries, ctx = _classify(raw, source, os.path.abspath(config_dir), app_name, action)
    _apply_overrides(entries, overrides, ctx)

    app_values = _parse_section(app_name, app_name, entries[app_name], ctx)
    roles = {key.name: app_values[key.name] for key in schema.section_keys(app_name).values() if key.role}
    _check_section_typos(ctx, roles)

    system_values = {"SYSTEM": _parse_section("SYSTEM", "SYSTEM", entries["SYSTEM"], ctx)}
    model_dir = system_values["SYSTEM"]["model_dir"]
    for name in schema.SYSTEM_SECTIONS[1:]:
        system_values[name] = _parse_section(name, name, entries[name], ctx, model_dir)
    _fill_path_defaults(system_values["SYSTEM"], "SYSTEM", ctx, model_dir)
    _fill_path_defaults(app_values, app_name, ctx, model_dir)
    inputs = {name: _parse_section(schema.INPUT, name, entries[name], ctx) for name in ctx.input_names}

    for name, values in [*system_values.items(), (app_name, app_values)]:
        _check_required(name, values, ctx)
    _check_roles(roles, inputs, ctx)
    return Config(
        sections={name: Section(name, values) for name, values in system_values.items()},
        app=Section(app_name, app_values),
        inputs={name: Section(name, values) for name, values in inputs.items()},
        path=path, config_dir=ctx.config_dir, action=action,
    )


def _application_section(raw: RawConfig, source: str, app_section: str | None) -> str:
    """The application section to validate: ``app_section``, or the one section of ``raw`` that a
    registered or built-in application reads. Built-in applications register their sections the
    first time one is needed (the core schema knows none)."""
    if app_section is None or app_section.upper() not in schema.app_section_names():
        registry.register_builtin_applications()
    known = schema.app_section_names()
    if app_section is not None:
        if app_section.upper() not in known:
            raise ConfigError(f"Unknown application section [{messages.clip(app_section)}]. Registered: "
                              f"{', '.join(known)}.")
        return app_section.upper()
    found = sorted({name.upper() for name in raw if name.upper() in known})
    if len(found) > 1:
        raise ConfigError(f"{source} has several application sections ({', '.join(found)}): expected one "
                          "(or give the application: net_run -a NAME).")
    if not found:
        for name in raw:  # a misspelt application section: name the one meant
            near = messages.closest(name, known, cutoff=SECTION_TYPO_CUTOFF)
            if near:
                raise ConfigError(f"Missing section [{near}] in {source} (required by the application). "
                                  f"Did you mean [{messages.clip(name)}]?")
        raise ConfigError(f"{source} has no application section: expected one of "
                          f"{', '.join(f'[{n}]' for n in known)}.")
    return found[0]


def _classify(raw: RawConfig, source: str, config_dir: str, app_name: str,
              action: str) -> tuple[dict[str, dict[str, _Raw]], _Context]:
    """Sort sections into system / app / input and wrap their values."""
    known = {name: name for name in schema.SYSTEM_SECTIONS}
    known[app_name] = app_name
    other_apps = {name for name in schema.app_section_names() if name != app_name}
    entries: dict[str, dict[str, _Raw]] = {name: {} for name in known}
    written: dict[str, str] = {}
    input_names: list[str] = []
    for name, body in raw.items():
        canonical = known.get(name.upper())
        if canonical is None and name.upper() in other_apps:
            continue  # another application's section: not an input source
        section_id = canonical or name
        if section_id in written:
            raise ConfigError(f"Section [{messages.clip(name)}] appears twice in {source} "
                              f"(as [{messages.clip(written[section_id])}] too).")
        written[section_id] = name
        if canonical is None:
            input_names.append(name)
        entries[section_id] = {key: _Raw(value) for key, value in body.items()}
    if app_name not in written:
        near = messages.closest(app_name, raw, cutoff=0.5)
        hint = f" Did you mean [{near}]?" if near else f" Sections found: {messages.clip(', '.join(raw)) or 'none'}."
        raise ConfigError(f"Missing section [{app_name}] in {source} (required by the application).{hint}")
    ctx = _Context(source, config_dir, app_name, action, input_names, written)
    return entries, ctx


def _apply_overrides(entries: dict[str, dict[str, _Raw]], tokens: Sequence[str], ctx: _Context) -> None:
    tables = {name: schema.section_keys(name) for name in (*schema.SYSTEM_SECTIONS, ctx.app_name)}
    tables.update({name: schema.INPUT_KEYS for name in ctx.input_names})
    for override in parse_overrides(tokens):
        for section in override_targets(override, tables, ctx.app_name, ctx.input_names):
            entries[section][override.key] = _Raw(override.value, override.option)


def _parse_section(kind: str, section: str, entries: dict[str, _Raw], ctx: _Context,
                   model_dir: str | None = None) -> dict[str, Any]:
    """Type every value of one section and fill defaults (path defaults need ``model_dir``)."""
    table = schema.section_keys(kind)
    values: dict[str, Any] = {}
    for key, raw in entries.items():
        if key not in table:
            shown = ctx.written.get(section, section)
            raise ConfigError(messages.unknown_key(key, kind, shown, ctx.where(section, raw), table,
                                                   ctx.app_name, ctx.input_names))
        if is_unset(raw.value):
            continue
        base_dir = os.getcwd() if raw.option is not None else ctx.config_dir
        try:
            values[key] = table[key].type.parse(raw.value, base_dir)
        except InvalidValue as err:
            raise ConfigError(messages.invalid_value(key, ctx.where(section, raw), table[key].type.expected(),
                                                     raw.value, err.suggestion, err.detail)) from None
    if kind == "AUGMENTATION":
        # Transforms apply in the order written: keep file order, and only the keys given.
        return {table._find(name) or name: value for name, value in values.items()}
    ordered = {}
    for name, key in table.items():
        has_own, own = schema.shared_default(ctx.app_name, kind, name)
        if name in values:
            ordered[name] = values[name]
        elif has_own:  # the application's default for a shared key
            ordered[name] = copy.deepcopy(own)
        elif not isinstance(key.default, PathDefault):
            ordered[name] = copy.deepcopy(key.default)
        elif model_dir is not None or key.default.base == "config_dir":
            ordered[name] = key.default.resolve(ctx.config_dir, model_dir or "")
        else:
            ordered[name] = None  # resolved by _fill_path_defaults once model_dir is known
    return ordered


def _fill_path_defaults(values: dict[str, Any], kind: str, ctx: _Context, model_dir: str) -> None:
    for name, key in schema.section_keys(kind).items():
        if values.get(name) is None and isinstance(key.default, PathDefault):
            values[name] = key.default.resolve(ctx.config_dir, model_dir)


def _check_section_typos(ctx: _Context, roles: dict[str, tuple[str, ...]]) -> None:
    """An unused section named like a known one is a typo, not an input source."""
    used = {name for names in roles.values() for name in names}
    known = [*schema.SYSTEM_SECTIONS, *schema.app_section_names()]
    for name in ctx.input_names:
        if name in used:
            continue
        near = messages.closest(name, known, cutoff=SECTION_TYPO_CUTOFF)
        if near:
            raise ConfigError(f"Unknown section [{messages.clip(name)}] in {ctx.source}. Did you mean [{near}]?")


def _check_required(section: str, values: dict[str, Any], ctx: _Context) -> None:
    for name, key in schema.section_keys(section).items():
        if key.required_for(ctx.action) and is_unset(values[name]):
            why = "" if key.required is True else f" for {ctx.action}"
            absent = "" if section in ctx.written else " (the section is absent)"
            raise ConfigError(f"Missing required key `{name}` {ctx.where(section)}{why}{absent}. "
                              f"Expected {key.type.expected()}.")


def _check_roles(roles: dict[str, tuple[str, ...]], inputs: dict[str, dict[str, Any]], ctx: _Context) -> None:
    """Each role names existing input sections; each such section says where its files are."""
    where = ctx.where(ctx.app_name)
    for role, names in roles.items():
        for name in names:
            if name in inputs:
                continue
            near = messages.closest(name, inputs, cutoff=0.5)
            hint = f" Did you mean '{near}'?" if near else ""
            available = messages.clip(", ".join(inputs)) or "none in the file"
            raise ConfigError(
                f"Invalid value for `{role}` {where}. Expected names of input sections ({available}). "
                f"Received: {messages.clip_repr(name)} (there is no section [{messages.clip(name)}]).{hint}"
            )
    for role, names in roles.items():
        for name in names:
            values = inputs[name]
            if not values["path_to_search"] and not values["csv_file"] and not values["csv_data_file"]:
                raise ConfigError(
                    f"Missing `path_to_search`, `csv_file` or `csv_data_file` {ctx.where(name)} (input section used "
                    f"by `{role}` in [{ctx.written[ctx.app_name]}]). Expected one of them. Received: none."
                )
