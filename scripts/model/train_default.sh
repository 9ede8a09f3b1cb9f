#!/usr/bin/env bash
# Trains the shipped model, models/voxsex.pt, with `voxsex train` on voxsex-data v2's train/
# (8.4 h, 493 speakers), each network keeping the epoch with the best balanced accuracy on dev/;
# then scores it on the held-out test split.
# Usage: scripts/model/train_default.sh [DATA_DIR] [BUILD_DIR]
#   (defaults: ../shared/voxsex-data, build)
# Environment: OUT, where the model is written (default models/voxsex.pt).
# Two ECAPA-style networks with a gender x age head (scripts/model/export_model.py --arch ecapa
# --head gender_age; the age groups come from meta.tsv): the same options, seeds 1 and 2, trained
# side by side for 30 epochs, one thread each (deterministic), with waveform augmentation
# (recorded and synthetic noise, reverberation, telephone, clipping, formant-preserving pitch
# shift, spectral tilt, and speed perturbation of adults' crops), speaker-balanced epochs and
# children's loss weighted 3x, children's crops augmented at half the probability
# (--child-augment-scale 0.5). Combined by `voxsex ensemble` (logits averaged) and calibrated on
# dev. The choices and their dev measurements: models/README.md (round 10). About 40 minutes on a
# 2-core machine (2,394 s and 2,336 s for the networks side by side, 2026-12-04). Interrupted? Run
# it again: each network resumes from its last finished epoch (`voxsex train --resume`) and ends
# with the weights of an uninterrupted run.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-../shared/voxsex-data}
build=${2:-build}
out=${OUT:-models/voxsex.pt}
# A directory of this recipe's own: a network left by an earlier recipe is never taken as finished.
work=$build/train_default/round10
mkdir -p "$work"

# export_model.py is deterministic (seed 0): the same initial weights every time.
/usr/bin/python3 scripts/model/export_model.py "$work/untrained.pt" \
  --arch ecapa --head gender_age --seed 0

train_network() {  # NAME SEED: trains $work/network_NAME.pt, log beside it
  local name=$1 seed=$2
  "$build/voxsex" train \
    --targets "$data/train/targets.tsv" --val-targets "$data/dev/targets.tsv" \
    --groups "$data/meta.tsv" --init "$work/untrained.pt" --out "$work/network_$name.pt" \
    --epochs 30 --batch-size 32 --lr 0.002 --weight-decay 0.01 --seed "$seed" --threads 1 \
    --crop-min 1 --crop-max 4 --gain-db 12 --max-files-per-speaker 30 --child-weight 3 \
    --noise-prob 0.5 --snr-min 0 --snr-max 25 --noise-dir "$data/noise" --reverb-prob 0.2 \
    --telephone-prob 0.15 --clip-prob 0.05 --pitch-prob 0.4 --pitch-semitones 4 \
    --tilt-prob 0.3 --vad 0 --speed-prob 0.4 --speed-range 0.25 --child-speed-scale 0 \
    --child-augment-scale 0.5 --resume >>"$work/network_$name.log" 2>&1
}

unfinished() { [ ! -f "$work/network_$1.pt" ] || [ -d "$work/network_$1.pt.checkpoint" ]; }
pids=()
if unfinished a; then
  train_network a 1 &
  pids+=($!)
fi
if unfinished b; then
  train_network b 2 &
  pids+=($!)
fi
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
if [ "$status" -ne 0 ]; then
  echo "train_default: a network failed (exit $status); see $work/network_*.log" >&2
  exit "$status"
fi
grep -h "best epoch" "$work"/network_[ab].log

"$build/voxsex" ensemble --out "$out" "$work/network_a.pt" "$work/network_b.pt"
"$build/voxsex" calibrate --model "$out" --targets "$data/dev/targets.tsv" --out "$out" --threads 2

"$build/voxsex" predict "$data/test" "$work/test_answers.tsv" --model "$out" \
  --scores "$work/test_scores.tsv"
"$build/voxsex" eval --targets "$data/test/targets.tsv" --answers "$work/test_answers.tsv" \
  --meta "$data/meta.tsv" --by source,age_group --scores "$work/test_scores.tsv" \
  --json "$work/test_eval.json"
