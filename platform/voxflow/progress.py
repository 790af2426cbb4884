"""Progress for people at a terminal and for log files.

At a terminal, :func:`progress_bar` is a tqdm bar redrawn in place. When stderr is not a terminal
(CI, a scheduler's log file, ``2> log.txt``) carriage-return redraws turn into hundreds of
fragments on one enormous line, so the bar becomes :class:`PlainProgress`: an ordinary line every
``VOXFLOW_PROGRESS_SECONDS`` seconds (default 30) and one at the end, e.g.::

    train: 300/600 it (50%), 2.1 it/s, loss=0.4213, windows_s=4.2

Both have the same small interface: iterate or ``update(n)``, ``set_postfix(**values)``,
``write(line)`` and ``close()``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

INTERVAL_ENV = "VOXFLOW_PROGRESS_SECONDS"


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get(INTERVAL_ENV, "30")))
    except ValueError:
        return 30.0


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _amount(value: float, unit: str, scale: bool) -> str:
    if not scale:
        return f"{value:.0f}"
    for prefix in ("", "Ki", "Mi", "Gi"):
        if abs(value) < 1024 or prefix == "Gi":
            return f"{value:.0f} {prefix}{unit}" if not prefix else f"{value:.1f} {prefix}{unit}"
        value /= 1024
    return f"{value}"


class PlainProgress:
    """Progress as plain, periodic log lines (see the module docstring)."""

    def __init__(self, iterable: Iterable[Any] | None = None, total: int | None = None, desc: str = "",
                 unit: str = "it", initial: int = 0, unit_scale: bool = False, file: TextIO | None = None,
                 interval: float | None = None, silent: bool = False) -> None:
        self.silent = silent
        self.iterable = iterable
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.desc, self.unit, self.unit_scale = desc, unit, unit_scale
        self.n = self.start = initial
        self.file = file if file is not None else sys.stderr
        self.interval = _interval() if interval is None else interval
        self.postfix: dict[str, Any] = {}
        self._started = self._last = time.monotonic()
        self._closed = False
        self._printed: int | None = None

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable or ():
            yield item
            self.update(1)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units; print a line when the interval has passed."""
        self.n += n
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._print()

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:  # noqa: ARG002 - tqdm's signature
        """Values shown after the count (loss, speed ...)."""
        self.postfix = values

    def write(self, line: str) -> None:
        """Print a line of its own."""
        if not self.silent:
            print(line, file=self.file, flush=True)

    def close(self) -> None:
        """Print the final line (once)."""
        if not self._closed:
            self._closed = True
            if (self.n > self.start or self.total == 0) and self._printed != self.n:
                self._print()

    def _print(self) -> None:
        if self.silent:
            return
        self._printed = self.n
        count = _amount(self.n, self.unit, self.unit_scale)
        if self.total:
            count += f"/{_amount(self.total, self.unit, self.unit_scale)}"
            count += "" if self.unit_scale else f" {self.unit}"
            count += f" ({100.0 * self.n / self.total:.0f}%)"
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = (self.n - self.start) / elapsed
        parts = [f"{self.desc}: {count}" if self.desc else count,
                 f"{_amount(rate, self.unit, self.unit_scale)}/s" if self.unit_scale else f"{rate:.3g} {self.unit}/s"]
        parts += [f"{key}={value}" for key, value in self.postfix.items()]
        print(", ".join(parts), file=self.file, flush=True)


def progress_bar(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "it", initial: int = 0, unit_scale: bool = False, disable: bool = False,
                 leave: bool = True, file: TextIO | None = None) -> Any:
    """A tqdm bar at a terminal, :class:`PlainProgress` otherwise, or a silent one if ``disable``."""
    stream = file if file is not None else sys.stderr
    if disable:
        return PlainProgress(iterable, total=total, desc=desc, unit=unit, initial=initial, silent=True)
    if not _is_terminal(stream):
        return PlainProgress(iterable, total=total, desc=desc, unit=unit, initial=initial, unit_scale=unit_scale,
                             file=stream)
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, unit_scale=unit_scale,
                unit_divisor=1024 if unit_scale else 1000, leave=leave, file=stream, dynamic_ncols=True,
                mininterval=1.0)
