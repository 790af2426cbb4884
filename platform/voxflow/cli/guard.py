"""How every console script turns errors into one line and an exit status.

- :class:`~voxflow.errors.VoxflowError` (bad input): ``PROG: error: <message>``, status 2;
- the extra exception types a script names (e.g. ``ValueError`` for arguments a layer rejects):
  the same, status 2;
- Ctrl-C: ``PROG: interrupted``, status 130;
- anything else: ``PROG: internal error: <type>: <first line> (rerun with --debug for the
  traceback)``, status 1 — or the full traceback with ``--debug``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from voxflow.errors import VoxflowError


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def run_guarded(prog: str, body: Callable[[], int], debug: bool = False,
                user_errors: tuple[type[BaseException], ...] = ()) -> int:
    """Run ``body`` (which returns an exit status) and report its errors as described above."""
    logging.basicConfig(level=logging.INFO, format=f"{prog}: %(message)s", stream=sys.stderr)
    try:
        return body()
    except VoxflowError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return err.exit_code
    except user_errors as err:
        print(f"{prog}: error: {_first_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the one place that turns crashes into one line
        if debug:
            raise
        print(f"{prog}: internal error: {type(err).__name__}: {_first_line(err)} "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1
