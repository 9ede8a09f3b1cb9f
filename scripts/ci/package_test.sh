#!/usr/bin/env bash
# Builds the .deb with cpack, unpacks it with `dpkg -x` into a scratch root, checks its files and
# runs the unpacked binary: predict on tests/data (6 answers, exit 0) and --version (the packaged
# model, found beside the binary without --model).
# Usage: scripts/ci/package_test.sh BUILD_DIR  (a configured and built tree; ctest test package_deb)
# Exit status: 0 pass, 1 fail, 77 skipped (cpack or dpkg missing).
set -euo pipefail

source_dir=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)

fail() { echo "package_test: FAIL: $*" >&2; exit 1; }
for tool in cpack dpkg dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "package_test: SKIP: $tool not found" >&2; exit 77; }
done
[ -f "$build_dir/CPackConfig.cmake" ] || fail "$build_dir/CPackConfig.cmake missing: configure first"
[ -x "$build_dir/voxsex" ] || fail "$build_dir/voxsex missing: build first"

# cpack first runs the build tree's `preinstall` target (a no-op in a built tree, a few seconds),
# then stages `cmake --install` under /usr and runs dpkg-shlibdeps for Depends.
# A scratch directory of our own, so runs in parallel (ctest -j, two checkouts) do not collide;
# cpack stages under it too (-B), not in the shared build directory.
scratch=$(mktemp -d "$build_dir/package-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

cpack -G DEB -B "$scratch" --config "$build_dir/CPackConfig.cmake" >"$scratch/cpack.log" 2>&1 ||
  { cat "$scratch/cpack.log" >&2; fail "cpack -G DEB failed"; }
debs=("$scratch"/voxsex_*.deb)
[ -f "${debs[0]}" ] || { cat "$scratch/cpack.log" >&2; fail "cpack wrote no voxsex_*.deb"; }
deb=${debs[0]}
echo "package_test: built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
echo "package_test: Depends: $(dpkg-deb -f "$deb" Depends)"
[ "$(dpkg-deb -f "$deb" Package)" = voxsex ] || fail "package name is not voxsex"
[ "$(dpkg-deb -f "$deb" Section)" = sound ] || fail "section is not sound"
dpkg-deb -f "$deb" Depends | grep -q 'libtorch' || fail "Depends lacks libtorch"
dpkg-deb -f "$deb" Depends | grep -q 'libsndfile1' || fail "Depends lacks libsndfile1"

root="$scratch/root"
dpkg -x "$deb" "$root"
expected=(usr/bin/voxsex usr/share/voxsex/models/voxsex.pt usr/share/voxsex/models/voxsex-untrained.pt usr/share/voxsex/models/voxsex-vad.pt
          usr/share/voxsex/models/voxsex-vad-untrained.pt
          usr/share/voxsex/scripts/plot_report.py)
if grep -q '^HELP2MAN_EXECUTABLE:FILEPATH=/' "$build_dir/CMakeCache.txt"; then
  expected+=(usr/share/man/man1/voxsex.1)
else
  echo "package_test: help2man was not found at configure time: no man page expected"
fi
for f in "${expected[@]}"; do
  [ -s "$root/$f" ] || fail "$f missing from the package (contents: $(cd "$root" && find . -type f | sort | tr '\n' ' '))"
done
[ -x "$root/usr/bin/voxsex" ] || fail "usr/bin/voxsex is not executable"
if [ -f "$root/usr/share/man/man1/voxsex.1" ]; then
  grep -q '^\.TH VOXSEX "1"' "$root/usr/share/man/man1/voxsex.1" || fail "voxsex.1 is not a man page"
fi

# The unpacked binary must use the packaged model (<exe_dir>/../share/voxsex/models), not
# $VOXSEX_MODEL and not the source tree's.
bin="$root/usr/bin/voxsex"
packaged_model=$(realpath "$root/usr/share/voxsex/models/voxsex.pt")
version=$(env -u VOXSEX_MODEL "$bin" --version) || fail "--version exited $?"
echo "$version" | sed 's/^/package_test: --version: /'
echo "$version" | grep -q "^voxsex [0-9]" || fail "--version does not print 'voxsex X.Y.Z'"
echo "$version" | grep -qF "bundled model: $packaged_model" ||
  fail "--version does not name the packaged model $packaged_model"

answers="$scratch/answers.tsv"
status=0
env -u VOXSEX_MODEL "$bin" predict "$source_dir/tests/data" "$answers" --threads 2 \
  2>"$scratch/predict.err" || status=$?
[ "$status" -eq 0 ] || { cat "$scratch/predict.err" >&2; fail "predict exited $status"; }
lines=$(wc -l <"$answers")
[ "$lines" -eq 6 ] || fail "predict wrote $lines answers, expected 6"
echo "package_test: PASS ($lines answers from the unpacked package)"
