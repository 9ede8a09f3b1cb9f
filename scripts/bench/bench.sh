#!/usr/bin/env bash
# End-to-end benchmark (issue 4): `voxsex predict` against the Python reference
# (bench/reference_torchaudio.py) on the test split and on a generated 1-hour file, runs
# alternating (voxsex, reference, voxsex, reference, ...), whole process from start to exit.
# voxsex segment on the 1-hour file (wall time, peak RSS). Also voxsex with 1 vs 2 threads, and
# start-up (predict on a directory with one 4 s file). And the allocator setting voxsex is built
# with (src/cli/main.cc, `malloc_conf`: jemalloc keeps freed pages) against jemalloc's defaults,
# alternating: predict on the data directory, and one epoch of training (`--threads 1`, the
# recipe's network and options, scripts/model/train_default.sh) on every 20th file of the
# training split; the two trainings must give the same loss, else the script exits 1.
#
# Usage: scripts/bench/bench.sh [-n RUNS] [--build DIR] [--data DIR] [--train DIR] [--skip-hour]
#                               [--skip-train]
#   -n RUNS      runs of each program per measurement (default 3); medians are reported
#   --build DIR  build directory holding voxsex (default build); generated files and outputs go
#                to DIR/bench
#   --data DIR   directory of audio files (default ../shared/voxsex-data/test)
#   --train DIR  training split with targets.tsv, beside meta.tsv and noise/ (default
#                ../shared/voxsex-data/train); only its speed is measured
#   --skip-hour  leave out the 1-hour file
#   --skip-train leave out the allocator's training measurement
#
# Wall time and peak resident memory come from `/usr/bin/time -v` (Debian package `time`); the
# 1-hour file (FLAC, 16 kHz mono) is made once with sox from the data files, end to end. Every
# run's answers must be identical to the first voxsex run's, else the script says so and exits 1.
# Per-run lines go to stderr; the summary, a Markdown table, to stdout. The allocator rows put
# jemalloc's defaults in the reference column.
set -euo pipefail
cd "$(dirname "$0")/../.."

runs=3
build=build
data=../shared/voxsex-data/test
train=../shared/voxsex-data/train
hour=1
train_bench=1
while (($#)); do
  case $1 in
    -n) runs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --train) train=$2; shift 2 ;;
    --skip-hour) hour=0; shift ;;
    --skip-train) train_bench=0; shift ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

voxsex=$build/voxsex
reference=bench/reference_torchaudio.py
model=models/voxsex.pt
for need in "$voxsex" /usr/bin/time /usr/bin/python3; do
  [ -x "$need" ] || { echo "bench.sh: '$need' not found (build voxsex; apt-get install time)" >&2; exit 2; }
done
[ -d "$data" ] || { echo "bench.sh: data directory '$data' not found (--data)" >&2; exit 2; }
/usr/bin/python3 -c 'import soundfile, torchaudio' 2>/dev/null ||
  { echo "bench.sh: the reference needs python3-soundfile and python3-torchaudio" >&2; exit 2; }

work=$build/bench
mkdir -p "$work/one" "$work/hour" "$work/out"
cp tests/data/clip_3_wav16_16k_mono.wav "$work/one/"
if ((hour)) && [ ! -s "$work/hour/hour.flac" ]; then
  echo "bench.sh: generating $work/hour/hour.flac (3600 s) from $data" >&2
  mapfile -t files < <(find "$data" -maxdepth 1 -name '*.flac' | LC_ALL=C sort)
  sox "${files[@]}" "${files[@]}" -r 16000 -c 1 -b 16 "$work/hour/hour.tmp.flac" trim 0 3600
  mv "$work/hour/hour.tmp.flac" "$work/hour/hour.flac"
fi

threads=$(nproc)
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)

# timed NAME ANSWERS CMD...: runs CMD under /usr/bin/time -v; sets wall_s, rss_mb and faults
# (minor page faults).
timed() {
  local name=$1 answers=$2; shift 2
  local log=$work/out/time.txt
  rm -f "$answers"
  /usr/bin/time -v -o "$log" "$@" 2>"$work/out/$name.stderr" >/dev/null ||
    { echo "bench.sh: $name failed (exit $?); see $work/out/$name.stderr" >&2; exit 1; }
  wall_s=$(awk -F': ' '/Elapsed \(wall clock\)/ {
             n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$log")
  rss_mb=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$log")
  faults=$(awk -F': ' '/Minor \(reclaiming a frame\) page faults/ { print $2 }' "$log")
}

# median V...: the median of numbers.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
  print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

identical=yes
# same A B WHAT: notes a difference between two answers files.
same() {
  if ! cmp -s "$1" "$2"; then
    identical=no
    echo "bench.sh: answers differ ($3): $(diff "$1" "$2" | grep -c '^<') lines; diff $1 $2" >&2
  fi
}

# compare LABEL DIR: voxsex and reference alternating; sets vx_* and ref_* (medians and peaks).
compare() {
  local label=$1 dir=$2 i
  local vx_w=() vx_r=() ref_w=() ref_r=()
  local first=$work/out/$label.voxsex.1.tsv
  for ((i = 1; i <= runs; i++)); do
    timed "$label.voxsex.$i" "$work/out/$label.voxsex.$i.tsv" \
      "$voxsex" -q predict "$dir" "$work/out/$label.voxsex.$i.tsv" --model "$model"
    vx_w+=("$wall_s"); vx_r+=("$rss_mb")
    echo "$label run $i voxsex: $wall_s s, $rss_mb MB" >&2
    same "$first" "$work/out/$label.voxsex.$i.tsv" "$label voxsex run $i vs run 1"
    timed "$label.reference.$i" "$work/out/$label.reference.$i.tsv" \
      "$reference" "$dir" "$work/out/$label.reference.$i.tsv" --model "$model"
    ref_w+=("$wall_s"); ref_r+=("$rss_mb")
    echo "$label run $i reference: $wall_s s, $rss_mb MB" >&2
    same "$first" "$work/out/$label.reference.$i.tsv" "$label reference run $i vs voxsex"
  done
  num_files=$(wc -l < "$first")
  vx_wall=$(median "${vx_w[@]}"); ref_wall=$(median "${ref_w[@]}")
  vx_rss=$(maxof "${vx_r[@]}"); ref_rss=$(maxof "${ref_r[@]}")
  vx_runs="${vx_w[*]}"; ref_runs="${ref_w[*]}"
}

rows=()
row() { rows+=("| $1 | $2 | $3 | $4 |"); }

compare test "$data"
row "test split ($num_files files): wall time, median (s)" "$vx_wall" "$ref_wall" \
    "$(ratio "$ref_wall" "$vx_wall")x faster"
row "test split: runs (s)" "$vx_runs" "$ref_runs" ""
row "test split: files per second" "$(ratio "$num_files" "$vx_wall")" \
    "$(ratio "$num_files" "$ref_wall")" "$(ratio "$ref_wall" "$vx_wall")x"
row "test split: peak RSS, max of runs (MB)" "$vx_rss" "$ref_rss" \
    "$(ratio "$vx_rss" "$ref_rss") of the reference's"

if ((hour)); then
  compare hour "$work/hour"
  row "1-hour file: wall time, median (s)" "$vx_wall" "$ref_wall" \
      "$(ratio "$ref_wall" "$vx_wall")x faster"
  row "1-hour file: runs (s)" "$vx_runs" "$ref_runs" ""
  row "1-hour file: x real time" "$(ratio 3600 "$vx_wall")" "$(ratio 3600 "$ref_wall")" ""
  row "1-hour file: peak RSS, max of runs (MB)" "$vx_rss" "$ref_rss" \
      "$(ratio "$vx_rss" "$ref_rss") of the reference's"
  # voxsex segment (issue 15) on the same file, --threads 1 (no reference to compare with).
  seg_w=() seg_r=()
  for ((i = 1; i <= runs; i++)); do
    timed "segment.$i" "$work/out/segment.$i.tsv" \
      "$voxsex" -q segment "$work/hour" "$work/out/segment.$i.tsv" --model "$model" --threads 1
    seg_w+=("$wall_s"); seg_r+=("$rss_mb")
    echo "segment run $i: $wall_s s, $rss_mb MB" >&2
    same "$work/out/segment.1.tsv" "$work/out/segment.$i.tsv" "segment run $i vs run 1"
  done
  row "1-hour file: voxsex segment --threads 1, wall time, median (s)" "$(median "${seg_w[@]}")" "" \
      "$(ratio 3600 "$(median "${seg_w[@]}")")x real time"
  row "1-hour file: voxsex segment, peak RSS, max of runs (MB)" "$(maxof "${seg_r[@]}")" "" ""
fi

# Threads: voxsex --threads 1 and --threads 2 alternating on the data directory.
t1=() t2=()
for ((i = 1; i <= runs; i++)); do
  for t in 1 2; do
    timed "threads$t.$i" "$work/out/threads$t.$i.tsv" \
      "$voxsex" -q predict "$data" "$work/out/threads$t.$i.tsv" --model "$model" --threads "$t"
    echo "threads $t run $i: $wall_s s, $rss_mb MB" >&2
    same "$work/out/test.voxsex.1.tsv" "$work/out/threads$t.$i.tsv" "voxsex --threads $t run $i"
    if ((t == 1)); then t1+=("$wall_s"); else t2+=("$wall_s"); fi
  done
done
row "voxsex --threads 1 vs --threads 2, test split, median (s)" \
    "1 thread $(median "${t1[@]}"), 2 threads $(median "${t2[@]}")" "" \
    "2 threads $(ratio "$(median "${t1[@]}")" "$(median "${t2[@]}")")x as fast as 1"

# Start-up: one 4 s file, whole process (model load, one forward, write).
s_vx=() s_ref=()
for ((i = 1; i <= runs; i++)); do
  timed "startup.voxsex.$i" "$work/out/startup.voxsex.tsv" \
    "$voxsex" -q predict "$work/one" "$work/out/startup.voxsex.tsv" --model "$model"
  s_vx+=("$wall_s"); vx_start_rss=$rss_mb
  timed "startup.reference.$i" "$work/out/startup.reference.tsv" \
    "$reference" "$work/one" "$work/out/startup.reference.tsv" --model "$model"
  s_ref+=("$wall_s"); ref_start_rss=$rss_mb
  echo "start-up run $i: voxsex ${s_vx[-1]} s, reference ${s_ref[-1]} s" >&2
done
same "$work/out/startup.voxsex.tsv" "$work/out/startup.reference.tsv" "start-up file"
row "start-up: one 4 s file, wall time, median (s)" "$(median "${s_vx[@]}")" \
    "$(median "${s_ref[@]}")" "$(ratio "$(median "${s_ref[@]}")" "$(median "${s_vx[@]}")")x faster"
row "start-up: peak RSS (MB)" "$vx_start_rss" "$ref_start_rss" ""

# Allocator: voxsex as built (jemalloc keeps freed pages) against jemalloc 5.3's defaults, which
# MALLOC_CONF overrides the built-in string with (freed pages go back after 10 s, 8 MiB and larger
# at once).
jemalloc_defaults=dirty_decay_ms:10000,muzzy_decay_ms:0
a_w=() a_f=() a_r=() d_w=() d_f=() d_r=()
for ((i = 1; i <= runs; i++)); do
  timed "alloc.built.$i" "$work/out/alloc.built.$i.tsv" \
    "$voxsex" -q predict "$data" "$work/out/alloc.built.$i.tsv" --model "$model"
  a_w+=("$wall_s"); a_f+=("$faults"); a_r+=("$rss_mb")
  same "$work/out/test.voxsex.1.tsv" "$work/out/alloc.built.$i.tsv" "allocator as built, run $i"
  timed "alloc.defaults.$i" "$work/out/alloc.defaults.$i.tsv" \
    env MALLOC_CONF=$jemalloc_defaults \
    "$voxsex" -q predict "$data" "$work/out/alloc.defaults.$i.tsv" --model "$model"
  d_w+=("$wall_s"); d_f+=("$faults"); d_r+=("$rss_mb")
  same "$work/out/test.voxsex.1.tsv" "$work/out/alloc.defaults.$i.tsv" "jemalloc defaults, run $i"
  echo "allocator run $i, predict: as built ${a_w[-1]} s, defaults ${d_w[-1]} s" >&2
done
row "allocator: predict, test split, as built vs jemalloc defaults, median (s)" \
    "$(median "${a_w[@]}")" "$(median "${d_w[@]}")" "$(ratio "$(median "${d_w[@]}")" "$(median "${a_w[@]}")")x faster"
row "allocator: predict, minor page faults, median" "$(median "${a_f[@]}")" "$(median "${d_f[@]}")" ""
row "allocator: predict, peak RSS, max of runs (MB)" "$(maxof "${a_r[@]}")" "$(maxof "${d_r[@]}")" \
    "$(ratio "$(maxof "${a_r[@]}")" "$(maxof "${d_r[@]}")")"

if ((train_bench)); then
  corpus=$(dirname "$train")
  [ -s "$train/targets.tsv" ] && [ -s "$corpus/meta.tsv" ] && [ -d "$corpus/noise" ] ||
    { echo "bench.sh: '$train' needs targets.tsv, and meta.tsv and noise/ beside it (--train)" >&2; exit 2; }
  awk 'NR % 20 == 0' "$train/targets.tsv" > "$work/out/train_subset.tsv"
  /usr/bin/python3 scripts/model/export_model.py "$work/out/untrained.pt" \
    --arch ecapa --head gender_age --seed 0 > /dev/null
  t_w=() t_f=() t_r=() u_w=() u_f=() u_r=()
  for ((i = 1; i <= runs; i++)); do
    for conf in built defaults; do
      rm -rf "$work/out/train.$conf.pt" "$work/out/train.$conf.training.tsv" "$work/out/train.$conf.pt.checkpoint"
      env_conf=()
      [ "$conf" = defaults ] && env_conf=(MALLOC_CONF=$jemalloc_defaults)
      timed "train.$conf.$i" "$work/out/train.$conf.pt" env "${env_conf[@]}" OMP_WAIT_POLICY=PASSIVE \
        "$voxsex" -q train --targets "$work/out/train_subset.tsv" --audio-dir "$train" \
        --groups "$corpus/meta.tsv" --init "$work/out/untrained.pt" --out "$work/out/train.$conf.pt" \
        --val-fraction 0.2 --epochs 1 --batch-size 32 --lr 0.002 --weight-decay 0.01 --seed 1 \
        --threads 1 --crop-min 1 --crop-max 4 --gain-db 12 --max-files-per-speaker 30 \
        --child-weight 3 --noise-prob 0.5 --snr-min 0 --snr-max 25 --noise-dir "$corpus/noise" \
        --reverb-prob 0.2 --telephone-prob 0.15 --clip-prob 0.05 --pitch-prob 0.4 \
        --pitch-semitones 4 --tilt-prob 0.3 --vad 0 --speed-prob 0.4 --speed-range 0.25 \
        --child-speed-scale 0 --child-augment-scale 0.5
      if [ "$conf" = built ]; then t_w+=("$wall_s"); t_f+=("$faults"); t_r+=("$rss_mb")
      else u_w+=("$wall_s"); u_f+=("$faults"); u_r+=("$rss_mb"); fi
    done
    # The epoch's loss and accuracies (every column but the seconds) must be the same.
    if ! cmp -s <(cut -f1-6 "$work/out/train.built.training.tsv") \
                <(cut -f1-6 "$work/out/train.defaults.training.tsv"); then
      identical=no
      echo "bench.sh: training logs differ between allocator settings, run $i" >&2
    fi
    echo "allocator run $i, train: as built ${t_w[-1]} s, defaults ${u_w[-1]} s" >&2
  done
  row "allocator: train 1 epoch ($(wc -l < "$work/out/train_subset.tsv") files, --threads 1), median (s)" \
      "$(median "${t_w[@]}")" "$(median "${u_w[@]}")" "$(ratio "$(median "${u_w[@]}")" "$(median "${t_w[@]}")")x faster"
  row "allocator: train, minor page faults, median" "$(median "${t_f[@]}")" "$(median "${u_f[@]}")" ""
  row "allocator: train, peak RSS, max of runs (MB)" "$(maxof "${t_r[@]}")" "$(maxof "${u_r[@]}")" \
      "$(ratio "$(maxof "${t_r[@]}")" "$(maxof "${u_r[@]}")")"
fi

echo "$runs runs each, alternating; $cpu, $threads cores; $(date -u +%Y-%m-%d); $("$voxsex" --version | head -1) ($voxsex), checkout $(git rev-parse --short HEAD)"
echo
echo "| measure | voxsex | reference | ratio |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo "| answers identical (every run, voxsex and reference; training losses by allocator) | $identical | | |"
[ "$identical" = yes ]
