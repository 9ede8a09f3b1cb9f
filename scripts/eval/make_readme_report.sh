#!/usr/bin/env bash
# Makes the report shown in README.md: the bundled model on the held-out test split, with
# `voxsex eval --report` (tables, confusion matrix, accuracy by group, reliability diagram,
# learning curves from the per-epoch history stored in the model's metadata).
# Usage: scripts/eval/make_readme_report.sh [DATA_DIR] [OUT_DIR]
#   (defaults: ../shared/voxsex-data, docs/report)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-../shared/voxsex-data}
out=${2:-docs/report}
work=build/readme_report
mkdir -p "$work" "$out"

build/voxsex predict "$data/test" "$work/answers.tsv" --scores "$work/scores.tsv"
# The training log of the shipped model, rebuilt from its metadata (training.members[].history).
build/voxsex info --json models/voxsex.pt | /usr/bin/python3 -c '
import json, sys
meta = json.load(sys.stdin)
print("member\tepoch\tloss\ttrain_accuracy\tval_accuracy\tval_balanced_accuracy\tseconds")
for k, member in enumerate(meta["training"]["members"], 1):
    for r in member["history"]:
        cols = [k, r["epoch"], r["loss"], r["train_accuracy"], r["val_accuracy"],
                r["val_balanced_accuracy"], r["seconds"]]
        print("\t".join(str(c) for c in cols))
' >"$work/training.tsv"
build/voxsex eval --targets "$data/test/targets.tsv" --answers "$work/answers.tsv" \
  --meta "$data/meta.tsv" --by source,age_group --scores "$work/scores.tsv" \
  --training-log "$work/training.tsv" --report "$out"
