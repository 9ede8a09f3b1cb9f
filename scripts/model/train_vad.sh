#!/usr/bin/env bash
# Trains the bundled speech detector of `voxsex segment`, models/voxsex-vad.pt: synthetic
# conversations from voxsex-data v2's train/ split (scripts/data/make_conversations.py, 40 files,
# clean and telephone copies, 5.2 h), then scripts/model/train_vad.py (1,500 steps of 16 crops of
# 8 s, one thread, seeded: the same weights every time). The threshold stored in the detector,
# THRESHOLD, was chosen on dev conversations (README, segment; models/README.md, speech detector).
# About 10 minutes on one core (about 5 to make the conversations, 4 to train; measured
# 2026-12-03 with other jobs on the second core).
# Usage: scripts/model/train_vad.sh [DATA_DIR] [WORK_DIR]
#   (defaults: ../shared/voxsex-data, build/train_vad)
# Environment: OUT, where the detector is written (default models/voxsex-vad.pt).
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-../shared/voxsex-data}
work=${2:-build/train_vad}
out=${OUT:-models/voxsex-vad.pt}
THRESHOLD=${THRESHOLD:-2.0}
mkdir -p "$work"
if [[ ! -f $work/conversations/truth.tsv ]]; then
  /usr/bin/python3 scripts/data/make_conversations.py --split train --count 40 --seed 15 \
    --data "$data" --out "$work/conversations"
fi
/usr/bin/python3 scripts/model/train_vad.py --conversations "$work/conversations" \
  --noise-dir "$data/noise" --steps 1500 --seed 1 --threshold "$THRESHOLD" --out "$out"
