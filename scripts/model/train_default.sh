#!/usr/bin/env bash
# Trains the shipped model, models/voxsex.pt, with `voxsex train` on the corpus v1 files of
# voxsex-data/train (meta.tsv v1 = yes, the data it was trained on), each member keeping the epoch
# with the best balanced accuracy on v1's files of voxsex-data/dev; then scores it on the held-out
# test split. voxsex-data v2 stores v1's training files as Ogg Opus (they were FLAC), so a run now
# gives a model close to, not identical with, the shipped one (models/README.md).
# Usage: scripts/model/train_default.sh [DATA_DIR] [BUILD_DIR]
#   (defaults: ../shared/voxsex-data, build)
# Environment: OUT, where the model is written (default models/voxsex.pt).
# Three members (seeds 1, 2, 3) with a gender x age head (scripts/model/export_model.py --head
# gender_age; the age groups come from meta.tsv), without waveform augmentation and with the speech
# detector measuring only (--vad 0), combined by `voxsex ensemble` (logits averaged) and
# calibrated on dev: see models/README.md for the choices. Each member trains on one thread, which
# makes it deterministic; the three run side by side (about 17 minutes in all on a 2-core machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-../shared/voxsex-data}
build=${2:-build}
out=${OUT:-models/voxsex.pt}
work=$build/train_default
mkdir -p "$work"

# The v1 subsets of train/ and dev/.
for split in train dev; do
  awk -F'\t' -v want="$split" 'NR == FNR { if (FNR > 1 && $2 == want && $10 == "yes") v1[$1]; next }
    ($1 in v1)' "$data/meta.tsv" "$data/$split/targets.tsv" >"$work/${split}_v1.tsv"
done

# The untrained architecture with the gender x age head; export_model.py is deterministic (seed 0).
/usr/bin/python3 scripts/model/export_model.py "$work/untrained_gender_age.pt" \
  --head gender_age --seed 0

pids=()
for seed in 1 2 3; do
  "$build/voxsex" train \
    --targets "$work/train_v1.tsv" --audio-dir "$data/train" \
    --val-targets "$work/dev_v1.tsv" --val-audio-dir "$data/dev" \
    --groups "$data/meta.tsv" \
    --init "$work/untrained_gender_age.pt" \
    --out "$work/member_seed$seed.pt" \
    --epochs 40 --batch-size 32 --lr 0.002 --weight-decay 0.01 --seed "$seed" --threads 1 \
    --crop-min 1 --crop-max 4 --gain-db 12 --feature-norm global \
    --freq-masks 0 --time-masks 0 --ema-decay 0 \
    --noise-prob 0 --reverb-prob 0 --telephone-prob 0 --clip-prob 0 --speed-prob 0 --vad 0 \
    >"$work/member_seed$seed.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
if [ "$status" -ne 0 ]; then
  echo "train_default: a member failed (exit $status); see $work/member_seed*.log" >&2
  exit "$status"
fi
grep -h "best epoch" "$work"/member_seed*.log

"$build/voxsex" ensemble --out "$out" \
  "$work/member_seed1.pt" "$work/member_seed2.pt" "$work/member_seed3.pt"
"$build/voxsex" calibrate --model "$out" --targets "$work/dev_v1.tsv" --audio-dir "$data/dev" \
  --out "$out" --threads 2

"$build/voxsex" predict "$data/test" "$work/test_answers.tsv" --model "$out" \
  --scores "$work/test_scores.tsv"
"$build/voxsex" eval --targets "$data/test/targets.tsv" --answers "$work/test_answers.tsv" \
  --meta "$data/meta.tsv" --by source,age_group --scores "$work/test_scores.tsv" \
  --json "$work/test_eval.json"
