#!/usr/bin/env bash
# Trains one variant on voxsex-data/train (selecting on dev) and reports it on dev only, for
# comparing training choices without touching the held-out test split.
# Usage: scripts/model/dev_experiment.sh NAME INIT_MODEL [voxsex train flags...]
# Writes OUT_DIR/NAME.pt and NAME.log (OUT_DIR: $OUT_DIR or build/experiments); prints the best
# epoch, the mean validation balanced accuracy of the last 10 epochs (less noisy than the best
# epoch on a 34-speaker dev set) and the dev table by age group and source.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1 init=$2
shift 2
data=${DATA_DIR:-../shared/voxsex-data}
out=${OUT_DIR:-build/experiments}
mkdir -p "$out"
build/voxsex train --targets "$data/train/targets.tsv" --val-targets "$data/dev/targets.tsv" \
  --init "$init" --out "$out/$name.pt" "$@" >"$out/$name.log" 2>&1
status=0
build/voxsex predict "$data/dev" "$out/$name.dev.tsv" --model "$out/$name.pt" 2>/dev/null || status=$?
[ "$status" -le 1 ] || { echo "predict failed ($status)" >&2; exit "$status"; }
# Per-epoch lines only (not the ensemble's summary line); with --ensemble, the last member's.
last10=$(grep -oE 'epoch +[0-9]+/[0-9]+ .*val bal acc [0-9.]+' "$out/$name.log" | grep -o 'val bal acc [0-9.]*' |
  tail -10 | awk '{s+=$4} END{printf "%.2f", s/NR}')
best=$(grep -o 'best epoch [0-9]* (val bal acc [0-9.]*%)' "$out/$name.log" | paste -sd ';' -)
echo "== $name [$*] $best, last-10-epoch mean val balanced accuracy $last10%"
build/voxsex eval --targets "$data/dev/targets.tsv" --answers "$out/$name.dev.tsv" \
  --meta "$data/meta.tsv" --by age_group,source 2>/dev/null | grep -E '^  (all|adult|child|audiomnist|speechocean|mini)'
