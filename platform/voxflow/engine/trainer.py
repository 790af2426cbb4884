"""The training loop: the compiled step under a ``tf.distribute`` strategy, checkpoints, validation
with the application's best-checkpoint rule, TensorBoard and a progress bar.

The loop knows no task. It runs an :class:`~voxflow.applications.base.Application` through its
contract: the named models it builds, a step pattern (:mod:`voxflow.engine.steps`), and every named
scalar the step returns — each is shown by the progress bar, checked for NaN and Inf, and written
to TensorBoard.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import sys
import tempfile
import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from voxflow.atomic import atomic_write_json, temp_prefix
from voxflow.engine.checkpoints import CheckpointStore
from voxflow.engine.early_stopping import EarlyStopping
from voxflow.engine.steps import TOTAL, AdversarialStep, SupervisedStep
from voxflow.engine.strategy import is_chief, worker_index
from voxflow.engine.summaries import SummaryLogger
from voxflow.engine.training_setup import DivergenceWatch, build_optimiser, frozen_split
from voxflow.errors import TrainingDiverged
from voxflow.progress import progress_bar

log = logging.getLogger(__name__)

#: What the application's ``after_training`` found on the best checkpoint (cross-validation reads it).
FINAL_VALIDATION_FILE = "final_validation.json"


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
            self.models = app.build_models()  # each built on an example input
            self.trainable = frozen_split(self.models, cfg.training.vars_to_freeze or "")
            self.optimizers = {name: self._optimiser(variables) for name, variables in self.trainable.items()
                               if variables}
        self.trainable = {name: self.trainable[name] for name in self.optimizers}
        self.iteration = 0
        self.best: float | None = None
        self.rule = app.best_rule()
        self.early = EarlyStopping(cfg.training.patience, cfg.training.early_stopping_mode,
                                   maximise=self.rule.mode == "max")
        self._shown: dict[str, str] = {}  # the last validation's best-checkpoint scalar, on the bar
        self._bar: Any = None
        self._validation: Any = None

    def _optimiser(self, variables: list) -> Any:
        optimizer = build_optimiser(self.cfg)
        if keras.mixed_precision.global_policy().name == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(variables)
        return optimizer

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
        restored = self.chief_store.restore(start, self.models, self.optimizers, include=include, rename=rename)
        best = self.chief_store.best_info()
        if best is not None and not include and best.get("metric") == f"validation_{self.rule.metric}":
            self.best = float(best["value"])  # (a best by another scalar, e.g. before validation_mode changed, is beaten)
        log.info("restored checkpoint of iteration %d%s", restored, f" (variables matching '{include}')" if include else "")
        return restored

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
        self.step = self._make_step()
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
                scalars = {name: float(value) for name, value in self.step.train_step(batch).items()}
                elapsed = time.perf_counter() - tick
                finite = scalars.pop("finite")
                self._check_finite(iteration, scalars, finite)
                self.iteration = iteration
                watch.check(iteration, scalars[TOTAL] if TOTAL in scalars else next(iter(scalars.values())))
                speed = self.global_batch / max(elapsed, 1e-9)
                rate = speed if rate is None else 0.9 * rate + 0.1 * speed
                waiting = waited / max(elapsed, 1e-9)
                wait = waiting if wait is None else 0.9 * wait + 0.1 * waiting
                bar.set_postfix(**{name: f"{value:.4f}" for name, value in scalars.items()}, **self._shown,
                                windows_s=f"{rate:.1f}", data_wait=f"{100 * wait:.0f}%", refresh=False)
                results.update(scalars, windows_per_s=rate)
                if cfg.tensorboard_every_n > 0 and iteration % cfg.tensorboard_every_n == 0:
                    self.summaries.scalars("train", iteration, {
                        **scalars, "windows_per_second": rate, "data_wait_fraction": waiting, **self._rates()})
                    if not isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
                        # (a forward pass outside the step would need every worker's participation)
                        self._log_images(batch, iteration)
                saved = False
                if cfg.save_every_n > 0 and iteration % cfg.save_every_n == 0:
                    self._save(iteration)
                    saved = True
                if cfg.validation_every_n > 0 and iteration % cfg.validation_every_n == 0:
                    results.update(self.validate(iteration, saved))
                    if self.stopped_early(iteration, results):
                        break
            if store.latest() != self.iteration:
                self._save(self.iteration)
            results.update(self._after_training())
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

    def _after_training(self) -> dict[str, float]:
        """The application's :meth:`after_training` on the best checkpoint's weights (the last ones
        without a best), on the chief of a single-machine run."""
        if not self.chief or isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return {}
        best = self.chief_store.best()
        if best is not None and best != self.iteration:
            self.chief_store.restore(best, self.models)
        scores = {name: float(value) for name, value in self.app.after_training(self.models, self.strategy).items()}
        if scores:  # read by the cross-validation summary (voxflow.engine.folds)
            atomic_write_json(os.path.join(self.cfg.system.model_dir, FINAL_VALIDATION_FILE),
                              {"iteration": int(best if best is not None else self.iteration), **scores})
        return scores

    def _rates(self) -> dict[str, float]:
        """The learning rate each optimiser uses now (``[TRAINING] lr_schedule``), for TensorBoard."""
        named = {name: float(keras.ops.convert_to_numpy(opt.learning_rate)) for name, opt in self.optimizers.items()}
        if len(named) == 1:
            return {"learning_rate": next(iter(named.values()))}
        return {f"learning_rate_{name}": value for name, value in named.items()}

    def _make_step(self) -> Any:
        """The application's step pattern (``STEP``) over its models."""
        jit = bool(self.cfg.system.jit_compile)
        if self.app.STEP == "adversarial":
            return AdversarialStep(self.app, self.models, self.optimizers, self.trainable, self.strategy,
                                   d_steps=self.app.discriminator_steps(), jit_compile=jit)
        if self.app.STEP != "supervised":
            raise ValueError(f"{type(self.app).__name__}.STEP = {self.app.STEP!r}: expected 'supervised' or 'adversarial'")
        return SupervisedStep(self.app, self.models, self.optimizers, self.trainable, self.strategy, jit_compile=jit)

    def stopped_early(self, iteration: int, results: dict[str, float]) -> bool:
        """Record this round's best-checkpoint scalar; whether early stopping ends training now."""
        value = results.get(f"validation_{self.rule.metric}")
        if value is None or not self.early.update(value):
            return False
        self._bar_write(f"early stopping at iteration {iteration}: validation {self.rule.metric} by "
                        f"'{self.early.mode}' over the last {self.early.patience} rounds")
        results["stopped_early_at"] = float(iteration)
        return True

    def _check_finite(self, iteration: int, scalars: dict[str, float], finite: float) -> None:
        bad = [f"{name} became {value}" for name, value in scalars.items() if not math.isfinite(value)]
        if not bad and finite == 1.0:
            return
        what = ", ".join(bad) if bad else "the weights became NaN or Inf"
        last = self.chief_store.latest()
        kept = f"the last checkpoint, ckpt-{last}, is kept" if last is not None else "no checkpoint was written"
        raise TrainingDiverged(f"Training stopped at iteration {iteration}: {what} after its update; {kept}. "
                               f"Lower [TRAINING] lr (now {self.cfg.training.lr:g}) or check the data.")

    def _bar_write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line)  # above a terminal bar, not through it
        else:
            print(line, file=sys.stderr, flush=True)

    def _distribute(self, make_dataset: Any, steps: int | None = None) -> Any:
        """One input pipeline per worker, batched per replica; workers draw different elements.

        With ``steps``, each pipeline keeps the batches of its first ``steps`` steps in memory: every
        pass over the result gives those same batches.
        """

        def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
            dataset = make_dataset(context.input_pipeline_id)
            per_replica = context.get_per_replica_batch_size(self.global_batch)
            dataset = dataset.batch(per_replica, drop_remainder=True)
            if steps is not None:
                local_replicas = context.num_replicas_in_sync // context.num_input_pipelines
                dataset = dataset.take(steps * local_replicas).cache()
            return dataset.prefetch(2)

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    def _save(self, iteration: int) -> None:
        self.store.save(iteration, self.models, self.optimizers, extra=self.app.checkpoint_info())

    def _validation_batches(self) -> Any:
        """The ``validation_max_iter`` validation batches, or None: built (and read) once, kept in memory,
        the same every round."""
        if self._validation is None:
            dataset = self.app.validation_dataset()
            steps = self.cfg.training.validation_max_iter
            self._validation = False if dataset is None else self._distribute(lambda worker: dataset, steps)
        return self._validation or None

    def validate(self, iteration: int, saved: bool) -> dict[str, float]:
        """The step's scalars and the application's metrics on ``validation_max_iter`` batches."""
        if not hasattr(self, "step"):
            self.step = self._make_step()
        distributed = self._validation_batches()
        volumes = self.cfg.training.validation_mode == "volumes"
        if distributed is None and not volumes:
            return {}
        rows: list[dict[str, float]] = []
        for batch in distributed or ():
            scalars, outputs = self.step.eval_step(batch)
            local = self.strategy.experimental_local_results
            for replica, (local_batch, local_outputs) in enumerate(zip(local(batch), local(outputs))):
                row = {name: float(local(value)[replica]) for name, value in scalars.items()}
                rows.append({**row, **self.app.validation_metrics(local_batch, local_outputs)})
        values = {key: float(np.nanmean([row[key] for row in rows])) for key in rows[0]} if rows else {}
        images = self.app.validation_images() if rows else {}
        if volumes:
            tick = time.perf_counter()
            values.update(self.app.validate_volumes(self.models, self.strategy))
            values["volume_validation_seconds"] = time.perf_counter() - tick
        if not values:
            return {}
        self.summaries.scalars("validation", iteration, values)
        if images:
            self.summaries.image_slices("validation", iteration, images)
        shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items())
        self._bar_write(f"validation @ {iteration}: {shown}")
        rule = self.rule
        if rule.metric in values:
            self._shown = {f"val_{rule.metric}": f"{values[rule.metric]:.4f}"}
        if rule.metric in values and math.isfinite(values[rule.metric]) and rule.better(values[rule.metric], self.best):
            self.best = values[rule.metric]
            if not saved:
                self._save(iteration)
            self.store.mark_best(iteration, f"validation_{rule.metric}", values[rule.metric])
        return {f"validation_{k}": v for k, v in values.items()}

    def _log_images(self, dist_batch: Any, iteration: int) -> None:
        local = self.app.augment(self.strategy.experimental_local_results(dist_batch)[0])  # what the network saw
        outputs = self.app.forward(self.models, local, training=False)
        self.summaries.image_slices("train", iteration, self.app.summary_images(local, outputs))
