"""The configuration schema: every section, key, type, default, constraint and one-line doc.

This is the only place keys are declared; the parser, the validator, ``save_config`` and the
generated configuration reference all read it.  Sections are of three kinds:

* the system sections :data:`SYSTEM_SECTIONS` (``[SYSTEM]``, ``[NETWORK]``, ...);
* one application section per task (``[SEGMENTATION]``), registered with
  :func:`register_app_section` so that new applications add their own;
* input-source sections (``[T1]``, ``[label]``, ...): every other section, validated against
  :data:`INPUT_KEYS`.

Example:
    >>> from voxflow.config import schema
    >>> schema.section_keys("NETWORK")["batch_size"].default
    2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voxflow.config.arrays import (
    AxcodesType,
    FloatArrayType,
    IntArrayType,
    SpatialFloatType,
    SpatialIntType,
    StrArrayType,
    WindowType,
)
from voxflow.config.augmentation_keys import augmentation_keys
from voxflow.config.components import ComponentChoiceType, ComponentType, MetricNamesType
from voxflow.config.kwargs import KwargsType
from voxflow.config.niftynet_keys import (  # re-exported: the schema's users read them here
    APPLICATION,
    INPUT,
    NIFTYNET_KEYS,
    NIFTYNET_MISPLACED,
    NIFTYNET_ONLY_KEYS,  # noqa: F401
    NIFTYNET_REPLACED_BY,  # noqa: F401
)
from voxflow.config.paths import PathDefault, PathListType, PathType
from voxflow.config.values import (
    AliasedChoiceType,
    BoolType,
    CheckpointType,
    ChoiceType,
    FloatType,
    IntType,
    RegexType,
    StrType,
    ValueType,
)

ACTIONS = ("train", "inference", "evaluation", "export")
SYSTEM_SECTIONS = ("SYSTEM", "NETWORK", "TRAINING", "INFERENCE", "EVALUATION", "AUGMENTATION")
#: Samplers that only inference uses (not choices of ``[NETWORK] window_sampling``).
INFERENCE_SAMPLERS = ("grid",)


@dataclass(frozen=True)
class Key:
    """One configuration key.

    Attributes:
        name: the key, lower case.
        type: how values are parsed and written.
        default: value when unset (a :class:`PathDefault` for paths derived from folders).
        doc: one-line meaning; differences from NiftyNet are marked "(≠NiftyNet: ...)".
        required: ``True`` if always required, or the actions that require it.
        role: for application sections, whether the value names input sections.
        role_actions: the actions that read a role's sections (empty: every action).
    """

    name: str
    type: ValueType
    default: Any
    doc: str
    required: bool | tuple[str, ...] = False
    role: bool = False
    role_actions: tuple[str, ...] = ()

    def required_for(self, action: str) -> bool:
        """Whether the key must be set for ``action``."""
        return self.required is True or (isinstance(self.required, tuple) and action in self.required)


def _table(*keys: Key) -> dict[str, Key]:
    return {key.name: key for key in keys}


#: NiftyNet's early-stopping rules (voxflow.engine.early_stopping).
#: ``[TRAINING] lr_schedule`` choices (voxflow.engine.schedules, which imports Keras: not imported here).
SCHEDULES = ("constant", "poly", "cosine", "step")
EARLY_STOPPING_MODES = ("mean", "robust_mean", "median", "generalisation_loss", "median_smoothing", "validation_up")
#: Keras 3's weight initializers by name (NiftyNet's names are these, and `uniform_scaling`).
_INITIALIZERS = ("he_normal", "he_uniform", "glorot_normal", "glorot_uniform", "lecun_normal", "lecun_uniform",
                 "orthogonal", "variance_scaling", "random_normal", "random_uniform", "truncated_normal", "zeros",
                 "ones")

INPUT_KEYS: dict[str, Key] = _table(
    Key("path_to_search", PathListType(), (),
        "Comma list of folders searched (sorted, not recursive) for this source's files "
        "(≠NiftyNet: relative to the config folder, not the current one)."),
    Key("filename_contains", StrArrayType(), (),
        "Tokens that must all appear in a file name; removed from it to form the subject id."),
    Key("filename_not_contains", StrArrayType(), (), "Tokens none of which may appear in a file name."),
    Key("filename_removefromid", RegexType(), "",
        "Regular expression removed from the file name to form the subject id."),
    Key("csv_file", PathType(), "",
        "CSV `subject_id,path` listing this source's files; used instead of searching when it exists."),
    Key("csv_data_file", PathType(), "",
        "CSV of one row of numbers per subject (`subject_id,value[,value...]`, optional header): this source "
        "gives each subject a value (a class, a score), not an image; for roles of kind `value`."),
    Key("spatial_window_size", WindowType(), (),
        "Window (patch) size for this source; 2 values = a 2-D window padded with 1; at most 65535 per axis "
        "(≠NiftyNet: 0, the full extent, only in `[INFERENCE]`: a training window has one size)."),
    Key("pixdim", SpatialFloatType(), (),
        "Voxel spacing (mm) to resample to on load; one value = isotropic; unset = keep."),
    Key("axcodes", AxcodesType(), (), "Orientation to reorient to on load, e.g. `R, A, S`; unset = keep."),
    Key("interp_order", IntType(0, 3), 1,
        "Interpolation order when resampling this source: 0 nearest (labels), 1 linear, 2-3 spline "
        "(≠NiftyNet: no negative values)."),
    Key("intensity_clip", FloatArrayType((2,), increasing=True, example="-958, 1257"), (),
        "Intensities are clipped to [min, max] before normalisation (nnU-Net's CT scheme: the foreground's 0.5 and "
        "99.5 percentiles over the training set; `net_segment plan` sets it for CT channels; new in voxflow)."),
    Key("fixed_whitening", FloatArrayType((2,), example="53.1, 120.4"), (),
        "`mean, std`: this section's channels are whitened with these dataset statistics instead of each volume's "
        "own (nnU-Net's CT scheme; `net_segment plan` sets them; new in voxflow)."),
    Key("loader", AliasedChoiceType(("nibabel", "simpleitk"), {"skimage": "simpleitk", "opencv": "simpleitk",
                                                                 "pillow": "simpleitk"}), None,
        "Image reader; unset = chosen by file extension (≠NiftyNet: only nibabel and SimpleITK; NiftyNet's "
        "2-D readers `skimage`, `opencv` and `pillow` mean SimpleITK, which reads the same PNG/TIFF/JPEG files)."),
)

SYSTEM_KEYS: dict[str, Key] = _table(
    Key("cuda_devices", StrType("a comma list of GPU ids, e.g. 0,1"), "",
        "Value for `CUDA_VISIBLE_DEVICES`; empty = leave unchanged."),
    Key("num_threads", IntType(1), 2, "Parallel calls for loading, preprocessing and sampling."),
    Key("cache_size_mb", FloatType(0.0), 0.0,
        "Memory budget (MiB) for preprocessed training and validation volumes; 0 = hold them all (each loaded "
        "once, in parallel). When the volumes exceed it, they are loaded on demand a few ahead of use and the "
        "least recently used are dropped (new in voxflow)."),
    Key("num_gpus", IntType(0), 1, "GPUs to train on (data parallel); 0 = CPU."),
    Key("model_dir", PathType(), PathDefault("config_dir", "model"),
        "Folder of checkpoints, logs, saved settings and outputs."),
    Key("dataset_split_file", PathType(), PathDefault("model_dir", "dataset_split.csv"),
        "CSV `subject_id,phase` (training/validation/inference); generated if missing "
        "(≠NiftyNet: relative paths are from the config folder)."),
    Key("num_folds", IntType(0), 0,
        "k-fold cross-validation: split the subjects that are not in the inference split into this many folds "
        "(seeded, saved as `model_dir/folds.csv`); 0 or 1 = off (docs/recipe.md; new in voxflow)."),
    Key("fold", IntType(-1), -1,
        "With `num_folds`: the fold this run validates on (its model lives in `model_dir/fold_<k>`); -1 = every "
        "fold: train trains them in turn, inference ensembles them."),
    Key("seed", IntType(0), None,
        "Random seed; unset = drawn at train time and written to the saved config (new in voxflow)."),
    Key("cpu_replicas", IntType(0), 0,
        "Split the CPU into this many logical devices and train on them with MirroredStrategy (runs and tests "
        "the multi-replica path without GPUs); 0 or 1 = off."),
    Key("worker_hosts", StrArrayType(), (),
        "`host:port` of every worker of a multi-machine run, in the same order on every worker; turned into "
        "`TF_CONFIG` (MultiWorkerMirroredStrategy). Empty = use `TF_CONFIG` from the environment if set."),
    Key("task_index", IntType(0), 0, "This worker's position in `worker_hosts` (0 = the chief)."),
    Key("mixed_precision", BoolType(), False,
        "float16 compute with float32 weights and loss scaling on GPUs (bfloat16 on CPUs, no faster there)."),
    Key("jit_compile", BoolType(), False,
        "Compile the train step with XLA (faster on GPUs; much slower for convolutions on CPUs)."),
)

_ACTIVATIONS = ("relu", "relu6", "elu", "softplus", "softsign", "sigmoid", "tanh", "prelu", "selu", "leakyrelu")
_PAD_MODES = ("constant", "edge", "minimum", "maximum", "mean", "median", "reflect", "symmetric", "wrap")
_FOREGROUNDS = ("otsu_plus", "otsu_minus", "threshold_plus", "threshold_minus", "mean_plus")

NETWORK_KEYS: dict[str, Key] = _table(
    Key("name", ComponentType("network", "a network"), None,
        "Network: a built-in name or a dotted import path `pkg.module.Class`; NiftyNet's names and import paths "
        "(`niftynet.network.unet.UNet3D`) mean voxflow's network of that name.",
        required=("train", "inference", "export")),
    Key("activation_function", ChoiceType(_ACTIVATIONS), "relu", "Activation used by the network's blocks."),
    Key("batch_size", IntType(1), 2, "Windows per iteration per GPU."),
    Key("volume_padding_size", SpatialIntType(), (0, 0, 0),
        "Voxels padded on both sides of each volume before sampling; undone on output."),
    Key("volume_padding_mode", ChoiceType(_PAD_MODES), "minimum", "NumPy pad mode for `volume_padding_size`."),
    Key("pixdim_grid", ChoiceType(("first_voxel", "world")), "first_voxel",
        "Where the `pixdim` grid lies: `first_voxel` (its first voxel on the image's, as NiftyNet, TorchIO and "
        "MONAI resample) or `world` (its voxels on world multiples of `pixdim`, so a cropped image gets the same "
        "voxels; new in voxflow)."),
    Key("foreground_oversampling", FloatType(0.0, 1.0), 0.0,
        "Share of training windows centred on a voxel of a random foreground class (label > 0) whatever "
        "`window_sampling` draws (nnU-Net: 0.33); 0 = off (new in voxflow)."),
    Key("window_sampling", ComponentChoiceType("sampler", exclude=INFERENCE_SAMPLERS), "uniform",
        "Training window sampler, or a dotted import path of your own; inference uses the grid (or resize) "
        "sampler."),
    Key("queue_length", IntType(1), 5, "Windows buffered and shuffled ahead of training; at least 5 × batch_size are"
        " (NiftyNet's rule). Larger values mix windows of more volumes into each batch."),
    Key("keep_prob", FloatType(0.0, 1.0, open_min=True), 1.0, "Dropout keep probability passed to the network."),
    Key("decay", FloatType(0.0), 0.0, "Weight-decay factor of the regulariser; 0 = off."),
    Key("reg_type", ChoiceType(("L1", "L2")), "L2", "Weight regulariser type."),
    Key("weight_initializer", AliasedChoiceType(_INITIALIZERS, {"uniform_scaling": "lecun_uniform", "constant": "zeros"}), "he_normal",
        "Keras initializer of the weights; NiftyNet's `uniform_scaling` (TF1's uniform unit scaling, U(±√(3/fan_in))) "
        "is Keras' `lecun_uniform`, its `constant` (value 0) is `zeros`."),
    Key("normalisation", BoolType(), False, "Histogram standardisation (Nyúl) of the images."),
    Key("whitening", BoolType(), False, "Zero mean, unit variance per volume and channel."),
    Key("histogram_ref_file", PathType(), PathDefault("model_dir", "histogram_ref_file.json"),
        "Landmarks of histogram standardisation: voxflow's JSON, or NiftyNet's `standardisation_models.txt` "
        "(its label mapping too), read as is and never written. Landmarks training learns go to voxflow's own "
        "file: this path if it ends in `.json` and is absent or voxflow's, else `<path minus extension>.voxflow.json` "
        "beside it; a voxflow file replaced is kept as `.backup` (≠NiftyNet: the learnt label map is "
        "`model_dir/label_map.json`; relative paths are from the config folder)."),
    Key("norm_type", ChoiceType(("percentile", "quartile", "median")), "percentile",
        "Landmarks used by histogram standardisation."),
    Key("cutoff", FloatArrayType((2,), 0.0, 1.0, increasing=True, example="0.01, 0.99"), (0.01, 0.99),
        "Lower and upper percentile landmarks of histogram standardisation."),
    Key("normalise_foreground_only", BoolType(), False,
        "Compute and apply normalisation inside a foreground mask only."),
    Key("foreground_type", ChoiceType(_FOREGROUNDS), "otsu_plus", "Rule for the foreground mask."),
    Key("multimod_foreground_type", ChoiceType(("and", "or", "multi")), "and",
        "Combine per-channel masks: intersection, union or one per channel."),
    Key("network_args", KwargsType(), {},
        "Keyword arguments for the network constructor, e.g. `base_features=8, depth=3` (new in voxflow)."),
)

TRAINING_KEYS: dict[str, Key] = _table(
    Key("optimiser", ComponentType("optimiser", "an optimiser"), "adam",
        "Optimiser: a built-in name or a dotted import path of a function `optimiser(lr)` returning a Keras "
        "optimiser."),
    Key("lr", FloatType(0.0, open_min=True), 0.001, "Learning rate (≠NiftyNet: default 0.001, was 0.01)."),
    Key("lr_schedule", ChoiceType(SCHEDULES), "constant",
        "Learning-rate schedule over `0 .. max_iter`: `constant`, `poly` (nnU-Net's), `cosine` or `step` "
        "(docs/recipe.md; new in voxflow)."),
    Key("lr_warmup_iter", IntType(0), 0, "Iterations of linear warm-up from lr / N to lr before the schedule."),
    Key("lr_poly_exponent", FloatType(0.0, open_min=True), 0.9, "`lr_schedule = poly`: the exponent (nnU-Net's 0.9)."),
    Key("lr_step_every_n", IntType(1), 1000, "`lr_schedule = step`: iterations between two steps."),
    Key("lr_step_factor", FloatType(0.0, 1.0, open_min=True), 0.5, "`lr_schedule = step`: factor applied at each step."),
    Key("loss_type", ComponentType("loss", "a loss"), "Dice",
        "Loss: a built-in name (NiftyNet's names) or a dotted import path of `loss(labels, logits, weight=None)`."),
    Key("sample_per_volume", IntType(1), 1, "Windows drawn from each loaded volume."),
    Key("starting_iter", IntType(-1), 0,
        "Iteration to start from: 0 = new model, N = checkpoint N, -1 = latest checkpoint."),
    Key("max_iter", IntType(0), 10000, "Last iteration number (absolute, not a count)."),
    Key("save_every_n", IntType(0), 500, "Checkpoint period in iterations; 0 = only at the end."),
    Key("tensorboard_every_n", IntType(), 20, "TensorBoard summary period; <= 0 = off."),
    Key("max_checkpoints", IntType(1), 100, "Checkpoints kept on disk."),
    Key("validation_every_n", IntType(), -1,
        "Validate every N iterations; <= 0 = off (needs a validation split)."),
    Key("validation_max_iter", IntType(1), 1, "Validation batches per validation round."),
    Key("validation_mode", ChoiceType(("windows", "volumes")), "windows",
        "What a validation round scores: `windows` (the step's losses and metrics on `validation_max_iter` "
        "batches) or also `volumes` (the validation subjects inferred whole, as inference does, and scored as "
        "evaluation does: Dice per class; the best checkpoint is then the best mean Dice; new in voxflow)."),
    Key("validation_tta", BoolType(), False,
        "`validation_mode = volumes`: mirror as `[INFERENCE] tta_mirror_axes` does in validation rounds too (slower; "
        "off, the rounds score what inference without mirroring writes, as nnU-Net's pseudo Dice)."),
    Key("validation_hd95", BoolType(), False, "`validation_mode = volumes`: also the 95th-percentile Hausdorff distance (mm)."),
    Key("patience", IntType(2), None, "Validation rounds whose history decides early stopping; unset = never stop "
        "early (≠NiftyNet: off unless set)."),
    Key("early_stopping_mode", ChoiceType(EARLY_STOPPING_MODES), "mean",
        "Rule of early stopping over the last `patience` validation rounds of the application's best-checkpoint "
        "scalar (NiftyNet's six modes; docs/internals.md, \"Early stopping\")."),
    Key("exclude_fraction_for_validation", FloatType(0.0, 1.0, open_max=True), 0.0,
        "Fraction of subjects put in the validation split when the split file is generated."),
    Key("exclude_fraction_for_inference", FloatType(0.0, 1.0, open_max=True), 0.0,
        "Fraction of subjects put in the inference split when the split file is generated."),
    Key("vars_to_restore", RegexType(), "",
        "Only variables matching this regex are restored from the checkpoint (fine-tuning)."),
    Key("vars_to_restore_rename", KwargsType(), {},
        "Renamed layers when restoring part of a checkpoint: `old_prefix=new_prefix` pairs applied to the "
        "saved variable names before `vars_to_restore` matches them (NiftyNet renamed scopes in code)."),
    Key("vars_to_freeze", RegexType(), "",
        "Trainable variables matching this regex are not updated (fine-tuning); unset = none frozen "
        "(≠NiftyNet: no fallback to `vars_to_restore`)."),
    # NiftyNet's augmentation keys; voxflow runs them as the layers of docs/augmentation.md.
    Key("rotation_angle", FloatArrayType((2,), -360.0, 360.0, example="-10, 10"), (),
        "Random rotation: an angle ~ U(min, max) degrees about each axis (RandomAffine)."),
    Key("rotation_angle_x", FloatArrayType((2,), -360.0, 360.0, example="-10, 10"), (),
        "Rotation range about axis 0, used when `rotation_angle` is unset (≠NiftyNet: its code turned "
        "`_x` about axis 2 and `_z` about axis 0)."),
    Key("rotation_angle_y", FloatArrayType((2,), -360.0, 360.0, example="-10, 10"), (),
        "Rotation range about axis 1, used when `rotation_angle` is unset."),
    Key("rotation_angle_z", FloatArrayType((2,), -360.0, 360.0, example="-10, 10"), (),
        "Rotation range about axis 2, used when `rotation_angle` is unset."),
    Key("scaling_percentage", FloatArrayType((2,), -99.9, None, example="-10, 10"), (),
        "Random zoom of (100 + U(min, max))% per axis (RandomAffine)."),
    Key("isotropic_scaling", BoolType(), False, "One zoom factor for all axes."),
    Key("antialiasing", BoolType(), True,
        "Accepted for NiftyNet configs (≠NiftyNet: voxflow's warps do not pre-filter when zooming out)."),
    Key("random_flipping_axes", IntArrayType(None, -1, 2, example="0, 1"), (),
        "Axes each flipped with probability 0.5 (RandomFlip); -1 or unset = off."),
    Key("do_elastic_deformation", BoolType(), False, "Random B-spline deformation (RandomElasticDeformation)."),
    Key("num_ctrl_points", IntType(2, 97), 4,
        "B-spline mesh size per axis of the elastic deformation, as NiftyNet's (mesh + 3 control points)."),
    Key("deformation_sigma", FloatType(0.0), 15.0,
        "Std (mm) of the control-point displacement, clipped at 3 std (≠NiftyNet: in voxels, the same for "
        "1 mm voxels)."),
    Key("proportion_to_deform", FloatType(0.0, 1.0), 0.5, "Probability that a window is deformed."),
    Key("bias_field_range", FloatArrayType((2,), example="-0.5, 0.5"), (),
        "Range of the polynomial bias-field coefficients (RandomBiasField; ≠NiftyNet: used by every application)."),
    Key("bf_order", IntType(0, 20), 3, "Maximum order of the bias-field polynomial."),
)

INFERENCE_KEYS: dict[str, Key] = _table(
    Key("spatial_window_size", WindowType(full_extent=True), (),
        "Inference window; unset = the input sections' windows; 0 on an axis = each image's whole extent along it "
        "(NiftyNet's `0, 0, 3`: whole slices, three at a time), rounded up to what the network accepts."),
    Key("border", SpatialIntType(pairs=True), (0, 0, 0),
        "Voxels cropped from each side of every output window; one value = all axes, two = the last repeated "
        "(as NiftyNet's 2-D configs give it)."),
    Key("inference_iter", CheckpointType(), -1,
        "Checkpoint to load: an iteration, -1 or `latest`, or `best` (best validation)."),
    Key("dataset_to_infer", ChoiceType(("training", "validation", "inference", "all")), "",
        "Split to run on; empty = the inference split if a split file exists, else all subjects."),
    Key("save_seg_dir", PathType(), PathDefault("model_dir", "output"),
        "Output folder (≠NiftyNet: relative paths are from the config folder)."),
    Key("output_postfix", StrType(), "_niftynet_out", "Suffix added to output file names."),
    Key("output_interp_order", IntType(0, 3), 0,
        "Interpolation order when mapping outputs back to the input grid."),
    Key("fill_constant", FloatType(), 0.0, "Value of voxels no window covers."),
    Key("blending", ChoiceType(("constant", "gaussian")), "gaussian",
        "How overlapping output windows are combined (new in voxflow: NiftyNet overwrote overlaps)."),
    Key("tta_mirror_axes", IntArrayType(None, 0, 2, example="0, 1, 2"), (),
        "Test-time augmentation: each window is also predicted mirrored along every combination of these axes "
        "and the predictions, mirrored back, are averaged (nnU-Net's mirroring: 8 passes for 3 axes); unset = off."),
    Key("ensemble_model_dirs", PathListType(), (),
        "Other trained model folders (same recipe: same trained settings) whose `inference_iter` checkpoints are "
        "averaged with this model's, probability by probability; with `num_folds` and `fold = -1` the folds are."),
)

EVALUATION_KEYS: dict[str, Key] = _table(
    Key("evaluations", MetricNamesType(), ("dice", "jaccard", "hausdorff95", "average_distance"),
        "Metric names (NiftyNet's too; docs/evaluation.md) or dotted import paths."),
    Key("save_csv_dir", PathType(), PathDefault("model_dir", "evaluation"),
        "Folder of the evaluation CSV files (≠NiftyNet: relative paths are from the config folder)."),
)


#: ``[AUGMENTATION]``: one key per transform, in the order applied (read by voxflow.augment.steps).
AUGMENTATION_KEYS: dict[str, Key] = augmentation_keys(Key)

_SYSTEM_TABLES: dict[str, dict[str, Key]] = {
    "SYSTEM": SYSTEM_KEYS,
    "NETWORK": NETWORK_KEYS,
    "TRAINING": TRAINING_KEYS,
    "INFERENCE": INFERENCE_KEYS,
    "EVALUATION": EVALUATION_KEYS,
    "AUGMENTATION": AUGMENTATION_KEYS,
}

_APP_TABLES: dict[str, dict[str, Key]] = {}
_APP_OWNERS: dict[str, Any] = {}
_APP_DEFAULTS: dict[str, dict[tuple[str, str], Any]] = {}

def niftynet_sections(key: str, app_name: str) -> tuple[str, ...]:
    """The sections NiftyNet read ``key`` from (:data:`NIFTYNET_KEYS`), the application section
    ``app_name`` named :data:`APPLICATION`."""
    return tuple(APPLICATION if name == app_name else name for name, keys in NIFTYNET_KEYS.items() if key in keys)


def relocation(key: str, section: str, app_name: str) -> str | None:
    """The section voxflow reads ``key`` from when a NiftyNet config has it in ``section``, which
    does not define it; None when ``section`` is no place NiftyNet or its example configs had it.

    A key moves only to the one system or application section that defines it (never to an input
    section: which one would be a guess).

    Example:
        >>> relocation("queue_length", "SYSTEM", "SEGMENTATION")
        'NETWORK'
    """
    written = APPLICATION if section == app_name else section
    if written not in (*NIFTYNET_MISPLACED.get(key, ()), *niftynet_sections(key, app_name)):
        return None
    tables = {**_SYSTEM_TABLES, app_name: _APP_TABLES.get(app_name, {})}
    homes = [name for name, table in tables.items() if name != section and key in table]
    return homes[0] if len(homes) == 1 else None


def section_keys(section: str) -> dict[str, Key]:
    """Return the key table of a system section, a registered app section, or :data:`INPUT`.

    Raises:
        KeyError: ``section`` is none of those.
    """
    if section == INPUT:
        return INPUT_KEYS
    if section in _SYSTEM_TABLES:
        return _SYSTEM_TABLES[section]
    return _APP_TABLES[section]


def app_section_names() -> list[str]:
    """Return the registered application section names, sorted."""
    return sorted(_APP_TABLES)


def register_app_section(name: str, keys: list[Key] | tuple[Key, ...], owner: Any = None,
                         shared_defaults: dict[tuple[str, str], Any] | None = None) -> None:
    """Register the section an application reads (e.g. ``REGRESSION``) with its keys.

    Role keys (``role=True``) name input sections; the validator checks they exist. The core
    schema registers no application: each application registers its own section
    (:meth:`voxflow.applications.base.Application.register`). Registering the same keys again
    (the same application, or a subclass that keeps its parent's section) does nothing.

    Args:
        name: the section name.
        keys: its keys.
        owner: the application class (for messages).
        shared_defaults: the application's defaults for keys of the system sections,
            ``{(SECTION, key): value}``.

    Raises:
        ValueError: the name is a system section, or registered with other keys, or keys repeat.
    """
    name = name.upper()
    table = _table(*keys)
    if len(table) != len(keys):
        raise ValueError(f"Section [{name}] lists a key twice.")
    defaults = {(section.upper(), key): value for (section, key), value in (shared_defaults or {}).items()}
    for section, key in defaults:
        if section not in _SYSTEM_TABLES or key not in _SYSTEM_TABLES[section]:
            raise ValueError(f"Section [{name}] gives a default for an unknown key `{key}` of [{section}].")
    if name in _SYSTEM_TABLES:
        raise ValueError(f"Section [{name}] is a system section.")
    if name in _APP_TABLES:
        if list(_APP_TABLES[name]) == list(table) and _APP_DEFAULTS.get(name, {}) == defaults:
            return
        raise ValueError(f"Section [{name}] is already defined by {_APP_OWNERS.get(name, 'another application')} "
                         "with other keys.")
    _APP_TABLES[name] = table
    _APP_OWNERS[name] = getattr(owner, "__qualname__", owner)
    _APP_DEFAULTS[name] = defaults


def shared_default(app_section: str, section: str, key: str) -> tuple[bool, Any]:
    """``(True, value)`` if the application of ``app_section`` sets its own default for
    ``[section] key``, else ``(False, None)``."""
    defaults = _APP_DEFAULTS.get(app_section.upper(), {})
    found = (section.upper(), key) in defaults
    return found, defaults.get((section.upper(), key))


def register_keys(section: str, keys: list[Key] | tuple[Key, ...]) -> None:
    """Add keys to a system section (for optional features such as augmentation).

    Raises:
        ValueError: a key is already defined in that section.
    """
    table = section_keys(section)
    for key in keys:
        if key.name in table:
            raise ValueError(f"Key `{key.name}` is already defined in [{section}].")
    table.update(_table(*keys))
