#!/usr/bin/env bash
# The whole voxflow workflow on real data, from a fresh machine:
#   1. create .venv and install voxflow (scripts/_env.sh)
#   2. build the demo dataset from the MNI ICBM152 2009a template shipped in the nilearn wheel
#      (8 training subjects, 1 validation subject, 3 test subjects)
#   3. net_segment plan: read the training subjects and write the planned recipe
#      (configs/demo_brain_tissue_planned.ini, from configs/demo_brain_tissue.ini)
#   4. net_segment train / inference / evaluation with the planned config
#   5. print the Dice per tissue class on the three test subjects
# Extra arguments are passed to `net_segment train` (e.g. --max_iter 50 for a quick look).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
CONFIG=configs/demo_brain_tissue.ini
PLANNED=configs/demo_brain_tissue_planned.ini
start=$(date +%s)
"$VPY" scripts/build_demo_data.py --out demo_data --validation 1 --test 3
rm -rf runs/demo_brain_tissue "$PLANNED"   # the demo owns these; a real run is never overwritten
net_segment plan -c "$CONFIG"
net_segment train -c "$PLANNED" "$@"
net_segment inference -c "$PLANNED"
net_segment evaluation -c "$PLANNED"
echo "demo finished in $(( $(date +%s) - start )) s (classes: 1 CSF, 2 grey matter, 3 white matter)"
