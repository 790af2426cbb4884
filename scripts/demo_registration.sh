#!/usr/bin/env bash
# The learned-registration demo (net_reg) on real brains, from a fresh machine:
#   1. create .venv and install voxflow (scripts/_env.sh)
#   2. build the data: 16 randomly deformed copies of the MNI ICBM152 2009a template for training;
#      Colin27 and the ICBM 2009c brain, each deformed by 3 known random diffeomorphisms, for testing
#      (scripts/build_registration_data.py)
#   3. net_reg train with configs/demo_registration.ini (unsupervised: LNCC + gradient regulariser, svf)
#   4. net_reg inference / evaluation of the held-out pairs with configs/demo_registration_test.ini
#      (the network's field refined on each pair by 20 steps), and inference of the network alone
#   5. score the fields against the true ones, next to SimpleITK's diffeomorphic demons on the same pairs
#      (scripts/registration_report.py)
#   6. atlas to subject between four real brains (configs/demo_registration_atlas.ini): brain-mask Dice,
#      HD95 and folding before and after
#   7. with MULTIMODAL=1: the multimodal variant (T2-like moving images to T1s by mutual information,
#      configs/demo_registration_multimodal*.ini; ~10 min of training), scored next to SimpleITK's
#      B-spline registration by Mattes MI (~4 min per pair: ~25 min more)
# Extra arguments are passed to `net_reg train` (e.g. --max_iter 100 for a quick look).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
RUN=runs/demo_registration
start=$(date +%s)
"$VPY" scripts/build_registration_data.py --out registration_data
rm -rf "$RUN"   # the demo owns this folder; a real run is never overwritten
net_reg train -c configs/demo_registration.ini "$@"
net_reg inference -c configs/demo_registration_test.ini    # network + 20 steps of instance optimisation
net_reg evaluation -c configs/demo_registration_test.ini
# the network's own field (one pass, no refinement), for comparison
net_reg inference -c configs/demo_registration_test.ini --instance_iterations 0 --save_seg_dir "$RUN/test_output_network"
"$VPY" scripts/registration_report.py --data registration_data/test \
  --outputs "network + refinement=$RUN/test_output" --outputs "network alone=$RUN/test_output_network" \
  --json "$RUN/report.json"
# atlas to subject: every ordered pair of four real brains on their own grids (plausibility: masks, folding)
net_reg inference -c configs/demo_registration_atlas.ini
net_reg evaluation -c configs/demo_registration_atlas.ini
if [[ "${MULTIMODAL:-0}" == 1 ]]; then
  MM=runs/demo_registration_multimodal
  rm -rf "$MM"
  net_reg train -c configs/demo_registration_multimodal.ini "$@"
  net_reg inference -c configs/demo_registration_multimodal_test.ini
  net_reg inference -c configs/demo_registration_multimodal_test.ini --instance_iterations 0 \
    --save_seg_dir "$MM/test_output_network"
  "$VPY" scripts/registration_report.py --data registration_data/test --moving T2like \
    --outputs "network + refinement=$MM/test_output" --outputs "network alone=$MM/test_output_network" \
    --json "$MM/report.json"
fi
echo "demo finished in $(( $(date +%s) - start )) s"
