#!/usr/bin/env bash
# The generation demos (net_autoencoder, net_gan) on real brains, from a fresh machine:
#   1. create .venv and install voxflow (scripts/_env.sh)
#   2. build the data (scripts/build_generation_data.py, ~1 min): 48 randomly deformed copies of the
#      MNI ICBM152 2009a brain at 4 mm, 2000 axial slices of them, 3000 oblique reslices of the 2009a
#      brain with each pixel's world coordinates; Colin27, the FSL MNI152 and the ICBM 2009c brains and
#      300 poses in held-out pitch bands for testing
#   3. VAE (configs/demo_vae.ini): train, reconstruct the three held-out brains (next to PCA), encode,
#      sample, and interpolate between the codes of Colin27 and the ICBM 2009c brain
#   4. slice simulator (configs/demo_slice_simulator.ini): a conditional GAN from pixel coordinates to
#      the slice; scored on held-out poses next to the nearest training pose's slice
#   5. unconditional GAN of slices (configs/demo_gan.ini), scored in the feature space of a 2-D VAE
#      voxflow trains on the same slices (configs/demo_slice_encoder.ini)
# Tables: scripts/generative_report.py; JSON beside each run in runs/.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
DATA=generation_data
start=$(date +%s)
"$VPY" scripts/build_generation_data.py --out "$DATA"

# ---- VAE of whole brains
RUN=runs/demo_vae
rm -rf "$RUN"   # the demo owns this folder
net_autoencoder train -c configs/demo_vae.ini
TEST=(--T1.path_to_search "$DATA/vae/test")
net_autoencoder inference -c configs/demo_vae.ini "${TEST[@]}"
net_autoencoder evaluation -c configs/demo_vae.ini "${TEST[@]}"
net_autoencoder inference -c configs/demo_vae.ini "${TEST[@]}" --inference_type encode --save_seg_dir "$RUN/codes"
net_autoencoder inference -c configs/demo_vae.ini --inference_type sample --num_samples 8 --save_seg_dir "$RUN/samples"
net_autoencoder inference -c configs/demo_vae.ini --inference_type linear_interpolation --save_seg_dir "$RUN/interpolation"
echo "== VAE: held-out brains, reconstruction on the [0, 1] scale"
"$VPY" scripts/generative_report.py vae --train "$DATA/vae/train" --test "$DATA/vae/test" \
  --outputs "$RUN/reconstructions" --model "$RUN" --json "$RUN/report.json"

# ---- freehand slice simulator (conditional GAN)
RUN=runs/demo_slice_simulator
rm -rf "$RUN"
net_gan train -c configs/demo_slice_simulator.ini
HELD_OUT=()
for section in slice coordX coordY coordZ; do HELD_OUT+=(--"$section".path_to_search "$DATA/simulator/test"); done
net_gan inference -c configs/demo_slice_simulator.ini "${HELD_OUT[@]}"
net_gan evaluation -c configs/demo_slice_simulator.ini "${HELD_OUT[@]}"
echo "== slice simulator: held-out poses"
"$VPY" scripts/generative_report.py simulator --data "$DATA/simulator" --outputs "$RUN/test_output" \
  --model "$RUN" --json "$RUN/report.json" | tail -2

# ---- unconditional GAN of slices, scored by voxflow's own encoder
RUN=runs/demo_gan
ENC=runs/demo_slice_encoder
rm -rf "$RUN" "$ENC"
net_gan train -c configs/demo_gan.ini
net_gan inference -c configs/demo_gan.ini --num_samples 300 --n_interpolations 10
net_autoencoder train -c configs/demo_slice_encoder.ini
net_autoencoder inference -c configs/demo_slice_encoder.ini --save_seg_dir "$ENC/train_codes"
net_autoencoder inference -c configs/demo_slice_encoder.ini --slice.path_to_search "$DATA/slices/test" \
  --save_seg_dir "$ENC/test_codes"
net_autoencoder inference -c configs/demo_slice_encoder.ini --slice.path_to_search "$RUN/samples" \
  --slice.filename_contains sample_ --save_seg_dir "$ENC/generated_codes"
echo "== GAN: generated slices vs held-out real slices (Colin27, FSL MNI152)"
"$VPY" scripts/generative_report.py gan --generated "$ENC/generated_codes/codes_generated.csv" \
  --real "$ENC/test_codes/codes_generated.csv" --train "$ENC/train_codes/codes_generated.csv" \
  --generated-images "$RUN/samples" --real-images "$DATA/slices/test" --json "$RUN/report.json"
echo "demo finished in $(( $(date +%s) - start )) s"
