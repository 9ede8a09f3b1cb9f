#!/usr/bin/env bash
# Sanitizer builds for CI. Usage: scripts/ci/sanitize.sh [asan|tsan|all]   (default all)
#
#   asan  AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer (fatal: the top-level
#         CMakeLists.txt adds -fno-sanitize-recover=undefined) Debug build of every target in
#         build-asan/, then the whole ctest suite except the packaging tests (label `package`: they
#         test cpack, strip and dpkg-shlibdeps, not voxsex code; the .deb would hold a stripped
#         sanitized binary, and cpack's rebuild and strip of this tree ran past the test's 180 s)
#         and the `slow` robustness-suite check (17 conditions of the predict path the accuracy
#         test already runs sanitized).
#         Debug, not RelWithDebInfo: on 2 cores the build takes 2.5 times less CPU (UBSan at -O2
#         is slow to compile) and the tests run about as fast (most time is in LibTorch).
#   tsan  ThreadSanitizer Debug build of the voxsex binary in build-tsan/ (2.5 times less CPU than
#         RelWithDebInfo; predict runs about as fast), then `voxsex predict --threads 2 --scores`
#         (reader threads, then LibTorch intra-op threads) on tests/data and on the first 300
#         files of the voxsex-data test split; answers and scores must equal those of the Release
#         binary build/voxsex (configured and built here if missing or stale).
#
# LibTorch, libgomp, libsndfile, FFTW and soxr are not instrumented: the reports they cause are
# suppressed, one explained entry each, in tests/sanitizers/*.supp. Reports whose top frames are in
# voxsex code are never suppressed. ASan, LSan and TSan reports are written to
# <build dir>/.../sanitizer-logs/ (log_path), so a report in a voxsex child of an e2e test is seen
# even when that test expected a non-zero exit; UBSan reports are found in the test output (see
# asan_test). Every report is printed and fails the run.
#
# Exit status: 0 clean; 1 a sanitizer report, a failed test or different answers; 2 usage.
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=${1:-all}
case "$mode" in
  asan | tsan | all) ;;
  *) echo "usage: $0 [asan|tsan|all]" >&2; exit 2 ;;
esac

supp_dir=$PWD/tests/sanitizers
corpus=${VOXSEX_DATA_DIR:-$PWD/../shared/voxsex-data}
jobs=2
failures=()

# stage NAME COMMAND...: runs COMMAND, prints its elapsed time, records a failure; returns its
# status. (set -e does not apply inside COMMAND, called from `||`: the stage functions below chain
# their steps with &&.)
stage() {
  local name=$1 start status=0
  shift
  start=$(date +%s)
  echo "sanitize: == $name" >&2
  "$@" || status=$?
  echo "sanitize: == $name: $(($(date +%s) - start)) s, exit $status" >&2
  if ((status != 0)); then failures+=("$name (exit $status)"); fi
  return "$status"
}

# check_logs DIR: prints every sanitizer log in DIR; fails when there is one.
check_logs() {
  local dir=$1 found log
  mapfile -t found < <(find "$dir" -type f | sort)
  ((${#found[@]} == 0)) && return 0
  for log in "${found[@]}"; do
    echo "sanitize: ---- $log" >&2
    cat "$log" >&2
  done
  echo "sanitize: ${#found[@]} sanitizer report(s) in $dir" >&2
  return 1
}

asan_configure_build() {
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVOXSEX_SANITIZE="address;undefined" &&
    cmake --build build-asan -j "$jobs"
}

asan_test() {
  local logs=$PWD/build-asan/sanitizer-logs status=0 ubsan
  rm -rf "$logs" && mkdir -p "$logs" || return
  # halt_on_error: the first report ends the process (UBSan is also compiled with
  # -fno-sanitize-recover); exitcode=86, an exit status no test expects, so a report in a voxsex
  # child fails its test. detect_leaks: LeakSanitizer at exit. ASan and LSan reports go to
  # $logs (log_path); UBSan's cannot (with ASan, gcc's UBSan ignores log_path and prints on
  # stderr: https://gcc.gnu.org/bugzilla/show_bug.cgi?id=94328), so they are searched for in the
  # test log and in the stderr files that the e2e tests keep under build-asan/tests/work.
  ASAN_OPTIONS="halt_on_error=1:exitcode=86:detect_leaks=1:check_initialization_order=1:log_path=$logs/asan" \
  LSAN_OPTIONS="suppressions=$supp_dir/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="halt_on_error=1:exitcode=86:print_stacktrace=1:suppressions=$supp_dir/ubsan.supp" \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE "package|slow" || status=$?
  check_logs "$logs" || status=1
  ubsan=$(grep -r -l -a -F ': runtime error: ' build-asan/Testing/Temporary build-asan/tests/work \
    2>/dev/null || true)
  if [ -n "$ubsan" ]; then
    echo "sanitize: UndefinedBehaviorSanitizer reports in:" >&2
    while read -r f; do
      echo "sanitize: ---- $f" >&2
      grep -a -F -A 30 ': runtime error: ' "$f" >&2
    done <<<"$ubsan"
    status=1
  fi
  return "$status"
}

tsan_configure_build() {
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DVOXSEX_SANITIZE=thread \
    -DVOXSEX_BUILD_TESTS=OFF &&
    cmake --build build-tsan -j "$jobs" --target voxsex
}

reference_build() {
  { [ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release; } &&
    cmake --build build -j "$jobs" --target voxsex
}

# tsan_predict NAME DIR: predict on DIR with the TSan binary and with build/voxsex; same answers.
tsan_predict() {
  local name=$1 dir=$2 work=$PWD/build-tsan/predict/$1 run=() status=0 ref_status=0
  local logs=$work/sanitizer-logs
  rm -rf "$work" && mkdir -p "$logs" "$work/tsan" "$work/release" || return
  # gcc 12's TSan runtime dies with "unexpected memory mapping" when ASLR places a library outside
  # the layout it expects, as kernels with vm.mmap_rnd_bits above 28 do; setarch -R (no ASLR for
  # this process) avoids it. With 28 bits TSan also runs without it.
  if setarch -R true 2>/dev/null; then run=(setarch -R); else
    echo "sanitize: setarch -R does not work here: running TSan with ASLR" >&2
  fi
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp_dir/tsan.supp:log_path=$logs/tsan" \
    "${run[@]}" build-tsan/voxsex predict "$dir" "$work/tsan/answers.tsv" \
    --scores "$work/tsan/scores.tsv" --threads 2 --model models/voxsex.pt \
    2>"$work/tsan/stderr.txt" || status=$?
  build/voxsex predict "$dir" "$work/release/answers.tsv" --scores "$work/release/scores.tsv" \
    --threads 2 --model models/voxsex.pt 2>"$work/release/stderr.txt" || ref_status=$?
  local failed=0
  check_logs "$logs" || failed=1
  if ((status != ref_status)); then
    echo "sanitize: $name: TSan predict exited $status, Release $ref_status:" >&2
    tail -n 20 "$work/tsan/stderr.txt" >&2
    failed=1
  fi
  for f in answers.tsv scores.tsv; do
    if ! cmp -s "$work/tsan/$f" "$work/release/$f"; then
      echo "sanitize: $name: $f differs between TSan and Release:" >&2
      diff "$work/tsan/$f" "$work/release/$f" | head -n 20 >&2 || true
      failed=1
    fi
  done
  if ((failed == 0)); then
    echo "sanitize: $name: $(wc -l <"$work/tsan/answers.tsv") answers, equal to Release" >&2
  fi
  return "$failed"
}

# The first 300 audio files (sorted) of the voxsex-data test split, as symlinks.
corpus_300() {
  local dir=$PWD/build-tsan/corpus-300
  rm -rf "$dir" && mkdir -p "$dir"
  find "$corpus/test" -maxdepth 1 -type f -name '*.flac' | sort | head -n 300 |
    while read -r f; do ln -s "$f" "$dir/"; done
  echo "$dir"
}

total_start=$(date +%s)
if [ "$mode" = asan ] || [ "$mode" = all ]; then
  if stage "asan: configure and build (build-asan)" asan_configure_build; then
    stage "asan: ctest -LE package|slow" asan_test || true
  fi
fi
if [ "$mode" = tsan ] || [ "$mode" = all ]; then
  if stage "tsan: configure and build voxsex (build-tsan)" tsan_configure_build &&
    stage "tsan: Release reference build/voxsex" reference_build; then
    stage "tsan: predict tests/data" tsan_predict fixtures "$PWD/tests/data" || true
    if [ -d "$corpus/test" ]; then
      stage "tsan: predict 300 files of voxsex-data/test" tsan_predict corpus-300 "$(corpus_300)" ||
        true
    else
      echo "sanitize: SKIPPED tsan predict on 300 corpus files: $corpus/test not found" >&2
    fi
  fi
fi
echo "sanitize: total $(($(date +%s) - total_start)) s" >&2
if ((${#failures[@]})); then
  printf 'sanitize: FAILED: %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "sanitize: OK ($mode)" >&2
