#!/usr/bin/env bash
# Installs every Debian package voxsex needs (non-interactive, idempotent) and builds a Release
# binary with its tests in build/. Usage: scripts/setup.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}

packages=(
  build-essential cmake pkg-config
  libsndfile1-dev libfftw3-dev libsoxr-dev libtorch-dev libcli11-dev libspdlog-dev
  nlohmann-json3-dev libgtest-dev libjemalloc-dev
  # an optimised BLAS for LibTorch (it links libblas.so.3; Debian's default alternative is the
  # reference BLAS, which made `--threads 1` 4x slower); the OpenMP build shares LibTorch's libgomp
  libopenblas0-openmp
  # the voxsex(1) man page and the .deb (cpack -G DEB computes Depends with dpkg-shlibdeps)
  help2man dpkg-dev
  # the pictures of `voxsex eval --report` (scripts/eval/plot_report.py)
  python3-matplotlib
  # the benchmarks (bench/, scripts/bench/bench.sh: Google Benchmark, GNU time, Python reference)
  libbenchmark-dev time python3-soundfile
  # the libFuzzer target (scripts/ci/fuzz.sh)
  clang-14 libfuzzer-14-dev
  # only for the scripts that export the architecture and regenerate test data (opusenc: the
  # robustness suite's Opus condition)
  python3-torch python3-torchaudio sox libsox-fmt-all opus-tools
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
      echo "setup: missing packages; as root run: apt-get install ${missing[*]}" >&2
      exit 1
    fi
    sudo="sudo"
  fi
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j "$(nproc)"
echo "setup: built $build_dir/voxsex" >&2
