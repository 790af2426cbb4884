"""The training loop: compiled train step under a ``tf.distribute`` strategy, checkpoints,
validation with best-model tracking, TensorBoard and a progress bar.

The loop is task-agnostic: an application provides the data (``training_dataset``,
``validation_dataset``), the network (``build_network``, ``network_input``) and the loss and
validation metrics (``loss``, ``validation_metrics``).
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import re
import shutil
import sys
import tempfile
import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from voxflow import registry
from voxflow.atomic import temp_prefix
from voxflow.engine.checkpoints import CheckpointStore
from voxflow.engine.strategy import is_chief, worker_index
from voxflow.engine.summaries import SummaryLogger
from voxflow.errors import CheckpointError, ConfigError, TrainingDiverged
from voxflow.progress import progress_bar

log = logging.getLogger("voxflow")


def build_optimiser(cfg: Any) -> Any:
    """Optimiser named by ``[TRAINING] optimiser`` with ``lr``."""
    factory = registry.resolve("optimiser", cfg.training.optimiser, search_dirs=(cfg.config_dir,))
    try:
        return factory(cfg.training.lr)
    except TypeError:
        return factory(learning_rate=cfg.training.lr)


class Trainer:
    """Runs iterations ``starting_iter + 1 .. max_iter`` of one application.

    Args:
        app: the application (already ``prepare``-d for training).
        cfg: the resolved config.
        strategy: the ``tf.distribute`` strategy (the default strategy on one device).
    """

    def __init__(self, app: Any, cfg: Any, strategy: tf.distribute.Strategy) -> None:
        self.app = app
        self.cfg = cfg
        self.strategy = strategy
        self.replicas = strategy.num_replicas_in_sync
        self.global_batch = cfg.network.batch_size * self.replicas
        model_dir = cfg.system.model_dir
        self.chief = is_chief(strategy)
        # Only the chief keeps files; other workers write (their part of collective saves) to a
        # scratch folder removed at the end, and every worker resumes from the chief's checkpoints.
        root = model_dir if self.chief else tempfile.mkdtemp(prefix=temp_prefix(f"worker-{worker_index(strategy)}"),
                                                         dir=model_dir)
        self.scratch = None if self.chief else root
        self.store = CheckpointStore(os.path.join(root, "models"), cfg.training.max_checkpoints)
        self.summaries = SummaryLogger(os.path.join(root, "logs"))
        self.chief_store = CheckpointStore(os.path.join(model_dir, "models"), cfg.training.max_checkpoints)
        with strategy.scope():
            self.model = app.build_network()  # built on an example window
            self.trainable = frozen_split(self.model, cfg.training.vars_to_freeze or "")
            self.optimizer = build_optimiser(cfg)
            if keras.mixed_precision.global_policy().name == "mixed_float16":
                self.optimizer = keras.optimizers.LossScaleOptimizer(self.optimizer)
            self.optimizer.build(self.trainable)
        self.iteration = 0
        self.best_loss = math.inf
        self._bar: Any = None

    # ------------------------------------------------------------------------- set-up
    def restore(self) -> int:
        """Apply ``starting_iter`` (0 fresh, -1 latest, N iteration N) and return the start."""
        start = self.cfg.training.starting_iter
        include = self.cfg.training.vars_to_restore or ""
        if start == 0:  # (the driver refused to overwrite an existing model before any work)
            return 0
        if start == -1 and self.chief_store.latest() is None:
            log.info("starting_iter = -1 but no checkpoint yet in %s: starting from scratch", self.chief_store.folder)
            return 0
        rename = dict(self.cfg.training.vars_to_restore_rename or {})
        restored = self.chief_store.restore(start, self.model, self.optimizer, include=include, rename=rename)
        best = self.chief_store.best_info()
        if best is not None and not include:
            self.best_loss = float(best["value"])
        log.info("restored checkpoint of iteration %d%s", restored, f" (variables matching '{include}')" if include else "")
        return restored

    def _compile_steps(self) -> None:
        model, optimizer, app, strategy = self.model, self.optimizer, self.app, self.strategy
        replicas = float(self.replicas)
        # Applications may augment a batch on the device, inside the compiled step.
        augment = getattr(app, "augment", None)
        variables = self.trainable

        def replica_train_step(batch: dict) -> tuple[tf.Tensor, tf.Tensor]:
            if augment is not None:
                batch = augment(batch)
            with tf.GradientTape() as tape:
                logits = model(app.network_input(batch), training=True)
                loss = app.loss(batch, logits)
                total = loss + (tf.add_n(model.losses) if model.losses else 0.0)
                scaled = total / replicas
                if hasattr(optimizer, "scale_loss"):
                    scaled = optimizer.scale_loss(scaled)
            grads = tape.gradient(scaled, variables)
            optimizer.apply_gradients(zip(grads, variables))
            # The loss is computed before the update: the weights after it are checked on their own.
            return loss, tf.cast(all_finite(model.variables), tf.float32)

        def replica_eval_step(batch: dict) -> tuple[tf.Tensor, tf.Tensor]:
            logits = model(app.network_input(batch), training=False)
            return app.loss(batch, logits), logits

        if getattr(self.cfg.system, "jit_compile", False):
            replica_train_step = tf.function(replica_train_step, jit_compile=True)

        @tf.function
        def train_step(dist_batch: Any) -> tuple[tf.Tensor, tf.Tensor]:
            loss, finite = strategy.run(replica_train_step, args=(dist_batch,))
            return (strategy.reduce(tf.distribute.ReduceOp.MEAN, loss, axis=None),
                    strategy.reduce(tf.distribute.ReduceOp.MEAN, finite, axis=None))  # 1.0: all replicas

        @tf.function
        def eval_step(dist_batch: Any) -> tuple[Any, Any]:
            return strategy.run(replica_eval_step, args=(dist_batch,))

        self._train_step, self._eval_step = train_step, eval_step

    # --------------------------------------------------------------------------- loop
    def run(self) -> dict[str, float]:
        """Train until ``max_iter``; returns the last training and validation scalars."""
        cfg, store = self.cfg.training, self.store
        start = self.restore()
        self.iteration = start
        if start >= cfg.max_iter:
            log.info("nothing to do: starting iteration %d >= max_iter %d", start, cfg.max_iter)
            if store.latest() is None:
                self._save(start)
            return {}
        self._compile_steps()
        batches = iter(self._distribute(self.app.training_dataset))
        results: dict[str, float] = {}
        rate = wait = None
        watch = DivergenceWatch()
        bar = progress_bar(range(start + 1, cfg.max_iter + 1), initial=start, total=cfg.max_iter, desc="train",
                           unit="it")
        self._bar = bar
        try:
            for iteration in bar:
                tick = time.perf_counter()
                batch = next(batches)
                waited = time.perf_counter() - tick
                loss, finite = (float(v) for v in self._train_step(batch))
                elapsed = time.perf_counter() - tick
                if not (math.isfinite(loss) and finite == 1.0):
                    raise self._diverged(iteration, loss)
                self.iteration = iteration
                watch.check(iteration, loss)
                speed = self.global_batch / max(elapsed, 1e-9)
                rate = speed if rate is None else 0.9 * rate + 0.1 * speed
                waiting = waited / max(elapsed, 1e-9)
                wait = waiting if wait is None else 0.9 * wait + 0.1 * waiting
                bar.set_postfix(loss=f"{loss:.4f}", windows_s=f"{rate:.1f}", data_wait=f"{100 * wait:.0f}%",
                                refresh=False)
                results.update(loss=loss, windows_per_s=rate)
                if cfg.tensorboard_every_n > 0 and iteration % cfg.tensorboard_every_n == 0:
                    self.summaries.scalars("train", iteration, {
                        "loss": loss, "windows_per_second": rate, "data_wait_fraction": waiting})
                    if not isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
                        # (a forward pass outside the step would need every worker's participation)
                        self._log_images(batch, iteration)
                saved = False
                if cfg.save_every_n > 0 and iteration % cfg.save_every_n == 0:
                    self._save(iteration)
                    saved = True
                if cfg.validation_every_n > 0 and iteration % cfg.validation_every_n == 0:
                    results.update(self.validate(iteration, saved))
            if store.latest() != self.iteration:
                self._save(self.iteration)
        except KeyboardInterrupt:  # Ctrl-C, and SIGTERM (the console scripts turn it into one)
            bar.close()
            if self.iteration > start:
                self._save(self.iteration)
                log.warning("interrupted: saved checkpoint of iteration %d", self.iteration)
            raise
        finally:
            bar.close()
            self.summaries.close()
            if self.scratch:
                shutil.rmtree(self.scratch, ignore_errors=True)
        return results

    def _diverged(self, iteration: int, loss: float) -> TrainingDiverged:
        what = f"the loss became {loss}" if not math.isfinite(loss) else "the weights became NaN or Inf"
        last = self.chief_store.latest()
        kept = f"the last checkpoint, ckpt-{last}, is kept" if last is not None else "no checkpoint was written"
        return TrainingDiverged(f"Training stopped at iteration {iteration}: {what} after its update; {kept}. "
                                f"Lower [TRAINING] lr (now {self.cfg.training.lr:g}) or check the data.")

    def _bar_write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line)  # above a terminal bar, not through it
        else:
            print(line, file=sys.stderr, flush=True)

    def _distribute(self, make_dataset: Any) -> Any:
        """One input pipeline per worker, batched per replica; workers draw different windows."""
        accepts_worker = "worker" in inspect.signature(make_dataset).parameters

        def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
            dataset = make_dataset(worker=context.input_pipeline_id) if accepts_worker else make_dataset()
            per_replica = context.get_per_replica_batch_size(self.global_batch)
            return dataset.batch(per_replica, drop_remainder=True).prefetch(2)

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    def _save(self, iteration: int) -> None:
        # The input shape lets `net_segment export` rebuild the network without reading data.
        self.store.save(iteration, self.model, self.optimizer,
                        extra={"input_shape": [int(v) for v in self.app.example_input().shape]})

    def validate(self, iteration: int, saved: bool) -> dict[str, float]:
        """Loss and per-class Dice on ``validation_max_iter`` validation batches."""
        if self.app.validation_dataset() is None:
            return {}
        losses, metric_rows = [], []
        distributed = self._distribute(self.app.validation_dataset)
        for step, batch in enumerate(distributed):
            if step >= self.cfg.training.validation_max_iter:
                break
            loss, logits = self._eval_step(batch)
            losses.extend(float(x) for x in self.strategy.experimental_local_results(loss))
            local_batches = self.strategy.experimental_local_results(batch)
            for local_batch, local_logits in zip(local_batches, self.strategy.experimental_local_results(logits)):
                metric_rows.append(self.app.validation_metrics(local_batch, local_logits))
        if not losses:
            return {}
        values = {"loss": float(np.mean(losses))}
        for key in metric_rows[0]:
            values[key] = float(np.nanmean([row[key] for row in metric_rows]))
        self.summaries.scalars("validation", iteration, values)
        shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items())
        self._bar_write(f"validation @ {iteration}: {shown}")
        if values["loss"] < self.best_loss:
            self.best_loss = values["loss"]
            if not saved:
                self._save(iteration)
            self.store.mark_best(iteration, "validation_loss", values["loss"])
        return {f"validation_{k}": v for k, v in values.items()}

    def _log_images(self, dist_batch: Any, iteration: int) -> None:
        local = self.strategy.experimental_local_results(dist_batch)[0]
        augment = getattr(self.app, "augment", None)
        if augment is not None:
            local = augment(local)  # what the network saw: augmented, cropped to the window
        logits = self.model(self.app.network_input(local), training=False)
        self.summaries.image_slices("train", iteration, self.app.summary_volumes(local, logits))


def all_finite(variables: list) -> tf.Tensor:
    """Whether every floating-point variable holds only finite values (one fused pass, on the device)."""
    checks = [tf.reduce_all(tf.math.is_finite(v)) for v in variables if tf.as_dtype(v.dtype).is_floating]
    return tf.reduce_all(tf.stack(checks)) if checks else tf.constant(True)


class DivergenceWatch:
    """Warns once when the training loss explodes (grows ``factor`` times past its first value).

    A loss that grows without bound (``lr = 1e6``) may stay finite for a long time; the run should
    not end with exit 0 and no word. NaN and Inf stop the run (see :meth:`Trainer.run`).
    """

    def __init__(self, factor: float = 100.0) -> None:
        self.factor = factor
        self.first: float | None = None
        self.warned = False

    def check(self, iteration: int, loss: float) -> bool:
        """Record ``loss``; returns True (and warns, once) if it diverges."""
        if self.first is None:
            self.first = loss
            return False
        if abs(loss) > self.factor * max(abs(self.first), 1e-3):
            if not self.warned:
                log.warning("the training loss is diverging: %.4g at iteration %d, %.0f times its first value "
                            "%.4g; lower [TRAINING] lr", loss, iteration, abs(loss) / max(abs(self.first), 1e-3),
                            self.first)
            self.warned = True
            return True
        return False


def frozen_split(model: Any, pattern: str) -> list:
    """The trainable variables left to the optimiser once ``vars_to_freeze`` is applied."""
    if not pattern:
        return list(model.trainable_variables)
    regex = re.compile(pattern)
    frozen = [v for v in model.trainable_variables if regex.search(v.path)]
    if not frozen:
        names = ", ".join(v.path for v in model.trainable_variables[:3])
        raise ConfigError(f"[TRAINING] vars_to_freeze = '{pattern}' matches no trainable variable (e.g. {names}).")
    log.info("vars_to_freeze: %d of %d trainable variables frozen", len(frozen), len(model.trainable_variables))
    return [v for v in model.trainable_variables if not regex.search(v.path)]


def refuse_overwrite(store: CheckpointStore, starting_iter: int) -> None:
    """A fresh start (``starting_iter = 0``) never overwrites an existing trained model."""
    existing = store.latest()
    if starting_iter == 0 and existing is not None:
        raise ConfigError(
            f"[TRAINING] starting_iter = 0 but {store.folder} already holds checkpoints up to "
            f"iteration {existing}: set starting_iter = -1 to resume, or use another model_dir "
            "(voxflow never overwrites a trained model)."
        )


def check_model_dir(model_dir: str, create: bool, must_exist: bool = True) -> None:
    """A ``model_dir`` must be a folder (created for training; it must exist for the other actions)."""
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise ConfigError(f"[SYSTEM] model_dir = '{model_dir}' exists but is not a folder.")
    if create:
        os.makedirs(model_dir, exist_ok=True)
    elif must_exist and not os.path.isdir(model_dir):
        raise CheckpointError(f"[SYSTEM] model_dir '{model_dir}' does not exist: train first (net_segment train -c ...).")
