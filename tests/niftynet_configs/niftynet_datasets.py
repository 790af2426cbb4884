"""Tiny synthetic stand-ins for the data NiftyNet's example configs were written for.

Each builder writes, under a root folder, files of the *kind* one group of configs expects — the
same folder layout, file-name tokens, formats, modalities and label values — with random but
structured content: nested blobs (tumour-like), Voronoi parcellations (brain-like), cells on a
plane. Volumes are a few tens of voxels per axis unless a config's windows need more.

Every builder returns a :class:`Dataset`: the source image of each subject (the first image
section's file, whose grid inference outputs must have) keyed by the subject id NiftyNet derives
from its file name.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field

import nibabel as nib
import numpy as np
import SimpleITK as sitk
from scipy import ndimage

BRATS_AFFINE = np.diag([-1.0, -1.0, 1.0, 1.0])  # BraTS volumes are stored LPS+ at 1 mm


@dataclass
class Dataset:
    """Where one synthetic dataset lives and which files inference should mirror."""

    root: str
    sources: dict[str, str] = field(default_factory=dict)  # subject id -> first image file

    def add(self, subject_id: str, path: str) -> None:
        self.sources[subject_id] = path


# ----------------------------------------------------------------------------------- content
def _grid(shape):
    return np.stack(np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij"), axis=-1)


def _ellipsoid_radius(shape, rng, scale=0.32, jitter=0.08):
    """Normalised radius of a random ellipsoid centred near the middle of ``shape`` (1 on its surface)."""
    shape = np.asarray(shape, dtype=np.float32)
    centre = shape / 2 + rng.uniform(-jitter, jitter, size=len(shape)) * shape
    radii = np.maximum(shape * scale * rng.uniform(0.85, 1.15, size=len(shape)), 1.0)
    return np.sqrt((((_grid(tuple(int(s) for s in shape)) - centre) / radii) ** 2).sum(-1))


def nested_blobs(shape, rng, values):
    """Concentric shells: ``values[0]`` outside, ``values[-1]`` in the core (a tumour-like label map)."""
    radius = _ellipsoid_radius(shape, rng)
    label = np.full(shape, values[0], dtype=np.int16)
    cuts = np.linspace(1.0, 0.35, num=len(values) - 1)
    for value, cut in zip(values[1:], cuts):
        label[radius < cut] = value
    return label


def parcellation(shape, rng, values):
    """A brain-like mask split into Voronoi parcels, one per value of ``values[1:]`` (each present).

    ``values[0]`` is the background. The parcels' seeds are distinct voxels inside the mask, so
    every label appears in every subject.
    """
    radius = _ellipsoid_radius(shape, rng, scale=0.45, jitter=0.03)
    mask = radius < 1.0
    inside = np.argwhere(mask)
    seeds = inside[rng.choice(len(inside), size=len(values) - 1, replace=False)]
    owner = np.zeros(shape, dtype=np.int32)
    owner[tuple(seeds.T)] = np.arange(1, len(values))
    _, nearest = ndimage.distance_transform_edt(owner == 0, return_indices=True)
    owner = owner[tuple(nearest)]
    label = np.asarray(values, dtype=np.int16)[np.where(mask, owner, 0)]
    return label


def intensities(label, rng, noise=0.05, smooth=1.0):
    """An image whose mean depends on the label (one random level per value; background dark), with
    a smooth linear bias field and noise: structured enough to learn something in two iterations."""
    values, index = np.unique(label, return_inverse=True)
    levels = rng.uniform(0.2, 1.0, size=len(values))
    if values[0] == 0:
        levels[0] = 0.02
    image = levels[index.reshape(label.shape)].astype(np.float32)
    bias = np.ones(label.shape, dtype=np.float32)
    for axis, size in enumerate(label.shape):
        ramp = np.linspace(-0.1, 0.1, size, dtype=np.float32) * rng.uniform(-1.0, 1.0)
        bias += ramp.reshape([-1 if a == axis else 1 for a in range(label.ndim)])
    image = ndimage.gaussian_filter(image, sigma=smooth) * bias
    image += rng.normal(0, noise, size=label.shape).astype(np.float32)
    return image * 1000.0


# ----------------------------------------------------------------------------------- writers
def _nifti(path, data, affine):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    nib.save(nib.Nifti1Image(data, affine), path)
    return path


def _sitk(path, array_zyx_or_yx, spacing, vector=False):
    """Write with SimpleITK; ``array`` is in SimpleITK's (z,) y, x order."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = sitk.GetImageFromArray(array_zyx_or_yx, isVector=vector)
    image.SetSpacing(tuple(float(s) for s in spacing))
    sitk.WriteImage(image, path, False)
    return path


def _affine(spacing, axcodes_flip=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0)):
    affine = np.diag([*(f * s for f, s in zip(axcodes_flip, spacing)), 1.0])
    affine[:3, 3] = origin
    return affine


# ----------------------------------------------------------------------------------- datasets
# NiftyNet's GIF parcellation has 160 classes with label values that are not contiguous: pick 159
# foreground values from 1..250 (fixed, shared by every subject), so label normalisation has work.
PARCELLATION_VALUES = (0, 1, *sorted(np.random.default_rng(160).choice(np.arange(2, 251), 158, replace=False).tolist()))


def monomodal_parcellation(root, shape=(20, 22, 18), subjects=3, seed=0):
    """``monomodal_parcellation/<id>_T1.nii.gz`` and ``<id>_Label.nii.gz``: a T1-like image and a
    160-class parcellation with non-contiguous label values, stored LAS+ with 1.2 mm slices."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    folder = os.path.join(root, "monomodal_parcellation")
    affine = _affine((1.0, 1.0, 1.2), axcodes_flip=(-1.0, 1.0, 1.0), origin=(30.0, -20.0, -10.0))
    for i in range(subjects):
        sid = f"{1000 + i}"
        label = parcellation(shape, rng, PARCELLATION_VALUES)
        data.add(sid, _nifti(os.path.join(folder, f"{sid}_T1.nii.gz"), intensities(label, rng), affine))
        _nifti(os.path.join(folder, f"{sid}_Label.nii.gz"), label.astype(np.int16), affine)
    return data


BRATS_MODALITIES = ("T1", "T1c", "T2", "Flair")


def _brats_subject(folder, sid, shape, rng, values, with_label=True):
    """Four co-registered modalities (each its own contrast of the same tumour) and the label."""
    label = nested_blobs(shape, rng, values)
    for modality in BRATS_MODALITIES:
        path = _nifti(os.path.join(folder, f"{sid}_{modality}.nii.gz"), intensities(label, rng), BRATS_AFFINE)
        if modality == "Flair":
            flair = path
    if with_label:
        _nifti(os.path.join(folder, f"{sid}_Label.nii.gz"), label.astype(np.uint8), BRATS_AFFINE)
    return flair


def multimodal_brats(root, shape=(22, 22, 22), subjects=3, seed=1):
    """``multimodal_BRATS/<id>_{T1,T1c,T2,Flair,Label}.nii.gz`` with BraTS 2015 labels 0-4 (5 classes)."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    folder = os.path.join(root, "multimodal_BRATS")
    for i in range(subjects):
        sid = f"BRATS_HG{i + 1:04d}_"
        flair = _brats_subject(folder, sid.rstrip("_"), shape, rng, (0, 2, 3, 1, 4))
        t1 = flair.replace("_Flair", "_T1")
        data.add(sid, t1)
    return data


def brats17(root, shape=(120, 120, 120), seed=2):
    """The BRATS17 demo's layout: ``BRATS/{train,test}/{HGG,LGG}/<id>_{Flair,T1,T1c,T2}.nii.gz``
    (training subjects with ``_Label``; BraTS 2017 labels 0, 1, 2, 4) and the demo's label mapping
    file ``BRATS_application/label_mapping_whole_tumor.txt`` in NiftyNet's histogram-file format
    (every tumour label to 1: whole tumour)."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    for phase, grade, index in (("train", "HGG", 1), ("train", "HGG", 2), ("train", "LGG", 1), ("train", "LGG", 2),
                                ("test", "HGG", 11), ("test", "LGG", 11)):
        folder = os.path.join(root, "BRATS", phase, grade)
        sid = f"{grade}{index:02d}"
        flair = _brats_subject(folder, sid, shape, rng, (0, 2, 1, 4), with_label=phase == "train")
        if phase == "test":
            data.add(f"{sid}_", flair)
    mapping = os.path.join(root, "BRATS_application", "label_mapping_whole_tumor.txt")
    os.makedirs(os.path.dirname(mapping), exist_ok=True)
    with open(mapping, "w", encoding="utf-8") as handle:
        handle.write("labellabelfrom 0 1 2 4\nlabellabelto 0 1 1 1\n")
    return data


def decathlon_hippocampus(root, shape=(34, 48, 36), subjects=4, seed=3):
    """``decathlon_hippocampus/img_hippocampus_NNN.nii.gz`` and ``label_hippocampus_NNN.nii.gz``
    (labels 0, 1 anterior, 2 posterior), plus the macOS ``._`` resource-fork file the Decathlon
    archive ships, which the config's ``filename_not_contains = ._`` must skip."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    folder = os.path.join(root, "decathlon_hippocampus")
    affine = _affine((1.0, 1.0, 1.0))
    for i in range(subjects):
        sid = f"{i * 2 + 1:03d}"
        label = nested_blobs(shape, rng, (0, 1, 2))
        data.add(sid, _nifti(os.path.join(folder, f"img_hippocampus_{sid}.nii.gz"), intensities(label, rng), affine))
        _nifti(os.path.join(folder, f"label_hippocampus_{sid}.nii.gz"), label.astype(np.uint8), affine)
    with open(os.path.join(folder, "._img_hippocampus_001.nii.gz"), "wb") as handle:
        handle.write(b"\x00\x05\x16\x07" + bytes(60))  # AppleDouble header, not an image
    return data


def promise12(root, shape=(72, 72, 12), seed=4):
    """``PROMISE12/TrainingData_Part{1,2,3}/CaseNN.mhd`` (+ ``.raw``) and ``CaseNN_segmentation.mhd``:
    prostate-like MR at 0.6 × 0.6 × 3.6 mm, binary labels; cases 2x are the inference config's."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    cases = {1: ("00", "01", "20"), 2: ("02", "03", "21"), 3: ("04",)}
    for part, numbers in cases.items():
        folder = os.path.join(root, "PROMISE12", f"TrainingData_Part{part}")
        for number in numbers:
            label = nested_blobs(shape, rng, (0, 1))
            image = intensities(label, rng)
            path = _sitk(os.path.join(folder, f"Case{number}.mhd"), image.transpose(2, 1, 0), (0.6, 0.6, 3.6))
            _sitk(os.path.join(folder, f"Case{number}_segmentation.mhd"), label.astype(np.uint8).transpose(2, 1, 0),
                  (0.6, 0.6, 3.6))
            data.add(number, path)
            if number.startswith("2"):  # the inference config's filename_contains `Case2` leaves the id `0`, `1`
                data.add(number[1:], path)
    return data


def oasis_parcellation(root, shape=(40, 44, 36), subjects=4, seed=5):
    """The brain-parcellation demo's data: ``brain_parcellation/OASIS/OAS1_NNNN_MR.nii.gz`` T1
    images (RAS+, 1 mm) and ``OAS1_NNNN_MR_LABEL.nii.gz`` parcellations with labels 0..159 (the
    model's classes), and ``databrain_std_hist_models_otsu.txt``: the model's histogram landmarks
    in NiftyNet's format (one line ``Modality0 <13 landmarks>``, cut-offs 0.001/0.999)."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    folder = os.path.join(root, "brain_parcellation", "OASIS")
    affine = _affine((1.0, 1.0, 1.0), origin=(-20.0, -22.0, -18.0))
    images = []
    for i in range(subjects):
        sid = f"OAS1_{i + 1:04d}_MR"
        label = parcellation(shape, rng, tuple(range(160)))
        image = intensities(label, rng)
        images.append(image)
        data.add(f"OAS1_{i + 1:04d}_", _nifti(os.path.join(folder, f"{sid}.nii.gz"), image, affine))
        _nifti(os.path.join(folder, f"{sid}_LABEL.nii.gz"), label.astype(np.int16), affine)
    landmarks = _standard_landmarks(images, cutoff=(0.001, 0.999))
    with open(os.path.join(root, "brain_parcellation", "databrain_std_hist_models_otsu.txt"), "w",
              encoding="utf-8") as handle:
        handle.write("Modality0 " + " ".join(f"{v:.6g}" for v in landmarks) + "\n")
    return data


def _standard_landmarks(images, cutoff):
    """Nyúl's standard scale as NiftyNet stores it: 13 landmarks per image (the two cut-offs and the
    10, 20, 25, 30, 40, 50, 60, 70, 75, 80, 90 % points) inside its above-mean foreground, mapped
    linearly so the cut-offs go to 0 and 100, averaged over the images."""
    fractions = [cutoff[0], 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, cutoff[1]]
    mapped = []
    for image in images:
        values = np.percentile(image[image > image.mean()], 100 * np.asarray(fractions))
        mapped.append((values - values[0]) / (values[-1] - values[0]) * 100.0)
    return np.mean(mapped, axis=0)


def cell_images(root, dataset, shape=(400, 400), subjects=4, seed=6):
    """The U-Net demo's ``u-net/<dataset>/niftynet_data``: 2-D TIFFs ``img_0SS_CC.tif`` (grey
    microscopy), ``seg_0SS_CC.tif`` (cell instances), ``bin_seg_0SS_CC.tif`` (0/1) and
    ``weight_0SS_CC.tif`` (float: higher between touching cells), as the demo's scripts write them."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    folder = os.path.join(root, "u-net", dataset, "niftynet_data")
    for i in range(subjects):
        sid = f"0{i // 2 + 1}{i % 2 + 1}_0{i + 1}"
        cells = np.zeros(shape, dtype=np.uint16)
        grid = _grid(shape)
        for cell in range(1, 9):
            centre = rng.uniform(0.15, 0.85, size=2) * shape
            radius = rng.uniform(0.06, 0.12) * min(shape)
            cells[((grid - centre) ** 2).sum(-1) < radius ** 2] = cell
        binary = (cells > 0).astype(np.uint8)
        distance = ndimage.distance_transform_edt(binary == 0)
        weight = (1.0 + 10.0 * np.exp(-(distance ** 2) / (2 * 5.0 ** 2)) * (binary == 0)).astype(np.float32)
        image = np.clip(intensities(binary, rng, smooth=2.0) / 1000.0 * 255, 0, 255).astype(np.uint8)
        data.add(sid, _sitk(os.path.join(folder, f"img_{sid}.tif"), image, (1.0, 1.0)))
        _sitk(os.path.join(folder, f"seg_{sid}.tif"), cells, (1.0, 1.0))
        _sitk(os.path.join(folder, f"bin_seg_{sid}.tif"), binary, (1.0, 1.0))
        _sitk(os.path.join(folder, f"weight_{sid}.tif"), weight, (1.0, 1.0))
    return data


def histology(root, shape=(240, 260), subjects=6, seed=7):
    """The U-Net histology demo's ``unet_histology/input_NN.png`` (RGB, H&E-like glands on stroma)
    and ``input_NN_labels.png`` (0/1 gland masks)."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    folder = os.path.join(root, "unet_histology")
    grid = _grid(shape)
    for i in range(subjects):
        sid = f"{i + 1:02d}"
        glands = np.zeros(shape, dtype=np.uint8)
        for _ in range(5):
            centre = rng.uniform(0.1, 0.9, size=2) * shape
            radii = rng.uniform(0.06, 0.14, size=2) * min(shape)
            glands[((((grid - centre) / radii) ** 2).sum(-1)) < 1.0] = 1
        base = intensities(glands, rng, smooth=1.5) / 1000.0
        stain = np.stack([0.85 - 0.3 * base, 0.55 - 0.4 * base, 0.75 - 0.2 * base], axis=-1)
        rgb = np.clip(stain * 255, 0, 255).astype(np.uint8)
        data.add(sid, _sitk(os.path.join(folder, f"input_{sid}.png"), rgb, (1.0, 1.0), vector=True))
        _sitk(os.path.join(folder, f"input_{sid}_labels.png"), glands, (1.0, 1.0))
    return data


def csv_sampler_data(root, shape=(68, 108, 68), subjects=4, seed=8):
    """The csv-sampler config's ``csv_data/MahalT1Mask_<id>.nii.gz`` and ``BinLabel_<id>.nii.gz``
    (RAS+, 1 mm; binary lesion-like labels) and ``PlacesLabels.csv``: no header, rows
    ``subject_id,x,y,z`` of window centres in voxel coordinates of the original images, two per
    subject (NiftyNet's "multi" rows); and the histogram file the config shares with
    ``default_segmentation.ini``, holding that config's 160-value label mapping."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    folder = os.path.join(root, "csv_data")
    affine = _affine((1.0, 1.0, 1.0))
    rows = []
    for i in range(subjects):
        sid = f"{1001 + i}"
        label = nested_blobs(shape, rng, (0, 1))
        data.add(sid, _nifti(os.path.join(folder, f"MahalT1Mask_{sid}.nii.gz"), intensities(label, rng), affine))
        _nifti(os.path.join(folder, f"BinLabel_{sid}.nii.gz"), label.astype(np.uint8), affine)
        # lesion voxels of the middle eighth: the 35³ windows (2 mm along A) and their augmentation margin fit around them
        inside = np.argwhere(label > 0)
        inside = inside[np.all(np.abs(inside - np.array(shape) / 2) < np.array(shape) / 16, axis=1)]
        for centre in inside[rng.choice(len(inside), size=2, replace=False)]:
            rows.append([sid, *centre.tolist()])
    with open(os.path.join(folder, "PlacesLabels.csv"), "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    # The config shares default_segmentation.ini's histogram_ref_file (num_classes = 160): what NiftyNet
    # left there after training that config, its [label] mapping of the parcellation's 160 values.
    mapping = os.path.join(root, "monomodal_parcellation", "standardisation_models.txt")
    os.makedirs(os.path.dirname(mapping), exist_ok=True)
    with open(mapping, "w", encoding="utf-8") as handle:
        handle.write("label_label-from " + " ".join(f"{v}.0" for v in PARCELLATION_VALUES) + "\n"
                     "label_label-to " + " ".join(str(k) for k in range(len(PARCELLATION_VALUES))) + "\n")
    return data


def evaluation_pairs(root, shape=(24, 26, 22), subjects=3, seed=9, folder_name="NiftyNetTestEval"):
    """The evaluation config's ``NiftyNetTestEval``: segmentations to evaluate,
    ``Correct_WS3WT3WC1MergedSPCP_<id>_corr_corrIT.nii.gz``, and reference labels
    ``CHJP_<id>_vote.nii.gz`` (BraTS labels 0-4 on the same grid; the segmentation is the reference
    with a shifted, eroded tumour)."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    folder = os.path.join(root, folder_name)
    for i in range(subjects):
        sid = f"{i + 1:02d}"
        reference = nested_blobs(shape, rng, (0, 2, 3, 1, 4)).astype(np.uint8)
        segmentation = np.roll(reference, shift=1, axis=0)
        segmentation[ndimage.binary_erosion(segmentation > 0) != (segmentation > 0)] = 0
        data.add(sid, _nifti(os.path.join(folder, f"CHJP_{sid}_vote.nii.gz"), reference, BRATS_AFFINE))
        name = f"Correct_WS3WT3WC1MergedSPCP_{sid}_corr_corrIT.nii.gz"
        _nifti(os.path.join(folder, name), segmentation, BRATS_AFFINE)
    return data


# ---------------------------------------------------------------------------- regression configs
def monomodal_regression(root, shape=(24, 26, 22), subjects=3, seed=10):
    """The monomodal regression config's ``monomodal_parcellation/patNN.nii.gz``: T1-like images
    that are both the input and the target (``filename_contains = pat`` for both: NiftyNet's smoke
    test regresses an image from itself)."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    affine = _affine((1.0, 1.0, 1.2), axcodes_flip=(-1.0, 1.0, 1.0))
    for i in range(subjects):
        sid = f"{i + 1:02d}"
        label = parcellation(shape, rng, PARCELLATION_VALUES[:6])
        data.add(sid, _nifti(os.path.join(root, "monomodal_parcellation", f"pat{sid}.nii.gz"),
                             intensities(label, rng), affine))
    return data


def weighted_regression(root, shape=(24, 26, 22), subjects=3, seed=11):
    """The weighted-sampling regression config's folders: ``input/subNN.nii.gz`` (its target),
    ``output/subNN_003.nii.gz`` (its network input: NiftyNet's config swaps the names),
    ``weights/subNN.nii.gz`` (voxel weights, e.g. an error map's residuals) and
    ``sampler_frequency/subNN.nii.gz`` (window-sampling weights)."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    affine = _affine((1.0, 1.0, 1.0))
    for i in range(subjects):
        sid = f"sub{i + 1:02d}"
        label = nested_blobs(shape, rng, (0, 1, 2))
        target = intensities(label, rng)
        source = (0.5 * target + rng.normal(0.0, 5.0, shape)).astype(np.float32)
        _nifti(os.path.join(root, "input", f"{sid}.nii.gz"), target, affine)
        data.add(sid, _nifti(os.path.join(root, "output", f"{sid}_003.nii.gz"), source, affine))
        _nifti(os.path.join(root, "weights", f"{sid}.nii.gz"), (1.0 + (label > 0)).astype(np.float32), affine)
        _nifti(os.path.join(root, "sampler_frequency", f"{sid}.nii.gz"), (label > 0).astype(np.float32), affine)
    return data


def regression_evaluation_pairs(root):
    """The regression evaluation config's ``NiftyNetEvalTest``: the segmentation evaluation's pairs,
    compared as continuous images (``inferred = INPUTIMAGE``, ``output = REGRESSTARGET``)."""
    return evaluation_pairs(root, folder_name="NiftyNetEvalTest")



def label_driven_registration(root, subjects=3, seed=12):
    """The label-driven registration config's four folders: ``us_images/caseNNNNNN.nii.gz`` and
    ``us_labels/caseNNNNNN_bin000.nii.gz`` (the fixed side: an ultrasound-like volume at 0.8 mm) and
    ``mr_images/``, ``mr_labels/`` (the moving side: an MR-like volume at 1 mm on its own grid,
    shifted, with the same gland a few mm away). Labels are binary (NiftyNet's ``_bin000`` files)."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    sides = {"us": ((36, 40, 36), 0.8, (-14.0, -16.0, -14.0)), "mr": ((30, 34, 30), 1.0, (-12.0, -15.0, -16.0))}
    for i in range(subjects):
        sid = f"case{i:06d}"
        for side, (shape, spacing, origin) in sides.items():
            label = nested_blobs(shape, rng, (0, 1))
            image = intensities(label, rng, noise=0.2 if side == "us" else 0.05)
            path = _nifti(os.path.join(root, f"{side}_images", f"{sid}.nii.gz"), image,
                          _affine((spacing,) * 3, origin=origin))
            _nifti(os.path.join(root, f"{side}_labels", f"{sid}_bin000.nii.gz"), label.astype(np.uint8),
                   _affine((spacing,) * 3, origin=origin))
            if side == "us":
                data.add(sid, path)
    return data


def autoencoder_volumes(root, shape=(24, 24, 24), subjects=4, seed=13):
    """The VAE demo's ``autoencoder_test_data``: "heavily downsampled" T1 volumes (``<id>_T1.nii.gz``)
    of the demo's window size, brain-like parcellations with tissue intensities."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    for i in range(subjects):
        label = parcellation(shape, rng, (0, 1, 2, 3))
        path = _nifti(os.path.join(root, "autoencoder_test_data", f"IXI{i:03d}_T1.nii.gz"),
                      intensities(label, rng), _affine((2.0, 2.0, 2.0)))
        data.add(f"IXI{i:03d}", path)
    return data


def ultrasound_frames(root, shape=(128, 128), subjects=4, seed=14):
    """The ultrasound simulator's ``gan_test_data``: per tracked frame an image (``frameNNNN_img``) and
    the world coordinates of its pixels (``frameNNNN_coordX/Y/Z``, mm), 2-D NIfTI, as NiftyNet's demo
    data were laid out: a plane at a random pose through a smooth synthetic phantom."""
    rng = np.random.default_rng(seed)
    data = Dataset(root)
    rows, cols = np.meshgrid(np.arange(shape[0]) * 0.5, np.arange(shape[1]) * 0.5, indexing="ij")
    for i in range(subjects):
        angle, offset = rng.uniform(-0.5, 0.5), rng.uniform(-10.0, 10.0, 3)
        coords = {"coordX": rows * np.cos(angle) + offset[0], "coordY": cols + offset[1],
                  "coordZ": rows * np.sin(angle) + offset[2]}
        image = np.sin(coords["coordX"] / 6.0) * np.cos(coords["coordZ"] / 9.0) + rng.normal(0, 0.1, shape)
        folder = os.path.join(root, "gan_test_data")
        path = _nifti(os.path.join(folder, f"frame{i:04d}_img.nii.gz"), image.astype(np.float32)[..., None],
                      _affine((0.5, 0.5, 1.0)))
        for name, values in coords.items():
            _nifti(os.path.join(folder, f"frame{i:04d}_{name}.nii.gz"), values.astype(np.float32)[..., None],
                   _affine((0.5, 0.5, 1.0)))
        data.add(f"frame{i:04d}", path)
    return data
