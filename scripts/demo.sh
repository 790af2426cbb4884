#!/usr/bin/env bash
# The whole voxflow workflow on real data, from a fresh machine:
#   1. create .venv and install voxflow (scripts/_env.sh)
#   2. build the demo dataset from the MNI ICBM152 2009a template shipped in the nilearn wheel
#   3. net_segment train / inference / evaluation with configs/demo_brain_tissue.ini
#   4. print the Dice per tissue class on the held-out validation subjects
# Extra arguments are passed to `net_segment train` (e.g. --max_iter 50 for a quick look).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
CONFIG=configs/demo_brain_tissue.ini
start=$(date +%s)
"$VPY" scripts/build_demo_data.py --out demo_data
rm -rf runs/demo_brain_tissue   # the demo owns this folder; a real run is never overwritten
net_segment train -c "$CONFIG" "$@"
net_segment inference -c "$CONFIG"
net_segment evaluation -c "$CONFIG"
echo "demo finished in $(( $(date +%s) - start )) s (classes: 1 CSF, 2 grey matter, 3 white matter)"
