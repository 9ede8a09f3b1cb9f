#!/usr/bin/env bash
# Trains the shipped model, models/voxsex.pt, with `voxsex train` on voxsex-data/train, keeping the
# epoch with the best balanced accuracy on voxsex-data/dev; then scores it on the held-out test split.
# Usage: scripts/train_default.sh [DATA_DIR] [BUILD_DIR]   (defaults: ../shared/voxsex-data, build)
# An ensemble of three seeds (1, 2, 3) averaging logits, without waveform augmentation and with the
# speech detector measuring only (--vad 0): see models/README.md for the choices.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/voxsex-data}
build=${2:-build}
out=models/voxsex.pt
mkdir -p "$build/train_default"

# The untrained architecture is exported once by scripts/export_model.py and committed.
"$build/voxsex" train \
  --targets "$data/train/targets.tsv" \
  --val-targets "$data/dev/targets.tsv" \
  --init models/voxsex-untrained.pt \
  --out "$out" \
  --epochs 40 --batch-size 32 --lr 0.002 --weight-decay 0.01 --seed 1 --ensemble 3 --threads 2 \
  --crop-min 1 --crop-max 4 --gain-db 12 --feature-norm global \
  --freq-masks 0 --time-masks 0 --ema-decay 0 \
  --noise-prob 0 --reverb-prob 0 --telephone-prob 0 --clip-prob 0 --speed-prob 0 --vad 0 \
  2>&1 | tee "$build/train_default/train.log"

"$build/voxsex" predict "$data/test" "$build/train_default/test_answers.tsv" --model "$out"
"$build/voxsex" eval --targets "$data/test/targets.tsv" --answers "$build/train_default/test_answers.tsv" \
  --meta "$data/meta.tsv" --by source,age_group --json "$build/train_default/test_eval.json"
