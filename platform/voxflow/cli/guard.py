"""How every console script turns errors into one line and an exit status.

- :class:`~voxflow.errors.VoxflowError` (bad input): ``PROG: error: <message>``, status 2;
- the extra exception types a script names (e.g. ``ValueError`` for arguments a layer rejects):
  the same, status 2;
- running out of memory (``MemoryError``, TensorFlow's ``ResourceExhaustedError``): one line
  saying so, with what to lower, status 2;
- Ctrl-C: ``PROG: interrupted``, status 130; SIGTERM (what schedulers and ``kill`` send) is
  treated like Ctrl-C — training saves a checkpoint first — then ``PROG: terminated``, status 143;
- anything else: ``PROG: internal error: <type>: <first line> (rerun with --debug for the
  traceback)``, status 1 — or the full traceback with ``--debug``.

Every line is capped at :data:`MAX_MESSAGE` characters, whatever a message echoes.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from typing import Any

from voxflow.errors import VoxflowError, first_line

MAX_MESSAGE = 2000


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that the same clean-up as Ctrl-C runs."""


def _raise_terminated(signum: int, frame: Any) -> None:  # noqa: ARG001 - a signal handler's signature
    raise Terminated()


def _say(prog: str, text: str) -> None:
    line = " ".join(text.split("\n"))
    if len(line) > MAX_MESSAGE:
        line = line[:MAX_MESSAGE] + f"… ({len(line) - MAX_MESSAGE} more characters)"
    print(f"{prog}: {line}", file=sys.stderr)


def _out_of_memory(err: BaseException) -> bool:
    return isinstance(err, MemoryError) or type(err).__name__ == "ResourceExhaustedError"


def run_guarded(prog: str, body: Callable[[], int], debug: bool = False,
                user_errors: tuple[type[BaseException], ...] = ()) -> int:
    """Run ``body`` (which returns an exit status) and report its errors as described above."""
    logging.basicConfig(level=logging.INFO, format=f"{prog}: %(message)s", stream=sys.stderr)
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: leave SIGTERM alone
        previous = None
    try:
        return body()
    except VoxflowError as err:
        _say(prog, f"error: {err}")
        return err.exit_code
    except user_errors as err:
        _say(prog, f"error: {first_line(err, MAX_MESSAGE)}")
        return 2
    except Terminated:
        _say(prog, "terminated")
        return 143
    except KeyboardInterrupt:
        _say(prog, "interrupted")
        return 130
    except Exception as err:  # noqa: BLE001 - the one place that turns crashes into one line
        if debug:
            raise
        if _out_of_memory(err):
            _say(prog, f"error: out of memory ({type(err).__name__}: {first_line(err, 200)}): lower "
                       "[NETWORK] batch_size or spatial_window_size, or use a machine with more memory.")
            return 2
        _say(prog, f"internal error: {type(err).__name__}: {first_line(err, MAX_MESSAGE)} (rerun with --debug for the traceback)")
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
