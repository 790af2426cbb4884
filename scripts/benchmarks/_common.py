"""Shared helpers of the peer benchmarks: JSON lines, timing, peer versions, device name, peak memory.

Every benchmark prints one JSON object per line with at least ``case``, ``unit`` (``s`` or a rate
such as ``windows/s``), ``voxflow`` (the value), ``peer`` (``"name version"`` or null when the peer
is not installed), ``peer_value``, ``speedup`` (how many times faster voxflow is: > 1 means voxflow
wins; peer / voxflow for times, voxflow / peer for rates) and ``device``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PLATFORM = Path(__file__).resolve().parents[2] / "platform"
if str(PLATFORM) not in sys.path:
    sys.path.insert(0, str(PLATFORM))


def version(package: str) -> str | None:
    """The installed version of ``package``, or None."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def peer_name(package: str) -> str | None:
    """``"package version"`` when ``package`` (and torch) are installed, else None."""
    if version("torch") is None:
        return None
    found = version(package)
    return None if found is None else f"{package} {found}"


def speedup(unit: str, ours: float | None, theirs: float | None) -> float | None:
    """How many times faster voxflow is: peer/voxflow for seconds, voxflow/peer for rates."""
    if ours is None or theirs is None or ours <= 0 or theirs <= 0:
        return None
    ratio = theirs / ours if unit == "s" else ours / theirs
    return round(ratio, 2)


def emit(case: str, unit: str, voxflow: float | None, peer: str | None, peer_value: float | None,
         device: str, digits: int = 3, **extra: Any) -> dict[str, Any]:
    """Print (and return) one JSON line for a case."""
    row = {
        "case": case,
        "unit": unit,
        "voxflow": None if voxflow is None else round(voxflow, digits),
        "peer": peer,
        "peer_value": None if peer_value is None or peer is None else round(peer_value, digits),
        "speedup": speedup(unit, voxflow, peer_value if peer else None),
        "device": device,
        **extra,
    }
    print(json.dumps(row), flush=True)
    return row


def tf_device_name() -> str:
    """``cpu`` or the name of TensorFlow's first GPU."""
    import tensorflow as tf  # noqa: PLC0415

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "cpu"
    details = tf.config.experimental.get_device_details(gpus[0])
    return str(details.get("device_name", "gpu"))


def torch_device() -> str:
    """``cuda`` when torch sees a GPU, else ``cpu``."""
    import torch  # noqa: PLC0415

    return "cuda" if torch.cuda.is_available() else "cpu"


def rate(step: Callable[[], int], seconds: float, min_steps: int, max_steps: int | None = None) -> float:
    """Items per second of ``step`` (which returns the items it produced), over at least
    ``min_steps`` calls and ``seconds`` seconds (stopping at ``max_steps`` calls)."""
    count, calls, start = 0, 0, time.perf_counter()
    while calls < min_steps or time.perf_counter() - start < seconds:
        count += step()
        calls += 1
        if max_steps is not None and calls >= max_steps:
            break
    return count / (time.perf_counter() - start)


def best_time(function: Callable[[], Any], repeats: int) -> float:
    """Best wall time in seconds of ``repeats`` calls."""
    best = float("inf")
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


# --- peak memory -------------------------------------------------------------------------------

def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset the RSS high-water mark (Linux ``clear_refs``); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def rss_mib() -> float:
    """Current resident set size in MiB."""
    kib = _status_kib("VmRSS")
    return float("nan") if kib is None else kib / 1024


def peak_rss_mib() -> float:
    """RSS high-water mark in MiB (``VmHWM``, which :func:`reset_peak_rss` resets; else ru_maxrss)."""
    kib = _status_kib("VmHWM")
    if kib is None:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024


def run_worker(script: str, args: list[str], timeout: float = 1800) -> dict[str, Any] | None:
    """Run ``python script args`` in a fresh process and return the last JSON line it printed."""
    proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stderr[-3000:])
        return None
    return json.loads(lines[-1])
