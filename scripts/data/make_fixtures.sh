#!/usr/bin/env bash
# Builds the small end-to-end fixtures in tests/data/ from the voxsex-data corpus.
#
# Usage: scripts/data/make_fixtures.sh [CORPUS_DIR]
#   CORPUS_DIR defaults to ../shared/voxsex-data relative to the repository root.
#
# Writes (overwrites) tests/data/clip_*.{aiff,flac,wav,mp3,ogg}, tests/data/expected_answers.tsv
# (id<TAB>gender, 0 = male, 1 = female, no header, sorted by id, like the corpus targets.tsv)
# and tests/data/fixtures.tsv. Deterministic: the clips are picked by a fixed rule and sox runs in
# repeatable mode (-R: fixed dither and Ogg serial seeds, no timestamps), so a rerun gives
# identical bytes with the same sox build (produced with SoX v14.4.2 on Debian 12,
# libsox-fmt-all: libmp3lame for MP3, libvorbis for Ogg Vorbis).
#
# Selection rule: for each (source, gender) pair in the table below, the first id in byte order
# (LC_ALL=C) of meta.tsv rows with split in {train, dev} (never test), age_group == adult.
# Clips longer than 4 s are cut to their first 4 s (sox trim 0 4).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
corpus="${1:-${repo_root}/../shared/voxsex-data}"
out_dir="${repo_root}/tests/data"
max_duration_s=4

for tool in sox soxi awk sort; do
  command -v "${tool}" >/dev/null || { echo "make_fixtures: '${tool}' not found" >&2; exit 1; }
done
[[ -f "${corpus}/meta.tsv" ]] || { echo "make_fixtures: no meta.tsv in '${corpus}'" >&2; exit 1; }
mkdir -p "${out_dir}"

# n  source            gender  id suffix            ext   sox output options
fixtures=(
  "1 audiomnist_az    0 aiff24_32k_stereo  aiff -b 24 -e signed-integer -r 32000 -c 2"
  "2 audiomnist_az    1 flac16_44k1_stereo flac -b 16 -r 44100 -c 2"
  "3 mini_librispeech 0 wav16_16k_mono     wav  -b 16 -e signed-integer -r 16000 -c 1"
  "4 mini_librispeech 1 mp3_48k_mono       mp3  -r 48000 -c 1 -C 128"
  "5 speechocean762   0 vorbis_22k05_mono  ogg  -r 22050 -c 1 -C 3"
  "6 speechocean762   1 ulaw_8k_mono       wav  -e u-law -b 8 -r 8000 -c 1"
)

rm -f "${out_dir}"/clip_*
answers_tmp="$(mktemp)"
fixtures_tmp="$(mktemp)"
trap 'rm -f "${answers_tmp}" "${fixtures_tmp}"' EXIT

for row in "${fixtures[@]}"; do
  read -r n source gender suffix ext opts <<<"${row}"
  # First adult train/dev clip of this source and gender, by id (byte order).
  line="$(awk -F'\t' -v s="${source}" -v g="${gender}" \
      'NR > 1 && ($2 == "train" || $2 == "dev") && $3 == s && $5 == g && $6 == "adult"' \
      "${corpus}/meta.tsv" | LC_ALL=C sort | head -n 1)"
  if [[ -z "${line}" ]]; then
    echo "make_fixtures: no clip for ${source} gender ${gender}" >&2
    exit 1
  fi
  IFS=$'\t' read -r src_id split _ speaker _ _ _ <<<"${line}"
  src="${corpus}/${split}/${src_id}.flac"
  id="clip_${n}_${suffix}"
  rate="$(awk '{for (i = 1; i < NF; ++i) if ($i == "-r") print $(i + 1)}' <<<"${opts}")"
  channels="$(awk '{for (i = 1; i < NF; ++i) if ($i == "-c") print $(i + 1)}' <<<"${opts}")"

  # Duration of the fixture = the source's, capped at 4 s (from the exact sample count).
  src_samples="$(soxi -s "${src}")"
  src_rate="$(soxi -r "${src}")"
  duration_s="$(awk -v n="${src_samples}" -v r="${src_rate}" -v m="${max_duration_s}" \
      'BEGIN { d = n / r; if (d > m) d = m; printf "%.4f", d }')"

  # shellcheck disable=SC2086  # opts is a list of sox options
  sox -R -V1 "${src}" ${opts} "${out_dir}/${id}.${ext}" \
      trim 0 "${max_duration_s}" rate -v "${rate}" channels "${channels}"

  printf '%s\t%s\n' "${id}" "${gender}" >>"${answers_tmp}"
  printf '%s\t%s.%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${id}" "${id}" "${ext}" "${src_id}" \
      "${split}" "${source}" "${speaker}" "${suffix}" "${rate}" "${channels}" "${duration_s}" \
      >>"${fixtures_tmp}"
done

LC_ALL=C sort "${answers_tmp}" >"${out_dir}/expected_answers.tsv"
{
  printf 'id\tfile\tsource_id\tsplit\tsource\tspeaker\tformat\t'
  printf 'sample_rate_hz\tchannels\tduration_s\n'
  LC_ALL=C sort "${fixtures_tmp}"
} >"${out_dir}/fixtures.tsv"

echo "make_fixtures: wrote ${#fixtures[@]} clips to ${out_dir}" >&2
du -ch "${out_dir}"/clip_* | tail -n 1 >&2
