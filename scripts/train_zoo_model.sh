#!/usr/bin/env bash
# Rebuilds the pretrained model-zoo entry `brain_tissue_unet` from scratch:
#   1. builds the real-anatomy tissue data into runs/zoo/data (scripts/build_tissue_data.py: the ICBM
#      2009a brain and deformed, re-contrasted copies of it, each labelled by N4 + Atropos; the held-out
#      real brains with their classical references; needs `pip install antspyx`, about 10 minutes)
#   2. writes the training config runs/zoo/brain_tissue_unet.ini (its full text is in this script)
#   3. trains the 3-D U-Net (skipped when the final checkpoint already exists; resumed when stopped)
#   4. packs the final checkpoint into model_zoo/brain_tissue_unet with `net_zoo pack`
#      (README hand-written parts are kept)
# Extra arguments go to `net_segment train`. Afterwards run
#     python scripts/measure_zoo_model.py --data runs/zoo/data
# and put its figures into the entry's README.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ZOO_RUN=runs/zoo
MAX_ITER="${MAX_ITER:-2000}"
mkdir -p "$ZOO_RUN"
"$VPY" scripts/build_tissue_data.py --out "$ZOO_RUN/data" --subjects 24 --validation 4 --seed 0 > /dev/null

cat > "$ZOO_RUN/brain_tissue_unet.ini" <<INI
# Training config of the model-zoo entry brain_tissue_unet (written by scripts/train_zoo_model.sh).
# Images are 1 mm skull-stripped T1s on their own grids; every one is reoriented to RAS and
# resampled to 2 mm on load, as users' images are at inference.
[T1]
path_to_search = data/train
filename_contains = T1
spatial_window_size = 64,64,64
pixdim = 2,2,2
axcodes = R,A,S
interp_order = 1

[label]
path_to_search = data/train
filename_contains = label
spatial_window_size = 64,64,64
pixdim = 2,2,2
axcodes = R,A,S
interp_order = 0

[SYSTEM]
model_dir = brain_tissue_unet
dataset_split_file = data/train/dataset_split.csv
num_threads = 2
seed = 0

[NETWORK]
name = unet
network_args = base_features=${BASE_FEATURES:-12}, depth=3
batch_size = 2
window_sampling = uniform
queue_length = 48
# Histogram standardisation (Nyul; landmarks learnt from the training images' foreground), then
# whitening: any monotonic change of contrast between scanners or templates is mapped away before
# the network sees the image (z-scores alone left the GM/WM boundary to each image's contrast).
normalisation = True
histogram_ref_file = brain_tissue_unet/histogram_ref_file.json
norm_type = percentile
cutoff = 0.01, 0.99
whitening = True
normalise_foreground_only = True
foreground_type = otsu_plus
volume_padding_size = 8
# The 2 mm grid lies on world multiples of 2 mm: a cropped or shifted input gets the same voxels.
pixdim_grid = world

[TRAINING]
optimiser = adam
lr = 0.002
loss_type = DicePlusXEnt
sample_per_volume = 4
max_iter = ${MAX_ITER}
save_every_n = 250
tensorboard_every_n = 50
validation_every_n = 250
validation_max_iter = 4
max_checkpoints = 3

[AUGMENTATION]
# Sub-voxel shifts and small turns of the 2 mm grid, left-right flips, blur (thicker slices).
random_flip = axes=(0,), flip_probability=0.5
random_affine = degrees=8, scales=(0.93, 1.07), translation=2, label_interpolation=linear, num_classes=4, p=0.6
random_blur = std=(0, 1.2), p=0.25

[INFERENCE]
# The whole 2 mm volume in one window (the U-Net is fully convolutional): no window overlaps to
# compute twice, ~2 s less per brain on 2 cores than 64^3 windows.
spatial_window_size = 0,0,0
border = 8,8,8
inference_iter = -1
output_postfix = _seg
# Class probabilities, not labels, are resampled to the input's grid; then the argmax.
output_interp_order = 1
dataset_to_infer = validation

[EVALUATION]
evaluations = dice

[SEGMENTATION]
image = T1
label = label
num_classes = 4
output_prob = False
# Probabilities resampled to a 1 mm input spill past the brain edge: outside the input's non-zero
# region (a skull-stripped brain, zero-valued ventricles inside) is background.
postprocessing = background_outside_input
# Six EM iterations on each image's own intensities, the network's probabilities as priors: the
# GM/WM/CSF boundaries follow the image's histogram, as the classical reference's do. The image is
# first divided by its N4 bias field (a template's or coil's slowly varying intensity otherwise
# moves a tissue across the boundaries); one pooled variance puts each boundary between the class
# means (as k-means does); the priors count half (prior weight 0.5, measured on held-out brains).
refine_iterations = 6
refine_bias_field = True
refine_variances = tied
refine_prior_weight = 0.5
INI

start=$(date +%s)
if [ -d "$ZOO_RUN/brain_tissue_unet/models/ckpt-${MAX_ITER}" ]; then
  echo "[train_zoo_model] $ZOO_RUN/brain_tissue_unet already trained to ${MAX_ITER} iterations"
elif [ -d "$ZOO_RUN/brain_tissue_unet/models" ]; then
  net_segment train -c "$ZOO_RUN/brain_tissue_unet.ini" --starting_iter -1 "$@"   # resume
else
  net_segment train -c "$ZOO_RUN/brain_tissue_unet.ini" "$@"
fi
echo "[train_zoo_model] training took $(( $(date +%s) - start )) s"
"$VPY" -m voxflow.cli.zoo pack -c "$ZOO_RUN/brain_tissue_unet.ini" --id brain_tissue_unet \
    --zoo model_zoo --checkpoint "$MAX_ITER" --force --axcodes R,A,S --pixdim 2,2,2 \
    --description "Brain tissue (CSF, grey matter, white matter) from a skull-stripped T1; 3-D U-Net"
