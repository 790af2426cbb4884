"""How much memory an inference batch needs, checked before any work.

A window the machine cannot hold used to end in the kernel killing the process (NiftyNet's DeepMedic
config infers 195³ windows, 128 at a time); this module makes it a one-line error. The check traces
the compiled prediction once (a symbolic trace: no memory is allocated, and the trace is the one the
first batch then runs) and takes its largest tensor: a batch needs at least that tensor and the one
it is computed from, so ``2 × largest`` is a lower bound of the memory the batch needs, and a window
refused by it could never run.
"""

from __future__ import annotations

import math
import os
from typing import Any

from voxflow.errors import ConfigError


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (``MemAvailable``), else the physical memory;
    None where neither is known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def largest_tensor_bytes(function: Any, input_shape: tuple[int, ...]) -> int:
    """Bytes of the largest tensor one window (batch 1) makes when ``function`` (a ``tf.function``)
    runs on a batch of ``input_shape`` windows (batch axis first, left unknown in the trace)."""
    import tensorflow as tf  # noqa: PLC0415

    spec = tf.TensorSpec((None, *input_shape), tf.float32)
    graph = function.get_concrete_function(spec).graph
    largest = 0
    for op in graph.get_operations():
        for tensor in op.outputs:
            shape = tensor.shape
            if shape.rank is None or shape.rank < 2 or not shape[1:].is_fully_defined():
                continue
            if shape[0] is not None and shape[0] != 1 and op.type not in ("Placeholder",):
                continue  # not a per-window tensor
            largest = max(largest, math.prod(shape[1:]) * tensor.dtype.size)
    return largest


def check_inference_memory(function: Any, input_shape: tuple[int, ...], batch_size: int, what: str) -> None:
    """Refuse a batch of windows the machine cannot hold.

    Args:
        function: the compiled prediction (a ``tf.function`` of a batch of windows).
        input_shape: one window in the network's layout, channels last.
        batch_size: windows predicted at once.
        what: how the message names the window (``[INFERENCE] spatial_window_size 195×195×195``).

    Raises:
        ConfigError: ``2 × batch_size × the largest tensor`` exceeds the available memory.
    """
    memory = available_memory()
    if memory is None:
        return
    needed = 2 * int(batch_size) * largest_tensor_bytes(function, tuple(int(v) for v in input_shape))
    if needed > memory:
        raise ConfigError(
            f"{what} with batch_size {batch_size} needs at least {needed / 2**30:.3g} GiB for the network's largest "
            f"activations alone; this machine has {memory / 2**30:.3g} GiB available: choose a smaller "
            "[INFERENCE] spatial_window_size or [NETWORK] batch_size.")
