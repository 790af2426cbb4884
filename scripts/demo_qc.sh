#!/usr/bin/env bash
# The MRI quality-control demo (net_classify) on real data, from a fresh machine:
#   1. create .venv and install voxflow (scripts/_env.sh)
#   2. build the data: warped MNI ICBM152 2009a subjects for training and validation, Colin27, the FSL
#      MNI152 and the ICBM 2009c brains for testing, each with every artefact class (none, motion,
#      ghosting, spike, bias, noise) made by voxflow's own augmentation layers (scripts/build_qc_data.py)
#   3. net_classify train / inference / evaluation with configs/demo_qc.ini
#   4. print the held-out real brains' balanced accuracy and confusion matrix next to chance (1/6)
#      (scripts/qc_report.py)
# Extra arguments are passed to `net_classify train` (e.g. --max_iter 30 for a quick look).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
CONFIG=configs/demo_qc.ini
RUN=runs/demo_qc
start=$(date +%s)
"$VPY" scripts/build_qc_data.py --out qc_data
rm -rf "$RUN"   # the demo owns this folder; a real run is never overwritten
net_classify train -c "$CONFIG" "$@"
net_classify inference -c "$CONFIG"
net_classify evaluation -c "$CONFIG"
"$VPY" scripts/qc_report.py --evaluation "$RUN/evaluation" --classes "$RUN/output/classes_class.csv" \
  --labels qc_data/labels.csv
echo "demo finished in $(( $(date +%s) - start )) s"
