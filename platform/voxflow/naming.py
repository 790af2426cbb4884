"""The nearest valid name, for every "Did you mean" hint in voxflow (one helper, imported everywhere).

A candidate is suggested only when it is a plausible typo of the word: within a few edits of it
(:func:`edit_distance` counts an insertion, a deletion, a substitution or a swap of two neighbours
as one edit; :func:`edits_allowed` allows one edit per four characters, at least one) *and* at
least ``cutoff`` similar by :mod:`difflib`'s ratio. So ``uniforn`` suggests ``uniform`` and
``Dcie`` suggests ``Dice``, but ``nonewnet`` suggests nothing rather than ``toynet``, and
``net_regress`` nothing rather than ``net_segment``: a name that is another thing altogether is
better answered by the list of valid names than by a wrong guess.

Example:
    >>> closest("uniforn", ["uniform", "weighted", "balanced"])
    'uniform'
    >>> did_you_mean("Dise", ["Dice", "GDSC"])
    " Did you mean 'Dice'?"
    >>> closest("nonewnet", ["toynet", "unet"]) is None
    True
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: Words longer than this get no suggestion: difflib's time grows with them (12 s on 50 MB).
LONGEST = 100
#: Characters of the word per allowed edit (see :func:`edits_allowed`).
CHARACTERS_PER_EDIT = 4


def edits_allowed(word: str) -> int:
    """How many edits a typo of ``word`` may be away from the name meant: one per
    :data:`CHARACTERS_PER_EDIT` characters, at least one."""
    return max(1, len(word) // CHARACTERS_PER_EDIT)


def edit_distance(first: str, second: str, limit: int | None = None) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
    neighbouring characters, each one edit.

    Args:
        first, second: the two strings (compared as given; lower-case them for case-insensitivity).
        limit: stop early and return ``limit + 1`` once the distance is known to exceed it.
    """
    if limit is not None and abs(len(first) - len(second)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(second) + 1))
    for i, a in enumerate(first, start=1):
        current = [i] + [0] * len(second)
        for j, b in enumerate(second, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b))
            if i > 1 and j > 1 and a == second[j - 2] and first[i - 2] == b:
                current[j] = min(current[j], before[j - 2] + 1)
        if limit is not None and min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate nearest to ``word`` if it is a plausible typo of it (see the module docstring),
    compared case-insensitively and returned as spelt; otherwise None.

    Args:
        word: the name given.
        candidates: the valid names.
        cutoff: the least :class:`difflib.SequenceMatcher` ratio a suggestion must also reach.
    """
    if len(word) > LONGEST:
        return None
    lowered: dict[str, str] = {}
    for candidate in candidates:
        lowered.setdefault(str(candidate).lower(), str(candidate))
    text = word.lower()
    limit = edits_allowed(text)
    best: tuple[int, float] | None = None
    found = None
    for candidate, spelt in lowered.items():
        distance = edit_distance(text, candidate, limit)
        if distance > limit:
            continue
        ratio = difflib.SequenceMatcher(None, text, candidate).ratio()
        if ratio < cutoff:
            continue
        rank = (distance, -ratio)
        if best is None or rank < best:
            best, found = rank, spelt
    return found


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str:
    """``" Did you mean 'x'?"`` for the nearest candidate, or ``""``."""
    near = closest(word, candidates, cutoff)
    return f" Did you mean '{near}'?" if near else ""
