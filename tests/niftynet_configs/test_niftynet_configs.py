"""NiftyNet's own segmentation, regression, registration and generative configs run in voxflow with only their data locations changed.

``configs/`` holds a copy of each segmentation config NiftyNet shipped (``config/``, ``demos/``,
``niftynet/contrib/``), of its three regression configs (``config/``, run with ``net_regress``) and of
its label-driven registration config (run with ``net_reg``), and its two generative configs (the VAE
demo with ``net_autoencoder``, the ultrasound simulator GAN with ``net_gan``; their synthetic images
have the config's window size, so outputs of whole images resized to the window lie on the input grid):
every section and key with NiftyNet's values, comments dropped, and the
data locations (``path_to_search``, ``csv_data_file``, ``histogram_ref_file``, ``model_dir`` and
absolute output folders) written as ``{data}`` / ``{models}``, which the test fills with a
temporary folder holding synthetic data of the kind the config expects (``niftynet_datasets``).

Each config trains for 2 iterations (``--max_iter 2``) and infers; a config whose
``[EVALUATION]`` names metrics is also evaluated. Inference must write one output per subject on
exactly the grid (shape and affine) of the subject's input file. A config that only trains (BRATS17
``train_*``, PROMISE12 ``*_train``) infers with its demo's inference config; an inference-only
config first trains with its demo's training config (the brain-parcellation model, which NiftyNet
downloaded, is trained from the same config with the label section it lacks). The evaluation-only
config (``default_multimodal_segmentation_eval``) evaluates given segmentations against labels.

Overrides beyond ``--max_iter 2`` are for time only:

- ``inference_iter``: a shipped checkpoint number (3000, 2500, 15000, 33000) that two iterations do
  not reach becomes ``-1`` (the latest).
- window sizes where NiftyNet's take more than ~20 s (or more memory than a CPU machine has): those
  configs run here with the smaller windows listed in ``FAST`` (for deepmedic also the batch of 128
  windows, and the inference border that only suits its 195³ window) and, marked ``slow``, exactly
  as shipped (``bash scripts/test.sh -m slow``).
"""

from __future__ import annotations

import configparser
import csv
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import niftynet_datasets as datasets
import numpy as np
import pytest

from voxflow.cli.main import main
from voxflow.io import read_image

HERE = Path(__file__).parent
CONFIGS = HERE / "configs"
PLUGINS = HERE / "plugins"


@dataclass(frozen=True)
class Case:
    """One NiftyNet config and how to run it.

    Attributes:
        config: the config under test, a file in ``configs/``.
        build: writes the synthetic data under a folder; ``(root, shipped)`` → ``Dataset``
            (``shipped``: volumes large enough for NiftyNet's own windows).
        train_with: the config that trains, when the config under test only infers.
        infer_with: the config that infers, when the config under test only trains.
        always: overrides of both variants (``inference_iter`` of a long training).
        fast_train, fast_infer: the fast suite's window overrides; empty = runs as shipped.
        evaluate: run the evaluation action too.
        evaluate_only: only the evaluation action (a config that evaluates given segmentations).
        plugins: folders of ``plugins/`` copied next to the configs (the demo's own network code).
        application: the NiftyNet application the config is for (``segmentation``, ``regression``).
    """

    config: str
    build: Callable[[str, bool], datasets.Dataset]
    train_with: str | None = None
    infer_with: str | None = None
    always: tuple[str, ...] = ()
    fast_train: tuple[str, ...] = ()
    fast_infer: tuple[str, ...] = ()
    evaluate: bool = False
    evaluate_only: bool = False
    plugins: tuple[str, ...] = ()
    application: str = "segmentation"

    @property
    def has_fast_variant(self) -> bool:
        return bool(self.fast_train or self.fast_infer)


def _mono(root, shipped):
    return datasets.monomodal_parcellation(root)


def _mono_deepmedic(root, shipped):  # 57-voxel windows, 12 voxels of padding: 33 voxels per axis at least
    return datasets.monomodal_parcellation(root, shape=(34, 34, 28), subjects=2)


def _mono_large(root, shipped):
    return datasets.monomodal_parcellation(root, shape=(80, 80, 66) if shipped else (20, 22, 18))


def _brats(root, shipped):
    return datasets.multimodal_brats(root)


def _brats17(root, shipped):
    return datasets.brats17(root, shape=(120, 120, 120) if shipped else (30, 40, 36))


def _hippocampus(root, shipped):
    return datasets.decathlon_hippocampus(root)


def _promise12(root, shipped):
    return datasets.promise12(root)


def _oasis(root, shipped):
    return datasets.oasis_parcellation(root, shape=(80, 84, 78) if shipped else (40, 44, 36))


def _hela(root, shipped):  # 572² windows, 92 pixels of padding: 388 pixels per axis at least
    return datasets.cell_images(root, "DIC-C2DH-HeLa", shape=(392, 400) if shipped else (40, 36), subjects=2)


def _u373(root, shipped):
    return datasets.cell_images(root, "PhC-C2DH-U373", shape=(396, 420) if shipped else (36, 44), subjects=2)


def _histology(root, shipped):  # 400² windows, 92 pixels of padding: 216 pixels per axis at least
    return datasets.histology(root, shape=(220, 232) if shipped else (44, 40))


def _regression(root, shipped):
    return datasets.monomodal_regression(root)


def _weighted_regression(root, shipped):
    return datasets.weighted_regression(root)


def _regression_pairs(root, shipped):
    return datasets.regression_evaluation_pairs(root)


def _label_driven(root, shipped):
    return datasets.label_driven_registration(root)


def _autoencoder(root, shipped):
    return datasets.autoencoder_volumes(root)


def _ultrasound(root, shipped):
    return datasets.ultrasound_frames(root)


def _csv(root, shipped):
    return datasets.csv_sampler_data(root)


def _evaluation_pairs(root, shipped):
    return datasets.evaluation_pairs(root)


BRATS17_PLUGIN = ("anisotropic_nets",)
LATEST = ("--inference_iter", "-1")
PARCELLATION_MODEL = "brain_parcellation_model.ini"  # generated from the demo's config (see below)


def _windows(sections: dict[str, str]) -> tuple[str, ...]:
    """``--SECTION.spatial_window_size WINDOW`` for each section."""
    return tuple(arg for section, window in sections.items() for arg in (f"--{section}.spatial_window_size", window))


# The fast suite's overrides, each for time only (see the module docstring): where NiftyNet's
# windows (and the batch they fill) cost minutes on two CPU cores.
BRATS17_IMAGES = ("T1", "T2", "T1c", "Flair")
PAD7 = ("--volume_padding_size", "7")
FAST = {
    # (0, 0, 3) with border 5 runs a 3-slice window per slice of the padded volume (3× the volume
    # through highres3dnet, ~50 s); the whole padded volume in one window keeps the "0 = extent" rule.
    # The four configs that pad by 21 voxels (a 20³ volume becomes 62³, most of it padding) pad by 7,
    # which still holds their 32³ training windows.
    "highres3dnet_config": (PAD7, (*PAD7, *_windows({"INFERENCE": "0,0,0"}))),
    "vnet_config": (PAD7, PAD7),
    # holisticnet and scalenet infer on 64³ windows: each padded volume (36³) in one window instead.
    "holisticnet_config": (PAD7, (*PAD7, *_windows({"INFERENCE": "0,0,0"}))),
    "scalenet_config": (PAD7, (*PAD7, *_windows({"INFERENCE": "0,0,0"}))),
    # 64³ inference windows on 34×48×36 volumes: each volume in one window of its own size.
    "learning_rate_demo_train_config": ((), _windows({"INFERENCE": "0,0,0"})),
    # 128 windows of 57³ per iteration; a 195³ inference window (over 23 GB here: killed). The
    # inference window is the smallest valid one whose output (60³) covers the padded volume (58³)
    # in one window, so the border of 36 (which would leave a 3-voxel step) goes with it.
    "deepmedic_config": (("--batch_size", "2"),
                         ("--batch_size", "2", *_windows({"INFERENCE": "108,108,108"}),
                          "--INFERENCE.border", "0")),
    # 6 windows of 144³ per iteration through dense_vnet.
    "densevnet_config": (_windows({"image": "48,48,48", "label": "48,48,48"}),
                         _windows({"image": "48,48,48", "INFERENCE": "48,48,48"})),
    # nonewnet on 96³ windows (104³ at inference) needs volumes of 76+ voxels per axis.
    "unet_config": (_windows({"T1": "32,32,32", "parcellation": "32,32,32"}),
                    _windows({"T1": "32,32,32", "INFERENCE": "32,32,32"})),
    # 5 windows of 19×144×144 per iteration on volumes of 114+ voxels per axis; 120×144×144 at inference.
    "brats17": (_windows({**dict.fromkeys(BRATS17_IMAGES, "19,32,32"), "label": "11,32,32"}),
                _windows({**dict.fromkeys(BRATS17_IMAGES, "19,32,32"), "INFERENCE": "28,32,32"})),
    # highres3dnet on 96³ training windows (volumes of 76+ voxels) and a 128³ inference window.
    "brain_parcellation": (_windows({"Modality0": "32,32,32", "parcellation": "32,32,32"}),
                           _windows({"Modality0": "32,32,32", "INFERENCE": "0,0,0"})),
    # unet_2d (64 to 1024 features) on 572² (400²) windows, 4 (5) per iteration, 60-100 s here: it
    # trains on its second-smallest window (204² → 20²), one per iteration, and infers with one
    # window (412² → 228²) covering the padded image, as NiftyNet's window does (a 20² output window
    # with the 92-pixel border would leave a 2-pixel step).
    "unet_cells": (("--batch_size", "1", *_windows({"cells": "204,204,1", "label": "20,20,1",
                                                    "xent_weights": "20,20,1"})),
                   ("--batch_size", "1", *_windows({"cells": "412,412,1", "INFERENCE": "412,412,1"}))),
    # highres3dnet regressing on 64³ (96³) windows, two (of four sections) per iteration, and a 136³
    # inference window: 32³ windows and the whole padded volume in one inference window.
    "regression": (_windows({"INPUTIMAGE": "32,32,32", "REGRESSTARGET": "32,32,32"}),
                   _windows({"INPUTIMAGE": "32,32,32", "INFERENCE": "0,0,0"})),
    # Its network reads OUTPUTIMAGE (the config swaps the names): at inference its 96³ window would
    # pad each small volume to 96³, so it shrinks too.
    "weighted_regression": (_windows({s: "32,32,32" for s in ("INPUTIMAGE", "OUTPUTIMAGE", "RESIDUALS",
                                                              "SAMPWEIGHT")}),
                            _windows({"OUTPUTIMAGE": "32,32,32", "INFERENCE": "0,0,0"})),
    "unet_histology": (("--batch_size", "1", *_windows({"slice": "204,204", "label": "20,20"})),
                       ("--batch_size", "1", *_windows({"slice": "412,412", "INFERENCE": "412,412"}))),
    # Two pairs of 112×128×128 windows per iteration through the registration U-Net: 32³ windows
    # (inference registers whole volumes either way).
    "label_driven_registration": (_windows(dict.fromkeys(("image0", "label0", "image1", "label1"), "32,32,32")), ()),
    # 36 frames of 128² per iteration through the simulator GAN's two networks (twice: the
    # discriminator's update and the generator's): 4 frames.
    "GAN_demo_train_config": (("--batch_size", "4"), ()),
    # 50 windows of 24³ per iteration through the VAE (4 subjects): 4.
    "vae_config": (("--batch_size", "4"), ()),
}


CASES = {
    "default_segmentation": Case("default_segmentation.ini", _mono, evaluate=True),
    "default_multimodal_segmentation": Case("default_multimodal_segmentation.ini", _brats),
    "default_multimodal_segmentation_eval": Case("default_multimodal_segmentation_eval.ini", _evaluation_pairs,
                                                 evaluate_only=True),
    "default_segmentation_bf": Case("default_segmentation_bf.ini", _mono),
    "deepmedic_config": Case("deepmedic_config.ini", _mono_deepmedic, fast_train=FAST["deepmedic_config"][0],
                             fast_infer=FAST["deepmedic_config"][1]),
    "densevnet_config": Case("densevnet_config.ini", _brats, always=LATEST, fast_train=FAST["densevnet_config"][0],
                             fast_infer=FAST["densevnet_config"][1]),
    "highres3dnet_config": Case("highres3dnet_config.ini", _mono, fast_train=FAST["highres3dnet_config"][0],
                                fast_infer=FAST["highres3dnet_config"][1]),
    "holisticnet_config": Case("holisticnet_config.ini", _brats, fast_train=FAST["holisticnet_config"][0],
                               fast_infer=FAST["holisticnet_config"][1]),
    "scalenet_config": Case("scalenet_config.ini", _brats, fast_train=FAST["scalenet_config"][0],
                            fast_infer=FAST["scalenet_config"][1]),
    "unet_config": Case("unet_config.ini", _mono_large, fast_train=FAST["unet_config"][0],
                        fast_infer=FAST["unet_config"][1]),
    "vnet_config": Case("vnet_config.ini", _mono, fast_train=FAST["vnet_config"][0], fast_infer=FAST["vnet_config"][1]),
    "segmentation_local_multi": Case("segmentation_local_multi.ini", _mono, evaluate=True),
    **{f"brats17_train_whole_tumor_{o}": Case(f"brats17_train_whole_tumor_{o}.ini", _brats17,
                                              infer_with=f"brats17_inference_whole_tumor_{o}.ini", always=LATEST,
                                              fast_train=FAST["brats17"][0], fast_infer=FAST["brats17"][1],
                                              plugins=BRATS17_PLUGIN)
       for o in ("axial", "coronal", "sagittal")},
    **{f"brats17_inference_whole_tumor_{o}": Case(f"brats17_inference_whole_tumor_{o}.ini", _brats17,
                                                  train_with=f"brats17_train_whole_tumor_{o}.ini", always=LATEST,
                                                  fast_train=FAST["brats17"][0], fast_infer=FAST["brats17"][1],
                                                  plugins=BRATS17_PLUGIN)
       for o in ("axial", "coronal", "sagittal")},
    "learning_rate_demo_train_config": Case("learning_rate_demo_train_config.ini", _hippocampus,
                                            fast_infer=FAST["learning_rate_demo_train_config"][1]),
    "promise12_balanced_train_config": Case("promise12_balanced_train_config.ini", _promise12,
                                            infer_with="promise12_demo_inference_config.ini"),
    "promise12_demo_train_config": Case("promise12_demo_train_config.ini", _promise12,
                                        infer_with="promise12_demo_inference_config.ini"),
    "promise12_demo_inference_config": Case("promise12_demo_inference_config.ini", _promise12,
                                            train_with="promise12_demo_train_config.ini"),
    "brain_parcellation_highres3dnet_config_eval": Case(
        "brain_parcellation_highres3dnet_config_eval.ini", _oasis, train_with=PARCELLATION_MODEL, always=LATEST,
        fast_train=FAST["brain_parcellation"][0], fast_infer=FAST["brain_parcellation"][1]),
    "unet_HeLa": Case("unet_HeLa.ini", _hela, fast_train=FAST["unet_cells"][0], fast_infer=FAST["unet_cells"][1]),
    "unet_U373": Case("unet_U373.ini", _u373, fast_train=FAST["unet_cells"][0], fast_infer=FAST["unet_cells"][1]),
    "unet_histology": Case("unet_histology.ini", _histology, always=LATEST, evaluate=True,
                           fast_train=FAST["unet_histology"][0], fast_infer=FAST["unet_histology"][1]),
    "default_segmentation_csvsampler": Case("default_segmentation_csvsampler.ini", _csv, evaluate=True),
    "selective_seg": Case("selective_seg.ini", _mono),
    # NiftyNet's regression configs (net_regress): highres3dnet on 64³ (96³) windows, 136³ at inference.
    "default_monomodal_regression": Case("default_monomodal_regression.ini", _regression, application="regression",
                                         fast_train=FAST["regression"][0], fast_infer=FAST["regression"][1]),
    "weighted_sample_regression": Case("weighted_sample_regression.ini", _weighted_regression, always=LATEST,
                                       application="regression", fast_train=FAST["weighted_regression"][0],
                                       fast_infer=FAST["weighted_regression"][1]),
    "default_monomodal_regression_eval": Case("default_monomodal_regression_eval.ini", _regression_pairs,
                                              evaluate_only=True, application="regression"),
    # NiftyNet's label-driven registration (net_run -a ...label_driven_registration.RegApp; net_reg).
    "label_driven_registration": Case("label_driven_registration.ini", _label_driven, always=LATEST,
                                      application="registration",
                                      fast_train=FAST["label_driven_registration"][0]),
    # NiftyNet's generative configs (net_autoencoder, net_gan): the VAE demo as shipped (inference_type =
    # sample), and the ultrasound simulator GAN's training config (conditional inference per frame).
    "vae_config": Case("vae_config.ini", _autoencoder, application="autoencoder",
                       fast_train=FAST["vae_config"][0]),
    "GAN_demo_train_config": Case("GAN_demo_train_config.ini", _ultrasound, application="gan",
                                  fast_train=FAST["GAN_demo_train_config"][0]),
}


# --------------------------------------------------------------------------------------- helpers
PROGS = {"segmentation": "net_segment", "regression": "net_regress", "registration": "net_reg",
         "autoencoder": "net_autoencoder", "gan": "net_gan"}


def _run(*argv: str, application: str = "segmentation") -> int:
    return main(list(argv), prog=PROGS[application], application=application)


def _fill(name: str, tmp_path: Path, data: Path, models: Path, drop: tuple[str, ...] = ()) -> Path:
    """The config ``name`` with its placeholders filled, written next to the run's other configs.
    Line endings are kept as NiftyNet wrote them (one demo config has CRLF). ``drop``: keys whose lines
    are left out (the documented edit of a config NiftyNet refused too)."""
    with open(CONFIGS / name, encoding="utf-8", newline="") as handle:
        text = handle.read()
    text = "".join(line for line in text.splitlines(keepends=True)
                   if line.split("=")[0].strip().lower() not in drop)
    path = tmp_path / name
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text.replace("{data}", str(data)).replace("{models}", str(models)))
    return path


def _parcellation_model_config(eval_config: Path) -> Path:
    """The config that trains the brain-parcellation model NiftyNet downloaded: the demo's own
    config plus the label section and role it lacks (same network, preprocessing and windows)."""
    parser = configparser.ConfigParser()
    parser.read(eval_config, encoding="utf-8")
    image = parser["Modality0"]
    label = (f"\n[parcellation]\npath_to_search = {image['path_to_search']}\nfilename_contains = MR_LABEL\n"
             f"spatial_window_size = {image['spatial_window_size']}\ninterp_order = 0\n"
             f"pixdim = {image['pixdim']}\naxcodes = {image['axcodes']}\n")
    text = eval_config.read_text(encoding="utf-8").replace("image = Modality0\n",
                                                           "image = Modality0\nlabel = parcellation\n")
    path = eval_config.with_name(PARCELLATION_MODEL)
    path.write_text(text + label, encoding="utf-8")
    return path


def _error(capsys) -> str:
    """The run's error line(s), for the assertion message."""
    captured = capsys.readouterr()
    lines = [line for line in (captured.err + captured.out).splitlines() if "error" in line.lower()]
    return " | ".join(lines[-3:]) or (captured.err.strip().splitlines() or ["(no message)"])[-1]


def _source_of(dataset: datasets.Dataset, subject_id: str) -> str:
    if subject_id in dataset.sources:
        return dataset.sources[subject_id]
    matches = [path for path in dataset.sources.values() if subject_id and subject_id in os.path.basename(path)]
    assert len(matches) == 1, f"output subject {subject_id!r} matches no single input ({sorted(dataset.sources)})"
    return matches[0]


def _assert_outputs_on_input_grid(tmp_path: Path, dataset: datasets.Dataset) -> None:
    listings = sorted(tmp_path.rglob("inferred.csv"))
    assert len(listings) == 1, f"expected one inferred.csv, found {[str(p) for p in listings]}"
    with open(listings[0], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, f"{listings[0]} lists no output"
    for row in rows:
        if row.get("subject_id", "").startswith(("sample_", "interpolation_")):  # generated from noise alone:
            output = read_image(row["path"])  # the window's size, the first training image's geometry
            first = read_image(next(iter(dataset.sources.values())))
            assert output.data.shape[:3] == first.data.shape[:3], (row, output.data.shape)
            np.testing.assert_allclose(output.affine, first.affine, atol=1e-4)
            continue
        if "fixed_id" in row:  # a registration's pair: the warped image, labels and field, on the fixed grid
            subject, paths = row["fixed_id"], [row[k] for k in ("warped_image", "warped_label", "field") if row[k]]
        else:
            subject, paths = row["subject_id"], [row["path"]]
        source = read_image(_source_of(dataset, subject))
        for path in paths:
            output = read_image(path)
            assert output.data.shape[:3] == source.data.shape[:3], (subject, path, output.data.shape, source.data.shape)
            np.testing.assert_allclose(output.affine, source.affine, atol=1e-4)


def _run_case(case: Case, tmp_path: Path, capsys, shipped: bool, drop: tuple[str, ...] = (),
              extra: tuple[str, ...] = ()) -> None:
    data, models = tmp_path / "data", tmp_path / "models"
    dataset = case.build(str(data), shipped)
    for plugin in case.plugins:
        shutil.copytree(PLUGINS / plugin, tmp_path / plugin)
    config = _fill(case.config, tmp_path, data, models, drop)
    if case.train_with == PARCELLATION_MODEL:
        train_config = _parcellation_model_config(config)
    else:
        train_config = _fill(case.train_with, tmp_path, data, models) if case.train_with else config
    infer_config = _fill(case.infer_with, tmp_path, data, models) if case.infer_with else config
    fast_train, fast_infer = ((), ()) if shipped else (case.fast_train, case.fast_infer)
    if case.evaluate_only:
        code = _run("evaluation", "-c", str(config), application=case.application)
        assert code == 0, f"evaluation ({config.name}) exit {code}: {_error(capsys)}"
        assert list(tmp_path.rglob("evaluation.csv")), "evaluation wrote no evaluation.csv"
        return

    code = _run("train", "-c", str(train_config), "--max_iter", "2", *fast_train, *extra,
                application=case.application)
    assert code == 0, f"train ({train_config.name}) exit {code}: {_error(capsys)}"
    code = _run("inference", "-c", str(infer_config), *case.always, *fast_infer, *extra,
                application=case.application)
    assert code == 0, f"inference ({infer_config.name}) exit {code}: {_error(capsys)}"
    _assert_outputs_on_input_grid(tmp_path, dataset)
    if case.evaluate:
        code = _run("evaluation", "-c", str(config), *case.always, application=case.application)
        assert code == 0, f"evaluation ({config.name}) exit {code}: {_error(capsys)}"
        assert list(tmp_path.rglob("evaluation.csv")), "evaluation wrote no evaluation.csv"


#: Configs that still stop, with voxflow's one-line error: kept out of the default run (``slow``) and
#: expected to fail (``strict``: a config that starts to run turns the test red until it is moved
#: back into the default run). None left.
OPEN: dict[str, str] = {}

#: Configs NiftyNet could not run either: voxflow stops them before any work with one line per problem
#: (``message``), and they run after the edit the README's migration section names (``fix``:
#: command-line overrides; ``drop``: keys left out of the file).
#:
#: - densevnet_config: ``num_classes = 2`` on the BRATS example labels 0-4 (its sibling
#:   default_multimodal_segmentation.ini says 5). NiftyNet trained on one-hot rows of zeros for
#:   labels 2-4 (garbage, silently); the fix is ``num_classes = 5``.
#: - segmentation_local_multi: ``training_mode_start``, ``training_values`` and ``training_types``
#:   exist in no NiftyNet release (an unmerged branch); NiftyNet's parser refused unknown keys too.
REFUSED = {
    "densevnet_config": dict(message="have 5 distinct values [0, 1, 2, 3, 4] but [SEGMENTATION] num_classes = 2",
                             fix=("--num_classes", "5"), drop=()),
    "segmentation_local_multi": dict(message="Unknown key `training_mode_start` in [TRAINING]", fix=(),
                                     drop=("training_mode_start", "training_values", "training_types")),
}

#: As-shipped runs this machine cannot hold (killed for memory, not a one-line error).
#: As-shipped runs too big for the machine: inference stops before any work with a one-line memory
#: error (it was killed by the kernel after minutes).
TOO_BIG = {"deepmedic_config": "128 windows of 195³ at once need far more memory than a 24 GB machine has"}


#: Configs run only with ``-m slow`` to keep the default suite under 20 minutes on 2 cores: the three
#: unet_2d configs (the cell-tracking and histology U-Nets: 64 to 1024 features, 75-120 s each even
#: with the smaller windows; unet_2d itself is covered by tests/networks).
HEAVY = ("unet_HeLa", "unet_U373", "unet_histology")

#: Inference-only configs whose case runs exactly the two runs of their training config's case (train
#: with the one, infer with the other): only with ``-m slow``, the pair runs once in the default suite.
SAME_RUNS = ("promise12_demo_inference_config",
             *(f"brats17_inference_whole_tumor_{o}" for o in ("axial", "coronal", "sagittal")))


def _marks(name: str) -> list:
    if name in OPEN:
        return [pytest.mark.slow, pytest.mark.xfail(strict=True, reason=OPEN[name])]
    if name in HEAVY or name in SAME_RUNS:
        return [pytest.mark.slow]
    return []


# --------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", [pytest.param(name, marks=_marks(name)) for name in CASES if name not in REFUSED])
def test_niftynet_config_trains_and_infers(name, tmp_path, capsys, monkeypatch):
    """Fast suite: as shipped, or with the documented smaller windows (``Case.fast_*``)."""
    monkeypatch.chdir(tmp_path)
    _run_case(CASES[name], tmp_path, capsys, shipped=False)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_config_niftynet_could_not_run_stops_in_one_pass_and_runs_once_fixed(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    case, refused = CASES[name], REFUSED[name]
    case.build(str(tmp_path / "data"), False)
    config = _fill(case.config, tmp_path, tmp_path / "data", tmp_path / "models")
    capsys.readouterr()
    code = _run("train", "-c", str(config), "--max_iter", "2", *case.fast_train)
    err = capsys.readouterr().err
    assert code == 2 and refused["message"] in err and "Traceback" not in err, err
    for key in refused["drop"]:  # every problem in the one run
        assert f"Unknown key `{key}`" in err
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").rglob("ckpt-*"))
    shutil.rmtree(tmp_path / "data")
    _run_case(case, tmp_path, capsys, shipped=False, drop=refused["drop"], extra=refused["fix"])


#: As-shipped runs the kernel kills for memory on a 24 GB machine, before voxflow can say so: training
#: memory is not estimated before work yet (inference memory is, see TOO_BIG). Not run.
KILLED = {"weighted_sample_regression": "highres3dnet trained on two 96³ windows per batch: killed at 24 GB"}

#: As-shipped runs that still stop (the fast variant of these runs).
SHIPPED_OPEN = {"unet_config": "a 104³ window: nonewnet takes multiples of 16 (NiftyNet's refuses it too)",
                "unet_histology": "400² windows: voxflow's unet_2d takes 188 + 16k (396, 412) so its output stays the "
                                  "exact centre; NiftyNet's resized its skip connections to fit"}


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    pytest.param(name, marks=_marks(name) or ([pytest.mark.xfail(strict=True, reason=SHIPPED_OPEN[name])]
                                              if name in SHIPPED_OPEN else []))
    for name, case in CASES.items() if case.has_fast_variant and name not in REFUSED and name not in KILLED])
def test_niftynet_config_as_shipped(name, tmp_path, capsys, monkeypatch):
    """NiftyNet's windows and batch sizes, for the configs the fast suite shrinks."""
    monkeypatch.chdir(tmp_path)
    if name in TOO_BIG:
        with pytest.raises(AssertionError, match=r"inference .* exit 2: .*needs at least .* GiB"):
            _run_case(CASES[name], tmp_path, capsys, shipped=True)
        return
    _run_case(CASES[name], tmp_path, capsys, shipped=True)
