"""One registry of names -> classes/functions for every pluggable family.

Built-in entries are stored as ``"module:attribute"`` strings and imported only when looked up, so
importing the registry never imports TensorFlow.  A name that is not built in is treated as a
dotted import path (``my_pkg.nets.MyNet``); the same lookup serves both, so nothing built in is
special-cased.

Example:
    >>> from voxflow import registry
    >>> registry.names("loss")[:3]
    ['CrossEntropy', 'Dice', 'DicePlusXEnt']
    >>> dice = registry.resolve("loss", "Dice")          # built-in
    >>> net = registry.resolve("network", "my_pkg.nets.MyNet")  # plugin by import path

Importing a plugin runs its code, so two rules hold for every family:

- **Downloaded code needs consent.** A module whose file lies inside an installed model-zoo entry
  (a folder holding ``install.json``, written by ``net_download``) is imported only after
  :func:`trust_downloaded_code` (the console scripts' ``--trust-downloaded-code`` flag); otherwise
  the lookup stops with one line naming the file, before any of its code runs.
- **A broken plugin is the user's to fix.** A module that cannot be found, has a syntax error,
  raises, or calls ``sys.exit`` while being imported gives a one-line :class:`PluginError`
  naming the plugin and its file (exit status 2), never a traceback or a silent exit.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voxflow.errors import PluginError, first_line
from voxflow.naming import did_you_mean

_BUILTINS: dict[str, dict[str, str]] = {
    "network": {
        "toynet": "voxflow.networks.toynet:ToyNet",
        "unet": "voxflow.networks.unet:UNet",
        "highres3dnet": "voxflow.networks.highres3dnet:HighRes3DNet",
        "vnet": "voxflow.networks.vnet:VNet",
        "dense_vnet": "voxflow.networks.dense_vnet:DenseVNet",
        "highres3dnet_small": "voxflow.networks.highres3dnet:HighRes3DNetSmall",
        "highres3dnet_large": "voxflow.networks.highres3dnet:HighRes3DNetLarge",
        "deepmedic": "voxflow.networks.deepmedic:DeepMedic",
        "unet_2d": "voxflow.networks.unet_2d:UNet2D",
        "nonewnet": "voxflow.networks.no_new_net:NoNewNet",
        "scalenet": "voxflow.networks.scalenet:ScaleNet",
        "holisticnet": "voxflow.networks.holisticnet:HolisticNet",
        "resnet": "voxflow.networks.resnet:ResNet",
        "se_resnet": "voxflow.networks.se_resnet:SEResNet",
        "densenet": "voxflow.networks.densenet:DenseNet",
        "registration_net": "voxflow.networks.registration:RegistrationNet",
        "vae": "voxflow.networks.vae:VAE",
        "simple_gan": "voxflow.networks.gan:SimpleGAN",
        "dcgan": "voxflow.networks.gan:SimpleGAN",
        "simulator_gan": "voxflow.networks.gan:SimulatorGAN",
    },
    "loss": {
        "Dice": "voxflow.losses.segmentation:dice_loss",
        "Dice_NS": "voxflow.losses.segmentation:dice_ns_loss",
        "GDSC": "voxflow.losses.segmentation:generalised_dice_loss",
        "CrossEntropy": "voxflow.losses.segmentation:cross_entropy_loss",
        "DicePlusXEnt": "voxflow.losses.segmentation:dice_plus_xent_loss",
        "Tversky": "voxflow.losses.segmentation:tversky_loss",
        "WGDL": "voxflow.losses.segmentation:generalised_wasserstein_dice_loss",
        "GWDL": "voxflow.losses.segmentation:generalised_wasserstein_dice_loss",
        "SensSpec": "voxflow.losses.segmentation:sensitivity_specificity_loss",
        "Dice_Dense": "voxflow.losses.registration:dice_dense_loss",
        "Dice_Dense_NS": "voxflow.losses.registration:dice_dense_ns_loss",
        "L1Loss": "voxflow.losses.regression:l1_loss",
        "L2Loss": "voxflow.losses.regression:l2_loss",
        "MAE": "voxflow.losses.regression:l1_loss",
        "MSE": "voxflow.losses.regression:l2_loss",
        "RMSE": "voxflow.losses.regression:rmse_loss",
        "Huber": "voxflow.losses.regression:huber_loss",
        "SSIM": "voxflow.losses.regression:ssim_loss",
        "LNCC": "voxflow.losses.regression:lncc_loss",
        "VariationalLowerBound": "voxflow.losses.generative:variational_lower_bound",
    },
    "optimiser": {
        "adam": "voxflow.engine.optimisers:adam",
        "gradientdescent": "voxflow.engine.optimisers:gradient_descent",
        "momentum": "voxflow.engine.optimisers:momentum",
        "nesterov": "voxflow.engine.optimisers:nesterov",
        "sgd_nesterov": "voxflow.engine.optimisers:sgd_nesterov",
        "adagrad": "voxflow.engine.optimisers:adagrad",
        "rmsprop": "voxflow.engine.optimisers:rmsprop",
    },
    "sampler": {
        "uniform": "voxflow.data.samplers.uniform:UniformSampler",
        "weighted": "voxflow.data.samplers.weighted:WeightedSampler",
        "balanced": "voxflow.data.samplers.balanced:BalancedSampler",
        "resize": "voxflow.data.samplers.resize:ResizeSampler",
        "grid": "voxflow.data.samplers.grid:GridSampler",
        "selective": "voxflow.data.samplers.selective:SelectiveSampler",
        "patch": "voxflow.data.samplers.csv_locations:CSVLocationSampler",
    },
    "application": {
        "segmentation": "voxflow.applications.segmentation:SegmentationApplication",
        "net_segment": "voxflow.applications.segmentation:SegmentationApplication",
        "regression": "voxflow.applications.regression:RegressionApplication",
        "net_regress": "voxflow.applications.regression:RegressionApplication",
        "classification": "voxflow.applications.classification:ClassificationApplication",
        "net_classify": "voxflow.applications.classification:ClassificationApplication",
        "registration": "voxflow.applications.registration:RegistrationApplication",
        "net_reg": "voxflow.applications.registration:RegistrationApplication",
        "autoencoder": "voxflow.applications.autoencoder:AutoencoderApplication",
        "net_autoencoder": "voxflow.applications.autoencoder:AutoencoderApplication",
        "gan": "voxflow.applications.gan:GANApplication",
        "net_gan": "voxflow.applications.gan:GANApplication",
    },
    "metric": {},  # filled from voxflow.evaluation.catalogue (see _CATALOGUES)
    "augmentation": {},  # filled from voxflow.augment.catalogue
}

# Families whose built-in table lives with the package that owns them: a module attribute
# ``BUILTINS: dict[str, "module:attribute"]`` read on first use. The catalogue modules must be
# cheap to import (no TensorFlow).
_CATALOGUES = {
    "metric": "voxflow.evaluation.catalogue:BUILTINS",
    "augmentation": "voxflow.augment.catalogue:BUILTINS",
}

# Case-insensitive aliases for built-in names (NiftyNet accepted e.g. ``dice`` for ``Dice``).
_FAMILY_LABEL = {
    "network": "network ([NETWORK] name)",
    "loss": "loss ([TRAINING] loss_type)",
    "optimiser": "optimiser ([TRAINING] optimiser)",
    "sampler": "sampler ([NETWORK] window_sampling)",
    "application": "application (-a)",
    "metric": "metric ([EVALUATION] evaluations)",
    "augmentation": "augmentation ([AUGMENTATION])",
}

_EXTRA: dict[str, dict[str, Any]] = {family: {} for family in _BUILTINS}

#: The marker of an installed model-zoo entry (``voxflow.zoo.installer.INSTALL_RECORD``).
DOWNLOAD_MARKER = "install.json"
CONSENT_FLAG = "--trust-downloaded-code"
_TRUSTED = {"downloaded": False}

_NN = "niftynet."
#: NiftyNet's components under the registry name voxflow gives them (NiftyNet's own alias, from its
#: ``niftynet/engine/application_factory.py`` tables): ``{family: {NiftyNet import path: name}}``.
#: Wherever a name is looked up, NiftyNet's alias, its import path (``niftynet.network.unet.UNet3D``)
#: or its module path (``niftynet.network.no_new_net``, ``niftynet.network.nonewnet``) means the
#: voxflow entry of that name once it is registered; until then, and for any other ``niftynet.``
#: path, the lookup says in one line that voxflow does not have it and what it offers instead
#: (:func:`niftynet_missing`). NiftyNet's code itself is never imported.
NIFTYNET_NAMES: dict[str, dict[str, str]] = {
    "network": {
        _NN + "network.toynet.ToyNet": "toynet",
        _NN + "network.unet.UNet3D": "unet",
        _NN + "network.unet_2d.UNet2D": "unet_2d",
        _NN + "network.no_new_net.UNet3D": "nonewnet",
        _NN + "network.vnet.VNet": "vnet",
        _NN + "network.highres3dnet.HighRes3DNet": "highres3dnet",
        _NN + "network.highres3dnet_small.HighRes3DNetSmall": "highres3dnet_small",
        _NN + "network.highres3dnet_large.HighRes3DNetLarge": "highres3dnet_large",
        _NN + "network.dense_vnet.DenseVNet": "dense_vnet",
        _NN + "network.deepmedic.DeepMedic": "deepmedic",
        _NN + "network.scalenet.ScaleNet": "scalenet",
        _NN + "network.holistic_net.HolisticNet": "holisticnet",
        _NN + "network.resnet.ResNet": "resnet",
        _NN + "network.se_resnet.SE_ResNet": "se_resnet",
        _NN + "network.vae.VAE": "vae",
        _NN + "network.simple_gan.SimpleGAN": "simple_gan",
        _NN + "network.simulator_gan.SimulatorGAN": "simulator_gan",
        # Its label-driven registration's networks (each also sets `method`: voxflow.applications.registration_niftynet).
        _NN + "network.interventional_dense_net.INetDense": "registration_net",
        _NN + "network.interventional_affine_net.INetAffine": "registration_net",
        _NN + "network.interventional_hybrid_net.INetHybridPreWarp": "registration_net",
        _NN + "network.interventional_hybrid_net.INetHybridTwoStream": "registration_net",
    },
    "loss": {
        _NN + "layer.loss_segmentation.dice": "Dice",
        _NN + "layer.loss_segmentation.dice_nosquare": "Dice_NS",
        _NN + "layer.loss_segmentation.dice_dense": "Dice_Dense",
        _NN + "layer.loss_segmentation.dice_dense_nosquare": "Dice_Dense_NS",
        _NN + "layer.loss_segmentation.generalised_dice_loss": "GDSC",
        _NN + "layer.loss_segmentation.cross_entropy": "CrossEntropy",
        _NN + "layer.loss_segmentation.cross_entropy_dense": "CrossEntropy_Dense",
        _NN + "layer.loss_segmentation.dice_plus_xent_loss": "DicePlusXEnt",
        _NN + "layer.loss_segmentation.tversky": "Tversky",
        _NN + "layer.loss_segmentation.generalised_wasserstein_dice_loss": "WGDL",
        _NN + "layer.loss_segmentation.sensitivity_specificity_loss": "SensSpec",
        _NN + "layer.loss_segmentation.volume_enforcement": "VolEnforcement",
        _NN + "layer.loss_regression.l1_loss": "L1Loss",
        _NN + "layer.loss_regression.l2_loss": "L2Loss",
        _NN + "layer.loss_regression.rmse_loss": "RMSE",
        _NN + "layer.loss_regression.mae_loss": "MAE",
        _NN + "layer.loss_regression.huber_loss": "Huber",
        _NN + "layer.loss_regression.smooth_l1_loss": "SmoothL1",
        _NN + "layer.loss_regression.cosine_loss": "Cosine",
        _NN + "layer.loss_classification.cross_entropy": "CrossEntropy",
        _NN + "layer.loss_autoencoder.VariationalLowerBound": "VariationalLowerBound",
    },
    "optimiser": {
        _NN + "engine.application_optimiser.Adam": "adam",
        _NN + "engine.application_optimiser.GradientDescent": "gradientdescent",
        _NN + "engine.application_optimiser.Momentum": "momentum",
        _NN + "engine.application_optimiser.NesterovMomentum": "nesterov",
        _NN + "engine.application_optimiser.Adagrad": "adagrad",
        _NN + "engine.application_optimiser.RMSProp": "rmsprop",
    },
    "sampler": {
        _NN + "engine.sampler_uniform_v2.UniformSampler": "uniform",
        _NN + "engine.sampler_weighted_v2.WeightedSampler": "weighted",
        _NN + "engine.sampler_balanced_v2.BalancedSampler": "balanced",
        _NN + "engine.sampler_resize_v2.ResizeSampler": "resize",
        _NN + "engine.sampler_grid_v2.GridSampler": "grid",
        _NN + "contrib.segmentation_selective_sampler.sampler_selective.SelectiveSampler": "selective",
        _NN + "contrib.csv_reader.sampler_csvpatch.CSVPatchSampler": "patch",
    },
    "application": {
        _NN + "application.segmentation_application.SegmentationApplication": "net_segment",
        _NN + "application.regression_application.RegressionApplication": "net_regress",
        _NN + "application.classification_application.ClassificationApplication": "net_classify",
        _NN + "application.autoencoder_application.AutoencoderApplication": "net_autoencoder",
        _NN + "application.gan_application.GANApplication": "net_gan",
        _NN + "application.label_driven_registration.RegApp": "net_reg",
    },
    "metric": {  # NiftyNet's SUPPORTED_EVALUATIONS; voxflow.evaluation.catalogue spells the ones it computes
        **{_NN + f"evaluation.segmentation_evaluations.{name}": name for name in (
            "dice", "jaccard", "n_pos_ref", "n_neg_ref", "n_pos_seg", "n_neg_seg", "fp", "fn", "tp", "tn",
            "n_intersection", "n_union", "specificity", "sensitivity", "accuracy", "false_positive_rate",
            "positive_predictive_values", "negative_predictive_values", "intersection_over_union",
            "informedness", "markedness", "vol_diff", "average_distance", "hausdorff_distance",
            "hausdorff95_distance")},
        **{_NN + f"evaluation.regression_evaluations.{name}": name for name in ("mse", "rmse", "mae")},
        _NN + "evaluation.classification_evaluations.accuracy": "classification_accuracy",
        _NN + "contrib.evaluation.segmentation_evaluations.com_ref": "com_ref",
        _NN + "contrib.evaluation.classification_evaluations.roc_auc": "roc_auc",
        _NN + "contrib.evaluation.classification_evaluations.roc": "roc",
    },
}


def trust_downloaded_code(allowed: bool = True) -> None:
    """Allow (or forbid again) importing plugins that came with a model-zoo download."""
    _TRUSTED["downloaded"] = bool(allowed)


def register_builtin_applications() -> list[str]:
    """Import every built-in application; each registers its config section with the schema (once).

    The core schema knows no application: this is how ``load_config`` learns the sections of the
    built-in ones when it needs them.

    Returns:
        The built-in applications' sections, sorted.
    """
    applications = builtin_applications().values()
    for application in applications:
        application.register()
    return sorted({application.SECTION for application in applications})


def builtin_applications() -> dict[str, Any]:
    """``{first alias: application class}`` of the built-in applications (imports them)."""
    found: dict[Any, str] = {}
    for alias, target in _BUILTINS["application"].items():
        module_name, attribute = target.split(":")
        found.setdefault(getattr(importlib.import_module(module_name), attribute), alias)
    return {alias: app for app, alias in found.items()}


def application_of_script(script: str) -> str | None:
    """The alias of the built-in application whose ``CONSOLE_SCRIPT`` is ``script``, or None."""
    for alias, app in builtin_applications().items():
        if getattr(app, "CONSOLE_SCRIPT", None) == script:
            return alias
    return None


def families() -> list[str]:
    """Return the names of all plugin families."""
    return sorted(_BUILTINS)


def names(family: str, sort: bool = True) -> list[str]:
    """Return the built-in and registered names of ``family``: sorted, or (``sort=False``) built-in
    names in the order of the built-in table, then registered ones in the order registered."""
    _check_family(family)
    if not sort:
        return [*_BUILTINS[family], *(name for name in _EXTRA[family] if name not in _BUILTINS[family])]
    return sorted(set(_BUILTINS[family]) | set(_EXTRA[family]), key=str.lower)


def register(family: str, name: str | None = None) -> Callable[[Any], Any]:
    """Decorator registering a class or function under ``name`` in ``family``.

    Duplicates are rejected so a plugin cannot silently replace a built-in.
    """
    _check_family(family)

    def decorator(obj: Any) -> Any:
        key = name or obj.__name__
        if key in _BUILTINS[family] or key in _EXTRA[family]:
            raise PluginError(f"A {family} named '{key}' is already registered.")
        _EXTRA[family][key] = obj
        return obj

    return decorator


def is_builtin(family: str, name: str) -> bool:
    """Whether ``name`` (case-insensitive, or NiftyNet's name of it) is a built-in or registered
    entry of ``family``."""
    return _canonical(family, name) is not None


def canonical_name(family: str, name: str) -> str:
    """The built-in or registered spelling of ``name`` (``UNet`` → ``unet``,
    ``niftynet.network.unet.UNet3D`` → ``unet``); other names unchanged."""
    return _canonical(family, name) or name


def niftynet_entry(family: str, name: str) -> tuple[str, str] | None:
    """``(registry name, NiftyNet import path)`` if ``name`` is NiftyNet's name of a component of
    ``family`` (its alias, import path or module path; see :data:`NIFTYNET_NAMES`), else None."""
    table = NIFTYNET_NAMES.get(family, {})
    lowered = name.strip().lower()
    for spelling in (lambda path, alias: path,  # the import path, then the module path (if one entry's) ...
                     lambda path, alias: path.rpartition(".")[0],
                     lambda path, alias: f"{path.rpartition('.')[0].rpartition('.')[0]}.{alias}",  # package.alias
                     lambda path, alias: alias):
        found = {(alias, path) for path, alias in table.items() if spelling(path, alias).lower() == lowered}
        if len({alias for alias, _ in found}) == 1:
            return min(found)
    return None


def niftynet_what(family: str, name: str) -> str | None:
    """What NiftyNet's ``name`` is, when voxflow does not have it: ``"NiftyNet's <its other name>,
    which voxflow does not have"``; None if ``name`` is no NiftyNet name or voxflow has it."""
    if _canonical(family, name) is not None:
        return None
    entry = niftynet_entry(family, name)
    if entry is None:
        return "NiftyNet code, which voxflow does not include" if name.strip().lower().startswith(_NN) else None
    other = entry[0] if "." in name else entry[1]
    return f"NiftyNet's {other}, which voxflow does not have"


def niftynet_missing(family: str, name: str) -> str | None:
    """The one-line message for NiftyNet's ``name`` that voxflow does not have (see
    :func:`niftynet_what`), naming what voxflow offers instead; None otherwise."""
    what = niftynet_what(family, name)
    if what is None:
        return None
    return (f"Unknown {_FAMILY_LABEL[family]}: '{name}' is {what}. voxflow offers: {', '.join(names(family))}, "
            "or a dotted import path of your own such as my_pkg.module.Class.")


def resolve(family: str, name: str, search_dirs: tuple[str, ...] = ()) -> Any:
    """Return the object registered as ``name`` or importable at the dotted path ``name``.

    Args:
        family: one of :func:`families`.
        name: a built-in name (case-insensitive) or ``package.module.Attribute``.
        search_dirs: folders (e.g. the config file's folder) tried first for a plugin's module,
            without leaving them on ``sys.path``.

    Raises:
        PluginError: one line saying what was looked up and where, with the nearest names.
    """
    _check_family(family)
    canonical = _canonical(family, name)
    if canonical is not None:
        if canonical in _EXTRA[family]:
            return _EXTRA[family][canonical]
        module_name, attribute = _BUILTINS[family][canonical].split(":")
        return getattr(importlib.import_module(module_name), attribute)
    missing = niftynet_missing(family, name)
    if missing is not None:
        raise PluginError(missing)
    if "." not in name or not all(part.isidentifier() for part in name.split(".")):
        choices = names(family)
        hint = did_you_mean(name, choices, cutoff=0.5)
        raise PluginError(
            f"Unknown {_FAMILY_LABEL[family]}: '{name}'. Expected one of: {', '.join(choices)}, "
            f"or a dotted import path such as my_pkg.module.Class.{hint}"
        )
    return _import_path(family, name, search_dirs)


def _import_path(family: str, path: str, search_dirs: tuple[str, ...]) -> Any:
    module_name, _, attribute = path.rpartition(".")
    label = f"{_FAMILY_LABEL[family]} '{path}'"
    added = [d for d in search_dirs if d and os.path.isdir(d) and d not in sys.path]
    sys.path[:0] = added
    try:
        _check_consent(module_name, label)
        module = importlib.import_module(module_name)
    except ImportError as err:
        where = f" (searched {', '.join(search_dirs)} and the Python path)" if search_dirs else ""
        raise PluginError(f"Cannot import module '{module_name}' for {label}{where}: {err}") from err
    except SyntaxError as err:
        raise PluginError(f"Module '{module_name}' for {label} has a syntax error at {err.filename}, line "
                          f"{err.lineno}: {err.msg}.") from None
    except SystemExit as err:
        raise PluginError(f"Module '{module_name}' for {label} called sys.exit({err.code!r}) while being "
                          "imported: a plugin module must only define things.") from None
    except PluginError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure of the user's module is the user's to fix
        raise PluginError(f"Module '{module_name}' for {label} raised {type(err).__name__} while being imported: "
                          f"{first_line(err)}") from err
    finally:
        for d in added:
            if d in sys.path:
                sys.path.remove(d)
    if not hasattr(module, attribute):
        raise PluginError(
            f"Module '{module_name}' ({getattr(module, '__file__', '?')}) has no attribute "
            f"'{attribute}' for {label}."
        )
    return getattr(module, attribute)


def _check_consent(module_name: str, label: str) -> None:
    """Refuse, before any of its code runs, a module that came with a download (see the module docstring)."""
    top = module_name.split(".", 1)[0]
    if _TRUSTED["downloaded"] or top in sys.modules:
        return
    spec = importlib.util.find_spec(top)  # locates without executing anything
    if spec is None:
        return  # import_module reports the missing module
    places = [spec.origin] if spec.origin and spec.has_location else []
    places += list(spec.submodule_search_locations or ())
    for place in places:
        entry = _download_folder(Path(place))
        if entry is not None:
            raise PluginError(
                f"{label} would import code that came with the download in {entry} ({place}): voxflow runs "
                f"downloaded code only with your consent. Read it, then rerun with {CONSENT_FLAG}.")


def _download_folder(path: Path) -> Path | None:
    """The installed zoo entry folder that holds ``path`` (it has a zoo install record), or None."""
    resolved = path.resolve()
    for folder in (resolved, *resolved.parents):
        marker = folder / DOWNLOAD_MARKER
        if marker.is_file() and _is_install_record(marker):
            return folder
    return None


def _is_install_record(marker: Path) -> bool:
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True  # unreadable: err on the side of asking
    return not isinstance(record, dict) or "entry_id" in record


def _canonical(family: str, name: str) -> str | None:
    """The registered spelling of ``name`` (exact, then case-insensitive, then as NiftyNet's name)."""
    _check_family(family)
    found = _registered(family, name)
    if found is None:
        entry = niftynet_entry(family, name)
        found = _registered(family, entry[0]) if entry is not None else None
    return found


def _registered(family: str, name: str) -> str | None:
    for table in (_BUILTINS[family], _EXTRA[family]):
        if name in table:
            return name
    lowered = name.lower()
    for table in (_BUILTINS[family], _EXTRA[family]):
        for key in table:
            if key.lower() == lowered:
                return key
    return None


def _check_family(family: str) -> None:
    if family not in _BUILTINS:
        raise KeyError(f"Unknown registry family '{family}'. Expected one of: {', '.join(families())}")
    catalogue = _CATALOGUES.pop(family, None)
    if catalogue is not None:
        module_name, attribute = catalogue.split(":")
        try:
            table = getattr(importlib.import_module(module_name), attribute)
        except ImportError:
            table = {}
        _BUILTINS[family].update(table)
