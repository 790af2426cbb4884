"""How much a weights archive may unpack to: bounds with stated defaults, set by flag or environment.

=====================  ================================  ===========================  =======
bound                  ``net_download`` flag             environment variable         default
=====================  ================================  ===========================  =======
all members together   ``--max-unpacked-mb MB``          ``VOXFLOW_MAX_UNPACKED_MB``  4096
any one member         ``--max-member-mb MB``            ``VOXFLOW_MAX_MEMBER_MB``    2048
unpacked / archive     ``--max-unpack-ratio R``          ``VOXFLOW_MAX_UNPACK_RATIO`` 200
=====================  ================================  ===========================  =======

MB here are MiB (2^20 bytes). A flag wins over the environment variable, which wins over the
default. The ratio bound applies once the members together pass 1 MiB (a tiny archive of small
files can have any ratio). Checkpoints of trained weights compress by a few percent at most, so
a high ratio means an archive of mostly zeros: padding, or a decompression bomb.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from voxflow.zoo.index import ZooError

MIB = 1 << 20
MAX_UNPACKED_ENV = "VOXFLOW_MAX_UNPACKED_MB"
MAX_MEMBER_ENV = "VOXFLOW_MAX_MEMBER_MB"
MAX_RATIO_ENV = "VOXFLOW_MAX_UNPACK_RATIO"
RATIO_FLOOR_BYTES = MIB


def mib_text(num: float) -> str:
    """``num`` bytes in MiB as a user would write the bound (``4096 MiB``, ``0.5 MiB``)."""
    return f"{num / MIB:g} MiB"


def _from_env(name: str) -> float | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ZooError(f"The environment variable {name} must be a number > 0, found {text[:40]!r}.")
    return value


@dataclass(frozen=True)
class UnpackLimits:
    """Bounds on what one weights archive may unpack to (see the module docstring).

    Attributes:
        total_bytes: all members together.
        member_bytes: any one member.
        ratio: unpacked bytes over archive bytes.
    """

    total_bytes: int = 4096 * MIB
    member_bytes: int = 2048 * MIB
    ratio: float = 200.0

    @classmethod
    def resolve(cls, max_unpacked_mb: float | None = None, max_member_mb: float | None = None,
                max_ratio: float | None = None) -> UnpackLimits:
        """The bounds from the given values (flags), else the environment, else the defaults.

        Raises:
            ZooError: an environment variable is not a number > 0.
        """
        total = max_unpacked_mb if max_unpacked_mb is not None else _from_env(MAX_UNPACKED_ENV)
        member = max_member_mb if max_member_mb is not None else _from_env(MAX_MEMBER_ENV)
        ratio = max_ratio if max_ratio is not None else _from_env(MAX_RATIO_ENV)
        return cls(int(total * MIB) if total is not None else cls.total_bytes,
                   int(member * MIB) if member is not None else cls.member_bytes,
                   float(ratio) if ratio is not None else cls.ratio)

    def ratio_applies(self, unpacked: int) -> bool:
        """Whether the ratio bound applies to an archive that unpacks to ``unpacked`` bytes."""
        return unpacked > RATIO_FLOOR_BYTES

    @property
    def total_hint(self) -> str:
        """How a message says to raise the total bound."""
        return f"if you trust the entry, raise it with --max-unpacked-mb MB or {MAX_UNPACKED_ENV}"

    @property
    def member_hint(self) -> str:
        """How a message says to raise the bound of one member."""
        return f"if you trust the entry, raise it with --max-member-mb MB or {MAX_MEMBER_ENV}"

    @property
    def ratio_hint(self) -> str:
        """How a message says to raise the ratio bound."""
        return f"if you trust the entry, raise it with --max-unpack-ratio R or {MAX_RATIO_ENV}"


DEFAULT_LIMITS = UnpackLimits()
