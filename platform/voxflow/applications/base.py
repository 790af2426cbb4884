"""The application contract: what a task declares, so that the engine can run it.

An application is a class; the engine builds it as ``App(cfg, action)`` and calls the hooks
below — nothing else, and never by guessing (no ``getattr`` with a fallback, no signature
inspection). Declarations are class attributes; hooks with a sensible default have one here, the
others raise ``NotImplementedError`` naming what the subclass must provide.

Declarations:

- ``SECTION`` and its keys: the roles (:data:`ROLES`, each a :class:`~voxflow.roles.Role` with a
  kind) and the other keys (:data:`KEYS`, :class:`~voxflow.config.Key`); registered with the
  config schema by :meth:`register` (the core schema knows no application);
- ``SHARED_DEFAULTS``: the application's defaults for shared keys (``(section, key) → value``);
- ``TRAINED_KEYS``: the ``(section, key)`` pairs that define a trained model (inference and
  evaluation take them from the model's ``settings_train.ini``);
- ``ALIASES`` (names for ``net_run -a``) and ``CONSOLE_SCRIPT``;
- ``BEST``: the validation scalar that picks the best checkpoint, and whether lower or higher is
  better (:meth:`best_rule` may choose another for the run's settings: segmentation's mean Dice
  with full-volume validation).

Each role has a kind (intensity, label, weight, displacement field, per-subject value) and a group
(roles of one group share a grid): :mod:`voxflow.roles`.

The training step is the engine's (:mod:`voxflow.engine.steps`): a supervised step calls
:meth:`augment`, :meth:`forward` and :meth:`losses` inside the compiled, distributed step, adds
the models' regularisation losses, updates every model with its optimiser, and returns every loss
as a named scalar that the progress bar, the NaN check and TensorBoard all show.

Example — the skeleton of a task (``docs/plugins.md`` walks through a complete one)::

    class Denoising(Application):
        SECTION = "DENOISING"
        ROLES = (Role("image", Kind.INTENSITY), Role("clean", Kind.INTENSITY, intensity_transforms=False))
        KEYS = (Key("noise", FloatType(0.0), 0.1, "Std of the added noise."),)

        def prepare(self): ...
        def training_dataset(self, worker): ...
        def build_network(self): ...
        def losses(self, batch, outputs): return {"loss": tf.reduce_mean(tf.abs(outputs - batch["clean"]))}
        def output_writer(self): ...     # inference: the engine's loop calls these four
        def inference_items(self): ...
        def predictor(self, models): ...
        def predict_item(self, predict, item, strategy): ...
        def write_item(self, writer, item, prediction): ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from voxflow.errors import ConfigError
from voxflow.roles import Kind, Role

ACTIONS = ("train", "inference", "evaluation", "export")


@dataclass(frozen=True)
class BestRule:
    """Which validation scalar marks the best checkpoint: ``metric`` (a name the validation round
    reports, e.g. ``loss`` or ``dice_class_1``) and ``mode`` (``min`` or ``max``)."""

    metric: str = "loss"
    mode: str = "min"

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"BestRule mode must be 'min' or 'max', got {self.mode!r}")

    def better(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` (any finite value beats ``None``)."""
        if best is None:
            return True
        return value < best if self.mode == "min" else value > best


class Application:
    """Base class of every application (see the module docstring for the contract)."""

    SECTION: ClassVar[str] = ""
    ALIASES: ClassVar[tuple[str, ...]] = ()
    CONSOLE_SCRIPT: ClassVar[str | None] = None
    ROLES: ClassVar[tuple[Role, ...]] = ()
    KEYS: ClassVar[tuple[Any, ...]] = ()
    SHARED_DEFAULTS: ClassVar[dict[tuple[str, str], Any]] = {}
    TRAINED_KEYS: ClassVar[tuple[tuple[str, str], ...]] = ()
    BEST: ClassVar[BestRule] = BestRule()
    #: Files in ``model_dir`` that training writes and inference reads besides the checkpoints and
    #: ``settings_train.ini`` (a label map, class names, a target scaling): ``net_zoo pack`` and
    #: ``export`` carry them with the weights.
    STATE_FILES: ClassVar[tuple[str, ...]] = ()
    #: The training-step pattern (voxflow.engine.steps): "supervised", or "adversarial" (a GAN:
    #: discriminator updates, then a generator update, with the two models named below).
    STEP: ClassVar[str] = "supervised"
    GENERATOR: ClassVar[str] = "generator"
    DISCRIMINATOR: ClassVar[str] = "discriminator"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the name of SECTION before the contract was written down
        legacy = cls.__dict__.get("REQUIRED_CONFIG_SECTION")
        if legacy and "SECTION" not in cls.__dict__:
            cls.SECTION = str(legacy)

    # ------------------------------------------------------------------ declarations
    @classmethod
    def kinds(cls) -> dict[str, Kind]:
        """``{role: kind}`` of every declared role."""
        return {role.name: role.kind for role in cls.ROLES}

    @classmethod
    def groups(cls) -> dict[str, str]:
        """``{role: group}`` of every declared role (roles of one group share one grid)."""
        return {role.name: role.group for role in cls.ROLES}

    @classmethod
    def section_keys(cls) -> list[Any]:
        """The keys of :data:`SECTION`: one per role (naming input sections), then :data:`KEYS`."""
        from voxflow.config.arrays import SectionNamesType  # noqa: PLC0415
        from voxflow.config.schema import Key  # noqa: PLC0415

        roles = [Key(role.name, SectionNamesType(), (), role.doc, required=role.required or False, role=True,
                     role_actions=tuple(role.read_by or ())) for role in cls.ROLES]
        return [*roles, *cls.KEYS]

    @classmethod
    def register(cls) -> None:
        """Register :data:`SECTION` and :data:`SHARED_DEFAULTS` with the config schema (once)."""
        from voxflow.config import schema  # noqa: PLC0415

        if not cls.SECTION:
            raise TypeError(f"{cls.__name__} declares no SECTION (the config section it reads)")
        schema.register_app_section(cls.SECTION, cls.section_keys(), owner=cls,
                                    shared_defaults=cls.SHARED_DEFAULTS)

    # ------------------------------------------------------------------ life cycle
    def __init__(self, cfg: Any, action: str) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        self.cfg = cfg
        self.action = action

    def prepare(self) -> None:
        """Check everything that can be checked, then load what the action needs (before any work)."""
        raise NotImplementedError(f"{type(self).__name__} must implement prepare()")

    # ------------------------------------------------------------------ training data
    def training_dataset(self, worker: int) -> Any:
        """The infinite, unbatched ``tf.data.Dataset`` of training elements of worker ``worker``
        (each worker of a multi-machine run draws its own)."""
        raise NotImplementedError(f"{type(self).__name__} must implement training_dataset(worker)")

    def validation_dataset(self) -> Any:
        """The unbatched validation elements (the same every round), or None: no validation."""
        return None

    def augment(self, batch: dict) -> dict:
        """Augment a training batch inside the compiled step, on its device (default: unchanged)."""
        return batch

    # ------------------------------------------------------------------ models
    def build_models(self) -> dict[str, Any]:
        """The named Keras models, built (called once); by default ``{"network": build_network()}``."""
        return {"network": self.build_network()}

    def build_network(self) -> Any:
        """The one model of a single-model application, built on an example input."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_network() or build_models()")

    def forward(self, models: dict[str, Any], batch: dict, training: bool) -> Any:
        """The outputs the losses and metrics compare (default: the network on :meth:`network_input`)."""
        return models["network"](self.network_input(batch), training=training)

    def network_input(self, batch: dict) -> Any:
        """What the network reads from a batch."""
        raise NotImplementedError(f"{type(self).__name__} must implement network_input(batch) or forward()")

    def losses(self, batch: dict, outputs: Any) -> dict[str, Any]:
        """Named loss tensors of one batch; the step minimises their sum (the models' own
        regularisation losses added). A single loss is best called ``loss``."""
        raise NotImplementedError(f"{type(self).__name__} must implement losses(batch, outputs)")

    def discriminator_losses(self, models: dict[str, Any], batch: dict) -> dict[str, Any]:
        """Adversarial step: the discriminator's named losses (minimised over its variables)."""
        raise NotImplementedError(f"{type(self).__name__} must implement discriminator_losses() for STEP = adversarial")

    def generator_losses(self, models: dict[str, Any], batch: dict) -> dict[str, Any]:
        """Adversarial step: the generator's named losses (minimised over its variables)."""
        raise NotImplementedError(f"{type(self).__name__} must implement generator_losses() for STEP = adversarial")

    def discriminator_steps(self) -> int:
        """Adversarial step: discriminator updates per generator update (default 1)."""
        return 1

    def validation_metrics(self, batch: dict, outputs: Any) -> dict[str, float]:
        """Named validation scalars of one (local) batch, averaged over a round (default: none)."""
        return {}

    def best_rule(self) -> BestRule:
        """The rule of the best checkpoint for this run's settings (default :data:`BEST`)."""
        return self.BEST

    def validate_volumes(self, models: dict[str, Any], strategy: Any) -> dict[str, float]:
        """``[TRAINING] validation_mode = volumes``: named scalars of the validation subjects
        inferred whole with ``models`` (added to the round's; default: not available)."""
        raise ConfigError(f"[TRAINING] validation_mode = volumes is not available for [{self.SECTION}].")

    def after_training(self, models: dict[str, Any], strategy: Any) -> dict[str, Any]:
        """Called once training ends, ``models`` holding the best checkpoint's weights (the last
        ones without validation): choices made on the trained model (e.g. post-processing);
        returns scalars added to training's result (default: none)."""
        return {}

    @classmethod
    def cross_validate(cls, cfg: Any, fold_dirs: list[str]) -> dict[str, Any]:
        """Called once every fold of ``num_folds`` is trained (``fold_dirs``: their model folders):
        choices made on all folds' validation subjects together; returns what the cross-validation
        summary adds (default: nothing)."""
        return {}

    def validation_images(self) -> dict[str, Any]:
        """Images summarising the validation round just done (called once after its batches' metrics;
        e.g. a confusion matrix the metrics accumulated), as :meth:`summary_images` (default: none)."""
        return {}

    def summary_images(self, batch: dict, outputs: Any) -> dict[str, Any]:
        """``{name: (X, Y, Z) array}`` whose middle slices go to TensorBoard, or ``{name: [arrays]}``
        shown as one grid of their middle slices (default: none)."""
        return {}

    def checkpoint_info(self) -> dict[str, Any]:
        """Facts saved in each checkpoint's ``meta.json`` that rebuilding the models needs
        without data (e.g. the input shape, for ``export``)."""
        return {}

    def configure_from_checkpoint(self, info: dict[str, Any]) -> None:
        """Take what :meth:`checkpoint_info` saved (called before :meth:`prepare` by inference and
        before :meth:`build_models` by export)."""

    # ------------------------------------------------------------------ outputs
    def infer(self, models: dict[str, Any] | list[dict[str, Any]], strategy: Any) -> dict:
        """Run inference and write its outputs; returns what :meth:`report` summarises. ``models``:
        the trained model's named models, or a list of them (an ensemble).

        By default the engine's loop (:func:`voxflow.engine.inference.run_inference`): each of
        :meth:`inference_items` is predicted by :meth:`predict_item` with :meth:`predictor` and
        written by :meth:`write_item` through :meth:`output_writer`.
        """
        from voxflow.engine.inference import run_inference  # noqa: PLC0415

        return run_inference(self, models, strategy)

    def output_writer(self) -> Any:
        """The writer of this inference mode (:mod:`voxflow.data.writers`), built before any
        prediction (it refuses outputs that would replace inputs)."""
        raise ConfigError(f"The application {type(self).__name__} ([{self.SECTION}]) has no inference action.")

    def inference_items(self) -> Any:
        """What inference makes one output from, in order (default: nothing)."""
        return ()

    def predictor(self, models: dict[str, Any]) -> Any:
        """The compiled call that predicts a batch (built once per inference)."""
        raise NotImplementedError(f"{type(self).__name__} must implement predictor(models) for inference")

    def ensemble_predictor(self, members: list[dict[str, Any]]) -> Any:
        """The compiled call that predicts a batch with several trained models (an ensemble of folds
        or runs) and averages them (default: not available)."""
        raise ConfigError(f"The application {type(self).__name__} ([{self.SECTION}]) cannot average an ensemble of "
                          f"{len(members)} models: unset [INFERENCE] ensemble_model_dirs.")

    def predict_item(self, predict: Any, item: Any, strategy: Any) -> Any:
        """The prediction of one item: its inference sampler feeding ``predict``, aggregated."""
        raise NotImplementedError(f"{type(self).__name__} must implement predict_item() for inference")

    def write_item(self, writer: Any, item: Any, prediction: Any) -> None:
        """Write one item's prediction with ``writer``."""
        raise NotImplementedError(f"{type(self).__name__} must implement write_item() for inference")

    def evaluate(self) -> dict:
        """Compare outputs with references and write the evaluation; returns what :meth:`report` summarises."""
        raise ConfigError(f"The application {type(self).__name__} ([{self.SECTION}]) has no evaluation action.")

    def serving_model(self, models: dict[str, Any]) -> Any:
        """The model ``export`` writes for serving (default: the one named ``network``)."""
        return models["network"]

    def serving_outputs(self, model: Any, inputs: Any) -> dict[str, Any]:
        """What ``export``'s ``serving_default`` signature returns for a batch of inputs (default:
        ``{"output": the serving model's float32 output}``)."""
        import tensorflow as tf  # noqa: PLC0415

        return {"output": tf.cast(model(inputs, training=False), tf.float32)}

    def example_input(self) -> Any:
        """A zero batch of one input, shaped as :meth:`serving_model` reads it (``export`` writes its
        signature from it)."""
        raise ConfigError(f"The application {type(self).__name__} ([{self.SECTION}]) has no export action.")

    @classmethod
    def report(cls, action: str, result: dict) -> str:
        """The closing lines the console script prints."""
        if action == "train":
            shown = ", ".join(f"{k}={v:.4f}" for k, v in result.items())
            return f"training finished: {shown}" if result else "training: nothing to do"
        return f"{action} finished"
