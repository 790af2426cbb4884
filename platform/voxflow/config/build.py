"""Validation: raw sections + command-line overrides -> a typed :class:`~voxflow.config.Config`.

Validation is per section (a key in the wrong section is an error, not silently ignored) and
every problem is one line naming the file or command line, the section, the key, what was
expected and what was received, with the nearest valid name.

**Every problem at once.** Problems are collected per key and section, not raised one by one: a
config with five mistakes gives one :class:`~voxflow.errors.ConfigProblems` of five lines (one
mistake: a plain :class:`~voxflow.errors.ConfigError` of one line), so a NiftyNet config is
migrated in one pass. A value that is refused leaves its key at the default for the checks that
follow, which skip it (no "missing key" for a key given with a wrong value); a command-line option
refused in several sections is reported once. Only what leaves nothing to check stops at once: an
unknown action, no or several application sections, a section given twice.

**NiftyNet's placements.** A key written where NiftyNet or its example configs put it, in a section
that does not define it (:func:`voxflow.config.schema.relocation`: ``[SYSTEM] queue_length``,
``[INFERENCE] output_prob``, ...), is read as if written in its own section, and a notice says so
(:attr:`Config.notices`, each also logged as a warning). A key in both places: the one in its own
section is used, as NiftyNet did, and the notice says the other is ignored. Messages about such a
value name the section it was written in.

Order of work: classify sections -> move NiftyNet-placed keys -> apply overrides -> application
section (roles) -> section-name typos -> system sections (``model_dir`` first, for the path
defaults inside it) -> input sections -> required keys for the action -> roles name existing input
sections that say where their files are -> raise the problems found.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from voxflow import registry
from voxflow.config import messages, schema
from voxflow.config.config import Config, Section
from voxflow.config.overrides import override_targets, parse_overrides
from voxflow.config.paths import PathDefault
from voxflow.config.sources import RawConfig
from voxflow.config.values import InvalidValue, is_unset
from voxflow.errors import ConfigError, ConfigProblems

#: How close (difflib ratio) an unused section name must be to a known one to count as a typo.
SECTION_TYPO_CUTOFF = 0.8
#: The keys that say where an input section's files are.
_FILE_KEYS = ("path_to_search", "csv_file", "csv_data_file")

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Raw:
    value: Any
    option: str | None = None  # the command-line option that set it; None = from the file
    written_in: str | None = None  # the section it was written in, when read as another's (NiftyNet's placement)


@dataclass
class _Context:
    source: str
    config_dir: str
    app_name: str
    action: str
    input_names: list[str]
    written: dict[str, str]  # schema/section id -> name as written in the file
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    refused: set[tuple[str, str]] = field(default_factory=set)  # (section, key) given a value that was refused
    reported_once: set[str] = field(default_factory=set)

    def where(self, section: str, raw: _Raw | None = None) -> str:
        from_cli = raw is not None and raw.option is not None
        section = raw.written_in if raw is not None and raw.written_in is not None else section
        return messages.location(self.written.get(section, section), self.source, from_cli)

    def shown(self, section: str) -> str:
        """The section's name as written (or its schema name if it is absent), in brackets."""
        return f"[{messages.clip(self.written.get(section, section))}]"

    def report(self, message: str, once: str | None = None) -> None:
        """Record one problem; ``once``: a tag (a command-line option) whose later problems are dropped."""
        if once is not None:
            if once in self.reported_once:
                return
            self.reported_once.add(once)
        if message not in self.problems:
            self.problems.append(message)

    @contextmanager
    def collecting(self) -> Iterator[None]:
        """Record the ConfigError a check raises, instead of stopping."""
        try:
            yield
        except ConfigProblems as err:
            for problem in err.problems:
                self.report(problem)
        except ConfigError as err:
            self.report(str(err))


def raise_problems(problems: Sequence[str]) -> None:
    """Raise nothing for no problem, a :class:`ConfigError` for one, :class:`ConfigProblems` for more."""
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        raise ConfigProblems(list(problems))


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
        ConfigError: one problem (one line), or :class:`~voxflow.errors.ConfigProblems`: several,
            one line each (see the module docstring).
    """
    if action not in schema.ACTIONS:
        raise ConfigError(f"Unknown action '{action}'. Expected one of: {', '.join(schema.ACTIONS)}.")
    app_name = _application_section(raw, source, app_section)
    entries, ctx = _classify(raw, source, os.path.abspath(config_dir), app_name, action)
    _move_niftynet_placed_keys(entries, ctx)
    _apply_overrides(entries, overrides, ctx)

    app_values = _parse_section(app_name, app_name, entries[app_name], ctx)
    roles = {key.name: app_values[key.name] for key in schema.section_keys(app_name).values() if key.role}
    typos = _check_section_typos(ctx, roles)

    system_values = {"SYSTEM": _parse_section("SYSTEM", "SYSTEM", entries["SYSTEM"], ctx)}
    model_dir = system_values["SYSTEM"]["model_dir"]
    for name in schema.SYSTEM_SECTIONS[1:]:
        system_values[name] = _parse_section(name, name, entries[name], ctx, model_dir)
    _fill_path_defaults(system_values["SYSTEM"], "SYSTEM", ctx, model_dir)
    _fill_path_defaults(app_values, app_name, ctx, model_dir)
    inputs = {name: _parse_section(schema.INPUT, name, entries[name], ctx)
              for name in ctx.input_names if name not in typos}

    for name, values in [*system_values.items(), (app_name, app_values)]:
        _check_required(name, values, ctx)
    app_values.update(_check_roles(roles, inputs, ctx))
    for notice in ctx.notices:
        LOG.warning("notice: %s", notice)
    raise_problems(ctx.problems)
    def given(section: str) -> dict[str, str]:
        return {key: str(raw.value) for key, raw in entries.get(section, {}).items() if not is_unset(raw.value)}

    return Config(
        sections={name: Section(name, values, given(name)) for name, values in system_values.items()},
        app=Section(app_name, app_values, given(app_name)),
        inputs={name: Section(name, values, given(name)) for name, values in inputs.items()},
        path=path, config_dir=ctx.config_dir, action=action, notices=tuple(ctx.notices),
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
                          f"{', '.join(f'[{n}]' for n in known)}.{_other_application(raw, source)}")
    return found[0]


def _other_application(raw: RawConfig, source: str, app_name: str = "") -> str:
    """A hint naming an application section of ``raw`` other than ``app_name``: another voxflow
    application's, or that of a NiftyNet application voxflow does not have; ``""`` if none."""
    registered = schema.app_section_names()
    niftynet = [name for name in schema.NIFTYNET_KEYS if name not in (*schema.SYSTEM_SECTIONS, schema.INPUT)]
    for name in raw:
        upper = name.upper()
        if upper == app_name:
            continue
        if upper in registered:
            return (f" {source} has [{messages.clip(name)}], the section of another application "
                    "(net_run --list names them; net_run -a NAME runs one).")
        if upper in niftynet:
            return f" {source} has [{messages.clip(name)}], the section of a NiftyNet application that voxflow does not have."
    return ""


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
        hint = f" Did you mean [{near}]?" if near else (
            _other_application(raw, source, app_name)
            or f" Sections found: {messages.clip(', '.join(raw)) or 'none'}.")
        raise ConfigError(f"Missing section [{app_name}] in {source} (required by the application).{hint}")
    ctx = _Context(source, config_dir, app_name, action, input_names, written)
    return entries, ctx


def _move_niftynet_placed_keys(entries: dict[str, dict[str, _Raw]], ctx: _Context) -> None:
    """Read keys written where NiftyNet put them as if written in their own section (module docstring)."""
    for section in (*schema.SYSTEM_SECTIONS, ctx.app_name):
        table = schema.section_keys(section)
        for key in [key for key in entries[section] if key not in table]:
            home = schema.relocation(key, section, ctx.app_name)
            if home is None:
                continue
            raw = entries[section].pop(key)
            ctx.notices.append(_placement_notice(key, section, home, raw, entries[home].get(key), ctx))
            if key not in entries[home]:
                entries[home][key] = _Raw(raw.value, written_in=section)


def _placement_notice(key: str, section: str, home: str, raw: _Raw, kept: _Raw | None, ctx: _Context) -> str:
    place = schema.APPLICATION if section == ctx.app_name else section
    why = (f"NiftyNet ignored it in {ctx.shown(section)}" if place in schema.NIFTYNET_MISPLACED.get(key, ())
           else f"NiftyNet read it from {ctx.shown(section)}, voxflow from {ctx.shown(home)}")
    if kept is None:
        return (f"`{key}` {ctx.where(section)} is read as {ctx.shown(home)} {key} = {messages.received(raw.value)} "
                f"({why}); move it to {ctx.shown(home)}.")
    return (f"`{key}` = {messages.received(raw.value)} {ctx.where(section)} is ignored: {ctx.shown(home)} {key} = "
            f"{messages.received(kept.value)} is used ({why}); remove it from {ctx.shown(section)}.")


def _apply_overrides(entries: dict[str, dict[str, _Raw]], tokens: Sequence[str], ctx: _Context) -> None:
    tables = {name: schema.section_keys(name) for name in (*schema.SYSTEM_SECTIONS, ctx.app_name)}
    tables.update({name: schema.INPUT_KEYS for name in ctx.input_names})
    try:
        overrides = parse_overrides(tokens)
    except ConfigError as err:  # the command line cannot be read: the file is still checked
        ctx.report(str(err))
        return
    for override in overrides:
        with ctx.collecting():
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
            ctx.report(messages.unknown_key(key, kind, shown, ctx.where(section, raw), table, ctx.app_name,
                                            ctx.input_names))
            continue
        if is_unset(raw.value):
            continue
        base_dir = os.getcwd() if raw.option is not None else ctx.config_dir
        value_type = table[key].type
        try:
            values[key] = value_type.parse(raw.value, base_dir)
        except InvalidValue as err:
            ctx.refused.add((section, key))
            ctx.report(messages.invalid_value(key, ctx.where(section, raw), value_type.expected(), raw.value,
                                              err.suggestion, err.detail), once=raw.option)
            continue
        notice = value_type.notice(raw.value, values[key])
        if notice:
            ctx.notices.append(f"`{key}` {ctx.where(section, raw)}: {notice}.")
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


def _check_section_typos(ctx: _Context, roles: dict[str, tuple[str, ...]]) -> set[str]:
    """An unused section named like a known one is a typo, not an input source; returns their names."""
    used = {name for names in roles.values() for name in names}
    known = [*schema.SYSTEM_SECTIONS, *schema.app_section_names()]
    typos = set()
    for name in ctx.input_names:
        if name in used:
            continue
        near = messages.closest(name, known, cutoff=SECTION_TYPO_CUTOFF)
        if near:
            typos.add(name)
            ctx.report(f"Unknown section [{messages.clip(name)}] in {ctx.source}. Did you mean [{near}]?")
    return typos


def _check_required(section: str, values: dict[str, Any], ctx: _Context) -> None:
    for name, key in schema.section_keys(section).items():
        if key.required_for(ctx.action) and is_unset(values[name]) and (section, name) not in ctx.refused:
            why = "" if key.required is True else f" for {ctx.action}"
            absent = "" if section in ctx.written else " (the section is absent)"
            ctx.report(f"Missing required key `{name}` {ctx.where(section)}{why}{absent}. "
                       f"Expected {key.type.expected()}.")


def _check_roles(roles: dict[str, tuple[str, ...]], inputs: dict[str, dict[str, Any]],
                 ctx: _Context) -> dict[str, tuple[str, ...]]:
    """Each role names existing input sections; each such section says where its files are. Returns the
    roles, without the missing sections of roles the action does not read (a notice each)."""
    where = ctx.where(ctx.app_name)
    keys = schema.section_keys(ctx.app_name)
    for role, names in list(roles.items()):
        unread = keys[role].role_actions and ctx.action not in keys[role].role_actions
        missing = [name for name in names if name not in inputs]
        if unread and missing:
            ctx.notices.append(f"`{role}` {where} names no input section ({', '.join(missing)}); {ctx.action} does "
                               "not read it")
            roles = {**roles, role: tuple(name for name in names if name in inputs)}
            continue
        for name in names:
            if name in inputs:
                continue
            near = messages.closest(name, inputs, cutoff=0.5)
            hint = f" Did you mean '{near}'?" if near else ""
            available = messages.clip(", ".join(inputs)) or "none in the file"
            ctx.report(
                f"Invalid value for `{role}` {where}. Expected names of input sections ({available}). "
                f"Received: {messages.clip_repr(name)} (there is no section [{messages.clip(name)}]).{hint}"
            )
    checked = set()
    for role, names in roles.items():
        if keys[role].role_actions and ctx.action not in keys[role].role_actions:
            continue  # a role the action does not read needs no files (a GAN's real images at inference)
        for name in names:
            if name not in inputs or name in checked or any((name, key) in ctx.refused for key in _FILE_KEYS):
                continue
            checked.add(name)
            values = inputs[name]
            if not any(values[key] for key in _FILE_KEYS):
                ctx.report(
                    f"Missing `path_to_search`, `csv_file` or `csv_data_file` {ctx.where(name)} (input section used "
                    f"by `{role}` in [{ctx.written[ctx.app_name]}]). Expected one of them. Received: none."
                )
    return roles
