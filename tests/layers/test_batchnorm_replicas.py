"""Batch normalisation under several replicas uses the global batch's statistics.

Runs in a subprocess: logical CPU devices must be configured before TensorFlow starts.
"""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np
    from voxflow.layers.normalization import get_normalization

    x = np.random.default_rng(0).normal(size=(4, 5, 5, 5, 3)).astype(np.float32) * 3 + 1
    single = get_normalization("batch", name="bn")
    reference = single(x, training=True).numpy()
    assert not single.synchronized
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        layer = get_normalization("batch", name="bn")
        layer.build(x.shape)
    assert layer.synchronized
    batch = next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(x).batch(4))))
    out = strategy.run(lambda b: layer(b, training=True), args=(batch,))
    halves = [t.numpy() for t in strategy.experimental_local_results(out)]
    assert [len(h) for h in halves] == [2, 2]
    np.testing.assert_allclose(np.concatenate(halves), reference, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), single.moving_mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), single.moving_variance.numpy(), rtol=1e-5)
    print("OK")
""")


def test_two_replicas_of_two_normalise_like_one_device_with_four():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("OK")
