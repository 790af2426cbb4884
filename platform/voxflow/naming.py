"""The nearest valid name, for every "Did you mean" hint in voxflow (one helper, imported everywhere).

Example:
    >>> closest("uniforn", ["uniform", "weighted", "balanced"])
    'uniform'
    >>> did_you_mean("Dise", ["Dice", "GDSC"])
    " Did you mean 'Dice'?"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: Words longer than this get no suggestion: difflib's time grows with them (12 s on 50 MB).
LONGEST = 100


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate nearest to ``word``, compared case-insensitively and returned as spelt, or None."""
    if len(word) > LONGEST:
        return None
    lowered = {}
    for candidate in candidates:
        lowered.setdefault(str(candidate).lower(), str(candidate))
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[match[0]] if match else None


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str:
    """``" Did you mean 'x'?"`` for the nearest candidate, or ``""``."""
    near = closest(word, candidates, cutoff)
    return f" Did you mean '{near}'?" if near else ""
