"""The adversarial step pattern: a toy GAN (tests/engine/plugins/toy_gan.py) as a plugin application."""

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from voxflow.cli.main import main
from voxflow.engine.checkpoints import CheckpointStore

PLUGIN = Path(__file__).resolve().parent / "plugins" / "toy_gan.py"
CONFIG = """\
[SYSTEM]
model_dir = model
seed = 1
[NETWORK]
name = toynet
batch_size = 64
[TRAINING]
lr = 0.005
save_every_n = 0
[TOYGAN]
d_steps = 2
"""


def test_discriminator_steps_then_a_generator_step_learn_the_data(tmp_path, monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "toy_gan", raising=False)
    shutil.copy(PLUGIN, tmp_path)
    (tmp_path / "config.ini").write_text(CONFIG, encoding="utf-8")

    def net_run(*extra):
        return main(["train", "-c", str(tmp_path / "config.ini"), "-a", "toy_gan.ToyGan", *extra],
                    prog="net_run", application=None)

    assert net_run("--max_iter", "200") == 0
    shown = capsys.readouterr().err
    assert "d_loss=" in shown and "g_loss=" in shown  # every named scalar on the progress bar
    assert net_run("--max_iter", "300", "--starting_iter", "-1") == 0  # both models and optimisers restored
    reader = tf.train.load_checkpoint(os.path.join(tmp_path, "model", "models", "ckpt-300", "ckpt"))
    updates = {name: int(reader.get_tensor(f"optimizer_{name}/v00000/.ATTRIBUTES/VARIABLE_VALUE"))
               for name in ("discriminator", "generator")}
    assert updates == {"discriminator": 600, "generator": 300}  # d_steps = 2 per generator step, resumed
    sys.path.insert(0, str(tmp_path))
    try:
        from toy_gan import mlp
    finally:
        sys.path.remove(str(tmp_path))
    generator, discriminator = mlp("generator"), mlp("discriminator")
    generator(np.zeros((1, 4), np.float32))
    discriminator(np.zeros((1, 1), np.float32))
    CheckpointStore(str(tmp_path / "model" / "models")).restore(300, {"generator": generator,
                                                                       "discriminator": discriminator})
    samples = generator(np.random.default_rng(5).normal(size=(2000, 4)).astype(np.float32)).numpy()
    assert 2.0 < samples.mean() < 4.5  # the real data are N(3, 0.5); an untrained generator gives ~0
