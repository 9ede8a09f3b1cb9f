#!/usr/bin/env bash
# Sanitizer builds for CI. Usage: scripts/ci/sanitize.sh [asan|tsan|all]   (default all)
#
#   asan  AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer (fatal: the top-level
#         CMakeLists.txt adds -fno-sanitize-recover=undefined) Debug build of every target but the
#         benchmarks in build-asan/, then the ctest suite less what a sanitizer cannot judge or what
#         repeats, sanitized, a path the rest already runs:
#         - label `package`: cpack, strip and dpkg-shlibdeps, not voxsex code (the .deb would hold a
#           stripped sanitized binary; cpack's rebuild and strip of this tree ran past 180 s);
#         - label `bench`: a benchmark's one short pass under a sanitizer times the sanitizer (81 s
#           for bench_model on 2026-12-05); the Release build runs them so they cannot rot;
#         - label `python`: the scripts' tests run /usr/bin/python3 only, no voxsex code (label_audit
#           and conversations_ids took 32 s of the ASan ctest on 2026-12-05);
#         - TrainVad.LearnsSpeechFromGapsOnAHeldOutConversation: 150 steps of `voxsex train-vad`'s
#           training, the code TrainVad.SameSeedSameDetector runs sanitized for 3 x 10 steps
#           (68 s under ASan against 18);
#         - the two kill tests (Faults.*KilledAtAnyMoment): their subject is what a SIGKILL
#           leaves on disk, and a killed process writes no sanitizer report; their whole runs are
#           the predict and train commands other e2e tests run sanitized (479 s under ASan in the
#           CI check of 2026-12-05);
#         - labels `accuracy` and `slow` (the bars on the whole test split, and the robustness
#           suite): their sanitized value is predict on real corpus files of every format, which
#           the stage "asan: predict every fifth file of voxsex-data/test" keeps at a fifth of the
#           cost (Accuracy took 291 s under ASan, about 0.45 s of CPU a file, mostly page faults
#           of LibTorch's large tensors in ASan's allocator).
#         Then that stage: `voxsex predict --threads 2 --scores` with the ASan binary on every
#         fifth file (sorted) of the test split, FLAC and Opus, whose answers and scores must equal
#         the Release binary's.
#         Debug, not RelWithDebInfo: on 2 cores the build takes 2.5 times less CPU (UBSan at -O2
#         is slow to compile) and the tests run about as fast (most time is in LibTorch). With
#         -g1, not -g: the function names and line tables a report's stack needs, without the
#         types and locals (compiling src/train/trainer.cc: 42 s of CPU against 54, 2026-12-05).
#   tsan  ThreadSanitizer Debug build of the voxsex binary in build-tsan/ (2.5 times less CPU than
#         RelWithDebInfo; predict runs about as fast), then `voxsex predict --threads 2 --scores`
#         (reader threads, then LibTorch intra-op threads) on tests/data and on every eighth file
#         (sorted) of the voxsex-data test split, 98 files, FLAC and Opus (until 2026-12-05 the
#         first 300 FLAC files: 82 s, and the Opus reader never ran under TSan); answers and
#         scores must equal those of the Release binary build/voxsex (configured and built here
#         if missing or stale).
#
# LibTorch, libgomp, libsndfile, FFTW and soxr are not instrumented: the reports they cause are
# suppressed, one explained entry each, in tests/sanitizers/*.supp. Reports whose top frames are in
# voxsex code are never suppressed. ASan, LSan and TSan reports are written to
# <build dir>/.../sanitizer-logs/ (log_path), so a report in a voxsex child of an e2e test is seen
# even when that test expected a non-zero exit; UBSan reports are found in the test output (see
# asan_env). Every report is printed and fails the run.
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

# What the ASan ctest leaves out, and why: the header.
asan_skip_labels='package|bench|accuracy|slow|python'
asan_skip_tests='^Faults\.(Predict|Train)KilledAtAnyMoment|^TrainVad\.LearnsSpeechFromGaps'

asan_configure_build() {
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
    -DVOXSEX_SANITIZE="address;undefined" -DVOXSEX_BUILD_BENCH=OFF &&
    cmake --build build-asan -j "$jobs"
}

# asan_env LOGS: prints the ASAN_, LSAN_ and UBSAN_OPTIONS assignments (one a line) of every
# ASan run. halt_on_error: the first report ends the process (UBSan is also compiled with
# -fno-sanitize-recover); exitcode=86, an exit status no test expects, so a report in a voxsex
# child fails its test. detect_leaks: LeakSanitizer at exit. quarantine_size_mb=16 (default 256):
# a freed block stays poisoned until 16 MB more have been freed, which still catches a use soon
# after the free; with 256 MB, LibTorch's churn keeps every process touching fresh pages (predict
# on tests/data: 908 MB peak RSS against 484), and the ASan ctest's tests took 1,620 s in sum
# against 1,139 with 16 MB (the descriptor test, changed meanwhile, left out; 2026-12-05).
# ASan and LSan reports go to LOGS (log_path); UBSan's cannot (with ASan, gcc's UBSan ignores
# log_path and prints on stderr: https://gcc.gnu.org/bugzilla/show_bug.cgi?id=94328), so
# ubsan_reports searches for them.
asan_env() {
  local logs=$1
  echo "ASAN_OPTIONS=halt_on_error=1:exitcode=86:detect_leaks=1:quarantine_size_mb=16:check_initialization_order=1:log_path=$logs/asan"
  echo "LSAN_OPTIONS=suppressions=$supp_dir/lsan.supp:print_suppressions=0"
  echo "UBSAN_OPTIONS=halt_on_error=1:exitcode=86:print_stacktrace=1:suppressions=$supp_dir/ubsan.supp"
}

# ubsan_reports PATH...: prints every UBSan report in the files under PATH (files or
# directories; missing ones are ignored); fails when there is one.
ubsan_reports() {
  local files f
  files=$(grep -r -l -a -F ': runtime error: ' "$@" 2>/dev/null || true)
  [ -z "$files" ] && return 0
  echo "sanitize: UndefinedBehaviorSanitizer reports in:" >&2
  while read -r f; do
    echo "sanitize: ---- $f" >&2
    grep -a -F -A 30 ': runtime error: ' "$f" >&2
  done <<<"$files"
  return 1
}

# The ctest suite under ASan. UBSan reports are searched for in the test log and in the stderr
# files that the e2e tests keep under build-asan/tests/work.
asan_test() {
  local logs=$PWD/build-asan/sanitizer-logs status=0 vars
  rm -rf "$logs" && mkdir -p "$logs" || return
  mapfile -t vars < <(asan_env "$logs")
  env "${vars[@]}" ctest --test-dir build-asan --output-on-failure -j "$jobs" \
    -LE "$asan_skip_labels" -E "$asan_skip_tests" || status=$?
  check_logs "$logs" || status=1
  ubsan_reports build-asan/Testing/Temporary build-asan/tests/work || status=1
  return "$status"
}

tsan_configure_build() {
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
    -DVOXSEX_SANITIZE=thread \
    -DVOXSEX_BUILD_TESTS=OFF &&
    cmake --build build-tsan -j "$jobs" --target voxsex
}

reference_build() {
  { [ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release; } &&
    cmake --build build -j "$jobs" --target voxsex
}

# sanitized_predict TOOL NAME DIR: predict on DIR with the TOOL (asan or tsan) binary and with
# build/voxsex; no sanitizer report, the same exit status, the same answers and scores.
sanitized_predict() {
  local tool=$1 name=$2 dir=$3 work run=() status=0 ref_status=0 bin logs
  work=$PWD/build-$tool/predict/$name
  logs=$work/sanitizer-logs
  rm -rf "$work" && mkdir -p "$logs" "$work/$tool" "$work/release" || return
  local vars=()
  if [ "$tool" = tsan ]; then
    bin=build-tsan/voxsex
    vars=("TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$supp_dir/tsan.supp:log_path=$logs/tsan")
    # gcc 12's TSan runtime dies with "unexpected memory mapping" when ASLR places a library
    # outside the layout it expects, as kernels with vm.mmap_rnd_bits above 28 do; setarch -R (no
    # ASLR for this process) avoids it. With 28 bits TSan also runs without it.
    if setarch -R true 2>/dev/null; then run=(setarch -R); else
      echo "sanitize: setarch -R does not work here: running TSan with ASLR" >&2
    fi
  else
    bin=build-asan/voxsex
    mapfile -t vars < <(asan_env "$logs")
  fi
  env "${vars[@]}" "${run[@]}" "$bin" predict "$dir" "$work/$tool/answers.tsv" \
    --scores "$work/$tool/scores.tsv" --threads 2 --model models/voxsex.pt \
    2>"$work/$tool/stderr.txt" || status=$?
  build/voxsex predict "$dir" "$work/release/answers.tsv" --scores "$work/release/scores.tsv" \
    --threads 2 --model models/voxsex.pt 2>"$work/release/stderr.txt" || ref_status=$?
  local failed=0
  check_logs "$logs" || failed=1
  # UBSan (with ASan) prints its reports on stderr only: see asan_env.
  if [ "$tool" = asan ]; then ubsan_reports "$work/$tool/stderr.txt" || failed=1; fi
  if ((status != ref_status)); then
    echo "sanitize: $name: $tool predict exited $status, Release $ref_status:" >&2
    tail -n 20 "$work/$tool/stderr.txt" >&2
    failed=1
  fi
  for f in answers.tsv scores.tsv; do
    if ! cmp -s "$work/$tool/$f" "$work/release/$f"; then
      echo "sanitize: $name: $f differs between $tool and Release:" >&2
      diff "$work/$tool/$f" "$work/release/$f" | head -n 20 >&2 || true
      failed=1
    fi
  done
  if ((failed == 0)); then
    echo "sanitize: $name: $(wc -l <"$work/$tool/answers.tsv") answers, equal to Release" >&2
  fi
  return "$failed"
}

# corpus_every N DIR: every Nth audio file (sorted) of the voxsex-data test split, FLAC and Opus,
# as symlinks in DIR (made anew); prints DIR.
corpus_every() {
  local n=$1 dir=$2
  rm -rf "$dir" && mkdir -p "$dir"
  find "$corpus/test" -maxdepth 1 -type f \( -name '*.flac' -o -name '*.opus' \) | sort |
    awk -v n="$n" 'NR % n == 1' | while read -r f; do ln -s "$f" "$dir/"; done
  echo "$dir"
}

total_start=$(date +%s)
if [ "$mode" = asan ] || [ "$mode" = all ]; then
  if stage "asan: configure and build (build-asan)" asan_configure_build; then
    stage "asan: ctest (less what the header lists)" asan_test || true
    if [ ! -d "$corpus/test" ]; then
      echo "sanitize: SKIPPED asan predict on corpus files: $corpus/test not found" >&2
    elif stage "asan: Release reference build/voxsex" reference_build; then
      stage "asan: predict every fifth file of voxsex-data/test" \
        sanitized_predict asan corpus-fifth "$(corpus_every 5 "$PWD/build-asan/corpus-fifth")" || true
    fi
  fi
fi
if [ "$mode" = tsan ] || [ "$mode" = all ]; then
  if stage "tsan: configure and build voxsex (build-tsan)" tsan_configure_build &&
    stage "tsan: Release reference build/voxsex" reference_build; then
    stage "tsan: predict tests/data" sanitized_predict tsan fixtures "$PWD/tests/data" || true
    if [ -d "$corpus/test" ]; then
      stage "tsan: predict every eighth file of voxsex-data/test" \
        sanitized_predict tsan corpus-eighth "$(corpus_every 8 "$PWD/build-tsan/corpus-eighth")" || true
    else
      echo "sanitize: SKIPPED tsan predict on corpus files: $corpus/test not found" >&2
    fi
  fi
fi
echo "sanitize: total $(($(date +%s) - total_start)) s" >&2
if ((${#failures[@]})); then
  printf 'sanitize: FAILED: %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "sanitize: OK ($mode)" >&2
