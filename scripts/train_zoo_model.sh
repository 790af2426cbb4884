#!/usr/bin/env bash
# Rebuilds the pretrained model-zoo entry `brain_tissue_unet` from scratch:
#   1. builds 20 MNI-based demo subjects (16 training, 4 validation) into runs/zoo/data
#   2. writes the training config runs/zoo/brain_tissue_unet.ini (its full text is in this script)
#   3. trains the 3-D U-Net (skipped when the final checkpoint already exists)
#   4. infers and evaluates the validation subjects, then packs the best-validation checkpoint
#      into model_zoo/brain_tissue_unet with `net_zoo pack` (README hand-written parts are kept)
# About 10-15 minutes on an idle 2-core CPU (1000 iterations). Extra arguments go to `net_segment train`.
# Afterwards run `python scripts/measure_zoo_model.py` and put its Dice into the entry's README.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ZOO_RUN=runs/zoo
MAX_ITER="${MAX_ITER:-1000}"
mkdir -p "$ZOO_RUN"
"$VPY" scripts/build_demo_data.py --out "$ZOO_RUN/data" --subjects 20 --validation 4 --seed 0

cat > "$ZOO_RUN/brain_tissue_unet.ini" <<INI
# Training config of the model-zoo entry brain_tissue_unet (written by scripts/train_zoo_model.sh).
[T1]
path_to_search = data
filename_contains = T1
spatial_window_size = 64,64,64
interp_order = 1

[label]
path_to_search = data
filename_contains = label
spatial_window_size = 64,64,64
interp_order = 0

[SYSTEM]
model_dir = brain_tissue_unet
dataset_split_file = data/dataset_split.csv
num_threads = 2
seed = 0

[NETWORK]
name = unet
network_args = base_features=8, depth=3
batch_size = 2
window_sampling = uniform
queue_length = 36
normalisation = False
whitening = True
normalise_foreground_only = True
foreground_type = otsu_plus
volume_padding_size = 0

[TRAINING]
optimiser = adam
lr = 0.003
loss_type = DicePlusXEnt
sample_per_volume = 4
max_iter = ${MAX_ITER}
save_every_n = 100
tensorboard_every_n = 50
validation_every_n = 100
validation_max_iter = 4
max_checkpoints = 3

[INFERENCE]
border = 8,8,8
inference_iter = best
output_postfix = _seg
dataset_to_infer = validation

[EVALUATION]
evaluations = dice

[SEGMENTATION]
image = T1
label = label
num_classes = 4
output_prob = False
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
net_segment inference  -c "$ZOO_RUN/brain_tissue_unet.ini"
net_segment evaluation -c "$ZOO_RUN/brain_tissue_unet.ini"
# The entry states its input assumptions: images are reoriented to RAS and resampled to 2 mm
# on load (the training data already are), so T1 images of any orientation and spacing work.
"$VPY" -m voxflow.cli.zoo pack -c "$ZOO_RUN/brain_tissue_unet.ini" --id brain_tissue_unet \
    --zoo model_zoo --checkpoint best --force --axcodes R,A,S --pixdim 2,2,2 \
    --description "Brain tissue (CSF, grey matter, white matter) from a skull-stripped T1; 3-D U-Net"
