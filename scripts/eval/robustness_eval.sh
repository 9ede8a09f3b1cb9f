#!/usr/bin/env bash
# Scores a model on every condition of the robustness suite made by scripts/data/make_robustness.py.
# Usage: scripts/eval/robustness_eval.sh SUITE_DIR [MODEL] [META]   (defaults: the bundled model,
#        ../shared/voxsex-data/meta.tsv; the binary is $VOXSEX_BIN, default build/voxsex).
#        Prints a Markdown table: accuracy overall, on adults,
#        and balanced accuracy on children, per condition; JSON reports go to SUITE_DIR/<cond>.eval.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
suite=$1
model=${2:-models/voxsex.pt}
meta=${3:-../shared/voxsex-data/meta.tsv}
voxsex=${VOXSEX_BIN:-build/voxsex}
echo "| condition | files | accuracy % | adults accuracy % | children balanced accuracy % |"
echo "|---|---|---|---|---|"
for dir in "$suite"/*/; do
  cond=$(basename "$dir")
  status=0  # 1 = some files failed, the rest answered: still scored
  "$voxsex" -q predict "$dir" "$suite/$cond.answers.tsv" --model "$model" || status=$?
  [ "$status" -le 1 ] || exit "$status"
  "$voxsex" -q eval --targets "$dir/targets.tsv" --answers "$suite/$cond.answers.tsv" \
    --meta "$meta" --by age_group --json "$suite/$cond.eval.json" >/dev/null
  /usr/bin/python3 - "$suite/$cond.eval.json" "$cond" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
by = r["by"]["age_group"]
def pct(group, key):
    return f"{100 * by[group][key]:.2f}" if group in by else "-"
print(f"| {sys.argv[2]} | {r['overall']['files']} | {100 * r['overall']['accuracy']:.2f} | "
      f"{pct('adult', 'accuracy')} | {pct('child', 'balanced_accuracy')} |")
PY
done
