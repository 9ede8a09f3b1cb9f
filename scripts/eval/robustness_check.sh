#!/usr/bin/env bash
# The robustness check CI runs: builds the robustness suite (scripts/data/make_robustness.py) from
# a subset of the held-out test split (every 8th file by id: 98 files, 22 conditions), scores a
# model on it with scripts/eval/robustness_eval.sh, and fails when a condition's accuracy on adults
# is below its floor in tests/robustness_floors.tsv. The floors guard against regressions of the
# shipped model; the issue's targets and the full-split numbers are in models/README.md.
# Usage: scripts/eval/robustness_check.sh [BUILD_DIR] [MODEL]   (defaults: build, models/voxsex.pt)
# Exit status: 0 every floor met, 1 some condition below its floor, 77 (skipped) without the corpus.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
model=${2:-models/voxsex.pt}
data=../shared/voxsex-data
if [ ! -f "$data/meta.tsv" ] || [ ! -d "$data/test" ]; then
  echo "robustness_check: voxsex-data not found at $data: skipped" >&2
  exit 77
fi
suite=$build/robustness_ci
args=(--split test --every 8)
# The suite is deterministic: rebuilt only when the generator or its arguments changed since it
# was made (.done holds the arguments).
if [ ! -f "$suite/.done" ] || [ scripts/data/make_robustness.py -nt "$suite/.done" ] ||
  [ "$(cat "$suite/.done")" != "${args[*]}" ]; then
  rm -rf "$suite"
  /usr/bin/python3 scripts/data/make_robustness.py "${args[@]}" --out "$suite"
  echo "${args[*]}" >"$suite/.done"
fi
VOXSEX_BIN=$build/voxsex scripts/eval/robustness_eval.sh "$suite" "$model" "$data/meta.tsv" |
  tee "$build/robustness_ci.md"
/usr/bin/python3 - "$suite" tests/robustness_floors.tsv <<'PY'
import json, pathlib, sys
suite, floors_path = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
failed = 0
for line in floors_path.read_text().splitlines():
    if not line.strip() or line.startswith("#") or line.startswith("condition\t"):
        continue
    cond, floor = line.split("\t")[:2]
    report = json.loads((suite / f"{cond}.eval.json").read_text())
    acc = report["by"]["age_group"]["adult"]["accuracy"]
    ok = acc >= float(floor)
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {cond}: adults {100 * acc:.2f}% (floor {100 * float(floor):.0f}%)")
print(f"robustness: {failed} conditions below their floor")
sys.exit(1 if failed else 0)
PY
