"""Which ``tf.distribute`` strategy a run uses, and who writes its files.

One code path for every device layout; only the strategy differs:

- one device: the default strategy;
- ``[SYSTEM] num_gpus`` > 1 with several visible GPUs: ``MirroredStrategy`` over them;
- ``[SYSTEM] cpu_replicas`` = N > 1 on a machine without GPUs: the CPU split into N logical
  devices under ``MirroredStrategy`` (so the multi-replica path runs and is tested without GPUs);
- ``TF_CONFIG`` in the environment (or ``[SYSTEM] worker_hosts`` and ``task_index``, turned into
  ``TF_CONFIG``) naming more than one worker: ``MultiWorkerMirroredStrategy``.

``batch_size`` stays per replica (NiftyNet's meaning): a step consumes
``batch_size × num_replicas_in_sync`` windows.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import tensorflow as tf

from voxflow.errors import ConfigError

log = logging.getLogger(__name__)


def cluster_from_config(system: Any) -> dict | None:
    """``TF_CONFIG`` content from ``worker_hosts``/``task_index``, or the environment's, or None."""
    hosts = tuple(getattr(system, "worker_hosts", ()) or ())
    if hosts:
        index = int(getattr(system, "task_index", 0) or 0)
        if index >= len(hosts):
            raise ConfigError(f"[SYSTEM] task_index = {index} but worker_hosts lists {len(hosts)} worker(s).")
        config = {"cluster": {"worker": list(hosts)}, "task": {"type": "worker", "index": index}}
        os.environ["TF_CONFIG"] = json.dumps(config)
        return config
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as err:
        raise ConfigError(f"The TF_CONFIG environment variable is not valid JSON: {err}.") from err


def make_strategy(cfg: Any) -> tf.distribute.Strategy:
    """Choose the strategy for ``cfg`` (see the module docstring). Call before any other TF op."""
    system = cfg.system
    cluster = cluster_from_config(system)
    workers = sum(len(v) for k, v in (cluster or {}).get("cluster", {}).items() if k in ("worker", "chief"))
    if workers > 1:
        log.info("MultiWorkerMirroredStrategy: task %s of %d workers", cluster.get("task"), workers)
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_physical_devices("GPU")
    wanted = system.num_gpus
    if wanted == 0 and gpus:
        tf.config.set_visible_devices([], "GPU")
        gpus = []
    if len(gpus) > 1 and wanted > 1:
        devices = [f"/gpu:{i}" for i in range(min(wanted, len(gpus)))]
        log.info("MirroredStrategy over %s", ", ".join(devices))
        return tf.distribute.MirroredStrategy(devices=devices)
    replicas = int(getattr(system, "cpu_replicas", 0) or 0)
    if replicas > 1 and not gpus:
        return tf.distribute.MirroredStrategy(devices=split_cpu(replicas))
    return tf.distribute.get_strategy()


def split_cpu(replicas: int) -> list[str]:
    """Split the CPU into ``replicas`` logical devices; returns their names."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
    except RuntimeError:
        # Already initialised (e.g. a second run in one process): use what exists.
        pass
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(devices) < replicas:
        raise ConfigError(
            f"[SYSTEM] cpu_replicas = {replicas} but TensorFlow was already started with {len(devices)} CPU "
            "device(s) in this process: set it before the first TensorFlow operation."
        )
    log.info("MirroredStrategy over %d logical CPU devices", replicas)
    return devices[:replicas]


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes checkpoints, logs and configs (always, outside multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def worker_index(strategy: tf.distribute.Strategy) -> int:
    """This worker's index (0 outside multi-worker), used to give workers different windows."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(resolver.task_id or 0) if resolver is not None and resolver.task_type else 0
