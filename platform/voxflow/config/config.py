"""The typed configuration objects, :class:`Section` and :class:`Config`, and :func:`save_config`.

Example:
    >>> cfg = load_config("config.ini")                      # doctest: +SKIP
    >>> cfg.network.batch_size, cfg.inputs["T1"].pixdim      # doctest: +SKIP
    (2, (1.0, 1.0, 1.0))
    >>> cfg.system.seed = 1234           # the engine may set values  # doctest: +SKIP
    >>> save_config(cfg, "model/settings_train.ini")          # doctest: +SKIP
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Mapping
from typing import Any

from voxflow.atomic import atomic_write_text
from voxflow.config import schema
from voxflow.config.messages import closest


class Section:
    """One section's typed values, read and set as attributes (``cfg.network.batch_size``).

    Only keys the section's schema defines exist; setting an unknown attribute is an error, so a
    typo cannot go unnoticed.  ``name`` is the section's name (``"NETWORK"``, ``"T1"``) except in
    ``[NETWORK]``, whose ``name`` key (the network) takes precedence: use :attr:`section_name` to
    get any section's name unambiguously. :meth:`was_given` tells a value the user wrote (in the file
    or as a ``--key value`` option) from a default; :meth:`written` returns it as written.
    """

    def __init__(self, name: str, values: dict[str, Any], given: Mapping[str, str] | None = None) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_given", dict(given or {}))

    def was_given(self, key: str) -> bool:
        """Whether the user wrote ``key`` (a default, or a value the code set later, was not given)."""
        return key in self._given

    def written(self, key: str) -> str | None:
        """``key``'s value as the user wrote it (before parsing: e.g. NiftyNet's name of a network), or None."""
        return self._given.get(key)

    @property
    def section_name(self) -> str:
        """The section's name as written (system sections in upper case)."""
        return self._name

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        values = object.__getattribute__(self, "_values")
        if key in values:
            return values[key]
        if key == "name":
            return self._name
        near = closest(key, values)
        hint = f" Did you mean `{near}`?" if near else ""
        raise AttributeError(f"Section [{self._name}] has no key `{key}`.{hint}")

    def __setattr__(self, key: str, value: Any) -> None:
        if key not in self._values:
            near = closest(key, self._values)
            hint = f" Did you mean `{near}`?" if near else ""
            raise AttributeError(f"Section [{self._name}] has no key `{key}`.{hint}")
        self._values[key] = value

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def keys(self) -> list[str]:
        """The section's keys in schema order."""
        return list(self._values)

    def as_dict(self) -> dict[str, Any]:
        """A deep copy of ``{key: value}``."""
        return copy.deepcopy(self._values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Section):
            return NotImplemented
        return self._name == other._name and self._values == other._values

    def __repr__(self) -> str:
        return f"Section({self._name!r}, {self._values!r})"

    def __deepcopy__(self, memo: dict[int, Any]) -> Section:
        return Section(self._name, copy.deepcopy(self._values, memo), self._given)


class Config:
    """A validated configuration: the system sections, the application section and the inputs.

    Attributes:
        system, network, training, inference, evaluation: the system sections.
        app: the application section (e.g. ``[SEGMENTATION]``); ``app_name`` is its name.
        inputs: input-source sections by name, in file order.
        path: the absolute config file path, or ``None`` if built from a mapping.
        config_dir: the folder relative paths written in the config were resolved against.
        action: the action the config was validated for (train, inference or evaluation).
        notices: what validation told the user about reading the file (e.g. a key NiftyNet's
            configs put in another section, read in its own), one line each; also logged.
    """

    def __init__(self, sections: dict[str, Section], app: Section, inputs: dict[str, Section],
                 path: str | None, config_dir: str, action: str, notices: tuple[str, ...] = ()) -> None:
        self.system = sections["SYSTEM"]
        self.network = sections["NETWORK"]
        self.training = sections["TRAINING"]
        self.inference = sections["INFERENCE"]
        self.evaluation = sections["EVALUATION"]
        # Transforms in the order applied (only the keys given, unlike the other sections).
        self.augmentation = sections.get("AUGMENTATION") or Section("AUGMENTATION", {})
        self.app = app
        self.app_name = app.section_name
        self.inputs = inputs
        self.path = path
        self.config_dir = config_dir
        self.action = action
        self.notices = tuple(notices)

    def sections(self) -> dict[str, Section]:
        """All sections in saving order: system sections, the app section, then the inputs."""
        ordered = {
            "SYSTEM": self.system, "NETWORK": self.network, "TRAINING": self.training,
            "INFERENCE": self.inference, "EVALUATION": self.evaluation, "AUGMENTATION": self.augmentation,
            self.app_name: self.app,
        }
        ordered.update(self.inputs)
        return ordered

    def schema_of(self, section_name: str) -> dict[str, schema.Key]:
        """The key table that describes ``section_name`` of this config."""
        if section_name in self.inputs:
            return schema.INPUT_KEYS
        return schema.section_keys(section_name)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{section: {key: value}}`` with every value resolved (a deep copy)."""
        return {name: section.as_dict() for name, section in self.sections().items()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Config):
            return NotImplemented
        return self.app_name == other.app_name and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Config(path={self.path!r}, app={self.app_name!r}, inputs={list(self.inputs)!r})"


def format_value(key: schema.Key | None, value: Any) -> str:
    """Write one typed value as INI text that parses back to it."""
    if value is None:
        return ""
    if key is None:
        return ", ".join(map(str, value)) if isinstance(value, tuple) else str(value)
    return key.type.format(value)


def render_ini(cfg: Config) -> str:
    """Return the fully resolved configuration as INI text (see :func:`save_config`)."""
    lines = ["# voxflow configuration, fully resolved (absolute paths, every default written out).\n"]
    for name, section in cfg.sections().items():
        table = cfg.schema_of(name)
        lines.append(f"\n[{name}]\n")
        for key, value in section.as_dict().items():
            text = format_value(table.get(key), value)
            lines.append(f"{key} = {text}\n" if text else f"{key} =\n")
    return "".join(lines)


def save_config(cfg: Config, path: str | os.PathLike[str]) -> str:
    """Write the fully resolved config as INI, atomically; loading it back gives an equal config.

    Paths are absolute, arrays comma lists, unset values empty.  The file is written to a
    temporary name in the destination folder (created if needed), then moved into place.

    Args:
        cfg: the configuration.
        path: the destination file.

    Returns:
        The absolute path written.
    """
    target = os.path.abspath(os.path.expanduser(os.fspath(path)))
    atomic_write_text(target, render_ini(cfg))
    return target
