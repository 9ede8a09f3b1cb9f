#!/usr/bin/env bash
# Writes the seed corpus of fuzz/fuzz_reader.cc: tiny valid audio files (20 ms of a chirp plus a
# tone) in every container and encoding libsndfile reads, so the fuzzer starts past each format's
# header checks. Seeds are generated, not committed; scripts/ci/fuzz.sh runs this when they are
# missing.
#
# Usage: fuzz/make_corpus.sh OUT_DIR
#   Replaces OUT_DIR's contents. Needs sox (libsox-fmt-all: MP3, Ogg Vorbis) and python3 (standard
#   library only), which writes through libsndfile itself the formats sox cannot (RF64, Opus...).
#
# Each seed is the file followed by one option byte (fuzz_reader reads its last byte as the
# target rate selector: 0 -> 16 kHz, 1 -> 8 kHz, 2 -> 44.1 kHz, 3 -> keep the file's rate); the
# seeds cycle through the four. Total size is about 90 KB.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: fuzz/make_corpus.sh OUT_DIR" >&2
  exit 2
fi
out_dir=$1
for tool in sox python3; do
  command -v "${tool}" >/dev/null || {
    echo "make_corpus: '${tool}' not found (scripts/setup.sh installs it)" >&2
    exit 1
  }
done

tmp=$(mktemp -d)
trap 'rm -rf "${tmp}"' EXIT

# name              sox output options (the extension picks the container)
sox_seeds=(
  "wav_u8_8k_mono.wav         -r 8000   -c 1 -b 8  -e unsigned-integer"
  "wav_s16_16k_stereo.wav     -r 16000  -c 2 -b 16"
  "wav_s24_44k_stereo.wav     -r 44100  -c 2 -b 24"
  "wav_s32_48k_mono.wav       -r 48000  -c 1 -b 32"
  "wav_f32_16k_stereo.wav     -r 16000  -c 2 -b 32 -e floating-point"
  "wav_f64_8k_mono.wav        -r 8000   -c 1 -b 64 -e floating-point"
  "wav_s16_192k_mono.wav      -r 192000 -c 1 -b 16"
  "wav_s16_16k_6ch.wav        -r 16000  -c 6 -b 16"
  "wav_s16_22k_8ch.wav        -r 22050  -c 8 -b 16"
  "wav_ulaw_8k.wav            -r 8000   -c 1 -e u-law"
  "wav_alaw_8k.wav            -r 8000   -c 1 -e a-law"
  "wav_ima_adpcm_16k.wav      -r 16000  -c 1 -e ima-adpcm"
  "wav_ms_adpcm_16k_stereo.wav -r 16000 -c 2 -e ms-adpcm"
  "wav_gsm_8k.wav             -r 8000   -c 1 -e gsm-full-rate"
  "flac_s16_16k.flac          -r 16000  -c 1 -b 16"
  "flac_s24_44k_stereo.flac   -r 44100  -c 2 -b 24"
  "vorbis_16k.ogg             -r 16000  -c 1 -C -1"
  "mp3_16k.mp3                -r 16000  -c 1 -C 8"
  "mp3_44k_stereo.mp3         -r 44100  -c 2 -C 32"
  "aiff_s16_16k.aiff          -r 16000  -c 1 -b 16"
  "aifc_f32_16k.aifc          -r 16000  -c 1 -b 32 -e floating-point"
  "au_ulaw_8k.au              -r 8000   -c 1 -e u-law"
  "au_s16_16k_stereo.au       -r 16000  -c 2 -b 16"
  "caf_s16_16k.caf            -r 16000  -c 1 -b 16"
  "w64_s16_16k.w64            -r 16000  -c 1 -b 16"
  "voc_u8_8k.voc              -r 8000   -c 1 -b 8"
  "ircam_s16_16k.sf           -r 16000  -c 1 -b 16"
  "nist_s16_16k.sph           -r 16000  -c 1 -b 16"
  "htk_s16_16k.htk            -r 16000  -c 1 -b 16"
  "paf_s16_16k.paf            -r 16000  -c 1 -b 16"
  "xi_s16_16k.xi              -r 16000  -c 1 -b 16"
  "mat5_s16_16k.mat5          -r 16000  -c 1 -b 16"
  "mat4_s16_16k.mat4          -r 16000  -c 1 -b 16"
  "avr_s16_16k.avr            -r 16000  -c 1 -b 16"
  "svx_s8_16k.8svx            -r 16000  -c 1 -b 8"
  "wve_8k.wve                 -r 8000   -c 1"
  "pvf_s16_16k.pvf            -r 16000  -c 1 -b 16"
  "sds_s16_16k.sds            -r 16000  -c 1 -b 16"
)
for entry in "${sox_seeds[@]}"; do
  read -r name options <<<"${entry}"
  # The 192 kHz seed is 10 ms so it stays under 8 KB. -R: repeatable output (fixed dither seed).
  length_s=0.02
  [[ ${name} == *192k* ]] && length_s=0.01
  # shellcheck disable=SC2086  # options is a list of words
  if ! sox -R -V1 -n ${options} "${tmp}/${name}" synth "${length_s}" sine 200-3000 sine 450; then
    echo "make_corpus: sox could not write ${name} (options: ${options})" >&2
    exit 1
  fi
done

# Formats sox cannot write, written by libsndfile (the reader under test) through ctypes.
python3 - "${tmp}" <<'EOF'
import array
import ctypes
import ctypes.util
import math
import sys

out_dir = sys.argv[1]
path = ctypes.util.find_library("sndfile") or "libsndfile.so.1"
lib = ctypes.CDLL(path)


class SF_INFO(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int),
                ("channels", ctypes.c_int), ("format", ctypes.c_int),
                ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]


lib.sf_open.restype = ctypes.c_void_p
lib.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(SF_INFO)]
lib.sf_writef_float.restype = ctypes.c_int64
lib.sf_writef_float.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
lib.sf_close.argtypes = [ctypes.c_void_p]
lib.sf_strerror.restype = ctypes.c_char_p
lib.sf_strerror.argtypes = [ctypes.c_void_p]

SFM_WRITE = 0x20
# From /usr/include/sndfile.h (libsndfile 1.2).
WAV, AIFF, AU, W64, CAF, RF64, FLAC, OGG, MPC2K, WAVEX, MPEG = (
    0x010000, 0x020000, 0x030000, 0x0B0000, 0x180000, 0x220000, 0x170000, 0x200000,
    0x210000, 0x130000, 0x230000)
PCM_S8, PCM_16, PCM_24, FLOAT, DOUBLE, G721_32, G723_40, DWVW_16, IMA_ADPCM = (
    0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0030, 0x0032, 0x0041, 0x0012)
VORBIS, OPUS, ALAC_16, MPEG_LAYER_III = 0x0060, 0x0064, 0x0070, 0x0082

# name, container | encoding, rate (Hz), channels
seeds = [
    ("rf64_s16_16k.rf64", RF64 | PCM_16, 16000, 1),
    ("rf64_f32_44k_stereo.rf64", RF64 | FLOAT, 44100, 2),
    ("opus_16k.opus", OGG | OPUS, 16000, 1),
    ("opus_48k_stereo.opus", OGG | OPUS, 48000, 2),
    ("caf_alac_44k.caf", CAF | ALAC_16, 44100, 1),
    ("mpc2k_s16_44k.mpc2k", MPC2K | PCM_16, 44100, 1),
    ("wavex_f32_16k_4ch.wav", WAVEX | FLOAT, 16000, 4),
    ("wav_g721_8k.wav", WAV | G721_32, 8000, 1),
    ("au_g723_40_8k.au", AU | G723_40, 8000, 1),
    ("aiff_dwvw16_16k.aiff", AIFF | DWVW_16, 16000, 1),
    ("w64_ima_adpcm_16k.w64", W64 | IMA_ADPCM, 16000, 1),
    ("caf_f64_8k.caf", CAF | DOUBLE, 8000, 1),
    ("flac_s8_8k_3ch.flac", FLAC | PCM_S8, 8000, 3),
    ("mp3_lsf_8k.mp3", MPEG | MPEG_LAYER_III, 8000, 1),
]
for name, fmt, rate, channels in seeds:
    num_frames = int(0.02 * rate)
    samples = array.array("f")  # interleaved float32, the same value in every channel
    for i in range(num_frames):
        t = i / rate
        x = 0.4 * math.sin(2 * math.pi * (200 + 70000 * t) * t) + 0.3 * math.sin(2 * math.pi * 450 * t)
        samples.extend([x] * channels)
    info = SF_INFO(0, rate, channels, fmt, 0, 0)
    file = lib.sf_open(f"{out_dir}/{name}".encode(), SFM_WRITE, ctypes.byref(info))
    if not file:
        sys.exit(f"make_corpus: libsndfile cannot write {name}: {lib.sf_strerror(None).decode()}")
    address, _ = samples.buffer_info()
    written = lib.sf_writef_float(file, address, num_frames)
    lib.sf_close(file)
    if written != num_frames:
        sys.exit(f"make_corpus: libsndfile wrote {written} of {num_frames} frames of {name}")
EOF

# Append the option byte, cycling through the four rate choices in name order.
rm -rf "${out_dir}"
mkdir -p "${out_dir}"
i=0
while IFS= read -r file; do
  byte=$((i % 4))
  { cat "${file}"; printf '%b' "\\x0${byte}"; } >"${out_dir}/$(basename "${file}").rate${byte}"
  i=$((i + 1))
done < <(find "${tmp}" -type f | LC_ALL=C sort)
echo "make_corpus: wrote ${i} seeds ($(du -sb "${out_dir}" | cut -f1) bytes) to ${out_dir}" >&2
