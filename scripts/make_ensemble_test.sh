#!/usr/bin/env bash
# Tests scripts/make_ensemble.py: the bundled model (3 networks) combined with itself is an
# ensemble of 6 networks whose mean logits are the bundled model's, so predict gives the same
# answers and, given the bundled model's temperature, p_female within 1e-3; voxsex info
# lists the 6 members; a file that is not a voxsex model is refused with its name, and so is a
# model that drops non-speech frames beside one that does not.
# Usage: scripts/make_ensemble_test.sh BUILD_DIR   (ctest test make_ensemble)
# Exit status: 0 pass, 1 fail, 77 skipped (/usr/bin/python3 without torch).
set -euo pipefail

source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
voxsex=$build_dir/voxsex
fail() { echo "make_ensemble_test: FAIL: $*" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null ||
  { echo "make_ensemble_test: SKIP: /usr/bin/python3 has no torch (python3-torch)" >&2; exit 77; }
[ -x "$voxsex" ] || fail "$voxsex missing: build first"

scratch=$(mktemp -d "$build_dir/make-ensemble-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
model=$source_dir/models/voxsex.pt
data=$source_dir/tests/data

/usr/bin/python3 "$source_dir/scripts/make_ensemble.py" --out "$scratch/double.pt" "$model" "$model" \
  >"$scratch/make.log" 2>&1 || { cat "$scratch/make.log" >&2; fail "make_ensemble.py failed"; }
grep -q "6 networks" "$scratch/make.log" || { cat "$scratch/make.log" >&2; fail "expected 6 networks"; }
"$voxsex" info "$scratch/double.pt" >"$scratch/info.txt" || fail "voxsex info cannot read the ensemble"
grep -q "ensemble of 6 networks" "$scratch/info.txt" || fail "info does not show 6 networks"
grep -q "6 members from voxsex.pt, voxsex.pt" "$scratch/info.txt" || fail "info does not name the source models"
[ "$(grep -c '^  member [0-9]' "$scratch/info.txt")" = 6 ] || fail "info does not list 6 members"

# The same mean logits: identical answers; p_female equal once both have the same temperature.
"$voxsex" -q predict "$data" "$scratch/single.tsv" --model "$model" --scores "$scratch/single_scores.tsv"
"$voxsex" -q predict "$data" "$scratch/double.tsv" --model "$scratch/double.pt"
cmp "$scratch/single.tsv" "$scratch/double.tsv" || fail "answers differ from the bundled model's"
[ "$(wc -l <"$scratch/double.tsv")" -ge 6 ] || fail "fewer than 6 answers"
temperature=$("$voxsex" info "$model" | sed -n 's/^  temperature *//p')
[ -n "$temperature" ] || fail "no temperature in voxsex info of the bundled model"
/usr/bin/python3 - "$scratch/double.pt" "$temperature" <<'PY'
import json, sys, torch
extra = {"voxsex.json": ""}
m = torch.jit.load(sys.argv[1], _extra_files=extra)
meta = json.loads(extra["voxsex.json"])
meta["calibration"] = {"temperature": float(sys.argv[2]), "fitted_on": "make_ensemble_test"}
torch.jit.save(m, sys.argv[1], _extra_files={"voxsex.json": json.dumps(meta)})
PY
"$voxsex" -q predict "$data" "$scratch/double2.tsv" --model "$scratch/double.pt" \
  --scores "$scratch/double_scores.tsv"
paste "$scratch/single_scores.tsv" "$scratch/double_scores.tsv" | awk -F'\t' '
  NR > 1 { d = $2 - $8; if (d < 0) d = -d; if (d > 1e-3) { print "p_female " $1 ": " $2 " vs " $8; bad = 1 } }
  END { exit bad }' || fail "p_female differs from the bundled model's by more than 1e-3"

# Both kinds of ensemble are taken apart into their networks: the bundled model's (this script's
# Ensemble, or `voxsex train --ensemble`'s) above, and one `voxsex train --ensemble 2` writes here.
"$voxsex" -q train --targets "$data/expected_answers.tsv" --epochs 1 --batch-size 3 --threads 1 \
  --crop-min 1 --crop-max 1 --ensemble 2 --out "$scratch/trained2.pt" 2>"$scratch/train.log" ||
  { cat "$scratch/train.log" >&2; fail "voxsex train --ensemble 2 failed"; }
/usr/bin/python3 "$source_dir/scripts/make_ensemble.py" --out "$scratch/trained2x2.pt" \
  "$scratch/trained2.pt" "$scratch/trained2.pt" >"$scratch/make2.log" 2>&1 ||
  { cat "$scratch/make2.log" >&2; fail "make_ensemble.py cannot take a voxsex train --ensemble model"; }
grep -q "4 networks" "$scratch/make2.log" || { cat "$scratch/make2.log" >&2; fail "expected 4 networks"; }

# Not a model: refused, named.
printf 'not a model\n' >"$scratch/bogus.pt"
if /usr/bin/python3 "$source_dir/scripts/make_ensemble.py" --out "$scratch/x.pt" "$model" \
    "$scratch/bogus.pt" 2>"$scratch/bogus.log"; then
  fail "a file that is not a model was accepted"
fi
grep -q "bogus.pt" "$scratch/bogus.log" || { cat "$scratch/bogus.log" >&2; fail "error does not name the file"; }
[ ! -e "$scratch/x.pt" ] || fail "an output was written after an error"
# A model that drops non-speech frames cannot join one that does not: refused with status 2.
/usr/bin/python3 - "$model" "$scratch/drops.pt" <<'PY'
import json, sys, torch
extra = {"voxsex.json": ""}
m = torch.jit.load(sys.argv[1], _extra_files=extra)
meta = json.loads(extra["voxsex.json"])
meta["vad"]["drop_non_speech"] = True
torch.jit.save(m, sys.argv[2], _extra_files={"voxsex.json": json.dumps(meta)})
PY
status=0
/usr/bin/python3 "$source_dir/scripts/make_ensemble.py" --out "$scratch/z.pt" "$model" \
  "$scratch/drops.pt" 2>"$scratch/drops.log" || status=$?
[ "$status" = 2 ] || fail "mixing frame dropping: exit $status, expected 2"
grep -q "drops.pt' has another front end, labels or speech-frame dropping" "$scratch/drops.log" ||
  { cat "$scratch/drops.log" >&2; fail "mixing frame dropping: message does not say why"; }
[ ! -e "$scratch/z.pt" ] || fail "an output was written after an error"
echo "make_ensemble_test: PASS"
