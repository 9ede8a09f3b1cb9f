#!/usr/bin/env bash
# Trains the bundled speech detector of `voxsex segment`, models/voxsex-vad.pt: synthetic
# conversations from voxsex-data v2's train/ split (scripts/data/make_conversations.py, 40 files,
# clean and telephone copies, 5.2 h), then `voxsex train-vad` from the bundled untrained detector,
# models/voxsex-vad-untrained.pt (`scripts/model/train_vad.py --export-untrained --seed 1`):
# 1,500 steps of 16 crops of 8 s, one thread, seeded: the same weights every time. The threshold
# stored in the detector, THRESHOLD, was chosen on dev conversations (README, segment;
# models/README.md, speech detector). About 5 minutes to make the conversations and 5 to train
# (280-331 s) on one core (2026-12-04, with a training on the other core).
# Usage: scripts/model/train_vad.sh [DATA_DIR] [WORK_DIR]
#   (defaults: ../shared/voxsex-data, build/train_vad)
# Environment: OUT, where the detector is written (default models/voxsex-vad.pt); BUILD, the build
# directory holding voxsex (default build).
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-../shared/voxsex-data}
work=${2:-build/train_vad}
out=${OUT:-models/voxsex-vad.pt}
build=${BUILD:-build}
THRESHOLD=${THRESHOLD:-2.5}
mkdir -p "$work"
if [[ ! -f $work/conversations/truth.tsv ]]; then
  /usr/bin/python3 scripts/data/make_conversations.py --split train --count 40 --seed 15 \
    --data "$data" --out "$work/conversations"
fi
"$build/voxsex" train-vad --conversations "$work/conversations" --noise-dir "$data/noise" \
  --init models/voxsex-vad-untrained.pt --steps 1500 --seed 1 --threads 1 \
  --threshold "$THRESHOLD" --out "$out"
