"""User-facing errors.

Every problem caused by the user's input (config, files, data, checkpoints) raises a
:class:`VoxflowError` subclass whose message is ONE line naming the file, section or key, what was
expected and what was received.  The console scripts print that line and exit with status 2; any
other exception is an internal error (one line plus a hint to rerun with ``--debug``).
"""


def first_line(error: BaseException | str, limit: int = 300) -> str:
    """The first line of an error's message (or of ``error`` itself), at most ``limit`` characters;
    the exception's type name when it has no message."""
    text = str(error).strip()
    if not text:
        return type(error).__name__ if isinstance(error, BaseException) else "no details"
    line = text.splitlines()[0]
    return line if len(line) <= limit else line[:limit] + "…"


class VoxflowError(Exception):
    """Base class of errors caused by bad user input; printed as one line, exit status 2."""

    exit_code = 2


class ConfigError(VoxflowError):
    """A configuration file or command-line override is malformed or invalid."""


class ConfigProblems(ConfigError):
    """Several configuration problems found in one pass, so that a config is fixed in one go.

    Each problem is one line (as a single :class:`ConfigError` would be); ``str()`` joins them with
    newlines and the console scripts print each as its own ``error:`` line (exit status 2).

    Args:
        problems: the one-line messages, in the order found (at least two); or them joined by
            newlines (as ``str()`` gives, so that the error survives pickling).
    """

    def __init__(self, problems: list[str] | tuple[str, ...] | str) -> None:
        self.problems = tuple(problems.split("\n") if isinstance(problems, str) else problems)
        super().__init__("\n".join(self.problems))


class DataError(VoxflowError):
    """An input image, label, CSV file or subject list is missing, unreadable or inconsistent."""


class CheckpointError(VoxflowError):
    """A checkpoint, saved model state or inferred output that an action needs is missing."""


class PluginError(VoxflowError):
    """A plugin named by import path cannot be imported or has the wrong signature."""


class OutputError(VoxflowError):
    """An output cannot be written: a full disk, no permission, a file where a folder should be, or
    an output that would replace one of the run's inputs."""


class LockedError(VoxflowError):
    """A folder another live voxflow run is writing to (see :mod:`voxflow.locks`)."""


class TrainingDiverged(VoxflowError):
    """Training stopped because the loss or the weights became NaN or Inf (usually too high an ``lr``)."""
