#!/usr/bin/env bash
# The image-restoration demo (net_regress) on real data, from a fresh machine:
#   1. create .venv and install voxflow (scripts/_env.sh)
#   2. build the data: warped MNI ICBM152 2009a subjects for training, Colin27, the FSL MNI152 and the
#      ICBM 2009c brains for testing, each degraded to 5 mm thick slices (scripts/build_restoration_data.py)
#   3. net_regress train / inference / evaluation with configs/demo_restoration.ini
#   4. evaluate the classical answer (the cubic B-spline interpolation the network starts from) the same way
#      and print both, per held-out brain (scripts/restoration_report.py)
# Extra arguments are passed to `net_regress train` (e.g. --max_iter 100 for a quick look).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
CONFIG=configs/demo_restoration.ini
RUN=runs/demo_restoration
start=$(date +%s)
"$VPY" scripts/build_restoration_data.py --out restoration_data
rm -rf "$RUN"   # the demo owns this folder; a real run is never overwritten
net_regress train -c "$CONFIG" "$@"
net_regress inference -c "$CONFIG"
net_regress evaluation -c "$CONFIG"
# the baseline: the degraded input itself, evaluated as if it were the output
net_regress evaluation -c "$CONFIG" --inferred thick --save_csv_dir "$RUN/baseline_evaluation"
"$VPY" scripts/restoration_report.py --network "$RUN/evaluation/evaluation.csv" \
  --baseline "$RUN/baseline_evaluation/evaluation.csv" --subjects colin27,fsl_mni152,icbm2009c
echo "demo finished in $(( $(date +%s) - start )) s"
