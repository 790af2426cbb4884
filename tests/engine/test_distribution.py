"""The multi-replica path on a machine without GPUs: [SYSTEM] cpu_replicas, mixed precision, XLA.

Each run is a separate process: logical CPU devices must be configured before TensorFlow starts.
"""

import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

CLI = "import sys; from voxflow.cli.main import net_segment; sys.argv[0] = 'net_segment'; net_segment()"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "cli"))
from cli_data import make_subject, write_config  # noqa: E402


@pytest.fixture
def dataset(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        make_subject(str(data), f"sub{i:02d}", seed=i)
    return write_config(tmp_path)


def net_segment(*argv):
    proc = subprocess.run([sys.executable, "-c", CLI, *argv], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def losses(model_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(os.path.join(model_dir, "logs", "train"))
    events.Reload()
    import tensorflow as tf

    return [float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors("loss")]


def common(model_dir, *extra):
    # queue_length pinned: the default queue is 5 × batch_size, which differs between the two layouts.
    return ("--model_dir", model_dir, "--validation_every_n", "-1", "--tensorboard_every_n", "1", "--queue_length", "10",
            *extra)


def test_two_cpu_replicas_follow_one_replica_with_the_doubled_batch(tmp_path, dataset):
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    net_segment("train", "-c", dataset, *common(one, "--max_iter", "4", "--batch_size", "2"))
    net_segment("train", "-c", dataset, *common(two, "--max_iter", "4", "--batch_size", "1", "--cpu_replicas", "2"))
    single, double = losses(one), losses(two)
    assert len(single) == len(double) == 4
    np.testing.assert_allclose(double, single, rtol=1e-4, atol=1e-5)
    # Multi-replica inference writes what single-device inference writes.
    net_segment("inference", "-c", dataset, "--model_dir", two, "--save_seg_dir", str(tmp_path / "a"))
    net_segment("inference", "-c", dataset, "--model_dir", two, "--save_seg_dir", str(tmp_path / "b"),
                "--cpu_replicas", "2")
    for name in os.listdir(tmp_path / "a"):
        if name.endswith(".nii.gz"):
            a = np.asarray(nib.load(str(tmp_path / "a" / name)).dataobj)
            b = np.asarray(nib.load(str(tmp_path / "b" / name)).dataobj)
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("flag", ["--jit_compile", "--mixed_precision"])
def test_xla_and_mixed_precision_still_converge(tmp_path, dataset, flag):
    model_dir = str(tmp_path / "run")
    net_segment("train", "-c", dataset, *common(model_dir, "--max_iter", "25", "--lr", "0.05", flag, "true"))
    trajectory = losses(model_dir)
    assert np.isfinite(trajectory).all()
    assert np.mean(trajectory[-5:]) < 0.8 * np.mean(trajectory[:3]), trajectory


def _free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _two_workers(config, model_dir, *extra, deadline=240):
    """Start worker 0 (chief) and worker 1 on 127.0.0.1; both must finish before the deadline."""
    hosts = ",".join(f"127.0.0.1:{port}" for port in _free_ports(2))
    procs = [subprocess.Popen([sys.executable, "-c", CLI, "train", "-c", config, "--model_dir", model_dir,
                               "--worker_hosts", hosts, "--task_index", str(index), "--validation_every_n", "-1",
                               "--debug", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for index in range(2)]
    try:
        outputs = [proc.communicate(timeout=deadline) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-2000:]


@pytest.mark.slow  # two TensorFlow processes and a gRPC cluster: ~40 s
def test_two_workers_on_localhost_train_checkpoint_once_and_resume(tmp_path, dataset):
    model_dir = str(tmp_path / "cluster")
    _two_workers(dataset, model_dir, "--max_iter", "2", "--save_every_n", "2")
    assert sorted(os.listdir(os.path.join(model_dir, "models"))) == ["ckpt-2"]
    assert not [name for name in os.listdir(model_dir) if name.startswith(".worker-")]
    assert os.path.isfile(os.path.join(model_dir, "settings_train.ini"))
    _two_workers(dataset, model_dir, "--starting_iter", "-1", "--max_iter", "4", "--save_every_n", "2")
    assert sorted(os.listdir(os.path.join(model_dir, "models"))) == ["ckpt-2", "ckpt-4"]
