#!/usr/bin/python3
"""Generates the hostile corpus: a directory of broken, odd and degenerate audio files mixed with
good ones, and expected.tsv saying what `voxsex predict` must do with each.

Usage: /usr/bin/python3 scripts/data/make_hostile_corpus.py OUT_DIR
  OUT_DIR is emptied and refilled: OUT_DIR/audio/ holds the corpus, OUT_DIR/expected.tsv the
  expectations. Deterministic (fixed seeds). Needs numpy and sox (scripts/setup.sh installs both).

Every file is derived from tests/data/clip_3_wav16_16k_mono.wav (4 s of adult male speech,
16-bit 16 kHz mono, label 0 in tests/data/expected_answers.tsv) or is synthetic.

expected.tsv columns (header line first):
  name     file name inside audio/
  outcome  ok: classified (a line in answers.tsv and scores.tsv)
           fail: refused (a row in --errors, a line on stderr naming the file)
           fail_unless_root: fail, but root reads any file (permission test)
           ignored: not an audio file for voxsex (a directory named x.wav): in no output
  flags    ok: the exact flags column of scores.tsv ("-" for none); otherwise "-"
  gender   ok: the answer the lossless copies of the clip must get (0); "-" when not checked
  reason   fail: a substring the reason must contain; "-" when the reason is libsndfile's own
"""
import math
import os
import shutil
import struct
import subprocess
import sys
import wave

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIP = os.path.join(REPO, "tests", "data", "clip_3_wav16_16k_mono.wav")
CLIP_GENDER = "0"
FIXTURES = os.path.join(REPO, "tests", "data")

# WAVE format tags (mmreg.h).
PCM, IEEE_FLOAT = 1, 3


def read_clip():
    """The clip as float64 samples in [-1, 1] and its rate."""
    with wave.open(CLIP, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float64) / 32768.0, rate


def wav_bytes(frames, rate, fmt, bits, data=None, channels=None, data_size=None, riff_size=None,
              block_align=None):
    """A RIFF/WAVE file. `frames` is [n] or [n, channels] float in [-1, 1]; the header fields can
    be overridden to lie (channels, data_size, riff_size, block_align)."""
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim == 1:
        frames = frames[:, None]
    num_channels = frames.shape[1]
    if data is None:
        if fmt == IEEE_FLOAT:
            data = frames.astype("<f4" if bits == 32 else "<f8").tobytes()
        elif bits == 8:  # unsigned
            data = np.clip(np.round(frames * 127.0 + 128.0), 0, 255).astype(np.uint8).tobytes()
        elif bits == 16:
            data = np.clip(np.round(frames * 32767.0), -32768, 32767).astype("<i2").tobytes()
        elif bits == 24:
            ints = np.clip(np.round(frames * 8388607.0), -8388608, 8388607).astype("<i4")
            data = b"".join(int(v).to_bytes(4, "little", signed=True)[:3] for v in ints.ravel())
        elif bits == 32:
            data = np.clip(np.round(frames * 2147483647.0), -2147483648,
                           2147483647).astype("<i4").tobytes()
        else:
            raise ValueError(bits)
    channels = num_channels if channels is None else channels
    align = channels * bits // 8 if block_align is None else block_align
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * align, align, bits)
    size = len(data) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
    if fmt == IEEE_FLOAT:  # float WAV files carry a fact chunk with the frame count
        body += b"fact" + struct.pack("<II", 4, len(data) // max(1, align))
    body += b"data" + struct.pack("<I", size & 0xFFFFFFFF) + data
    riff = len(body) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", riff & 0xFFFFFFFF) + body


def sox(src, dst, *effects):
    """Converts `src` to `dst` with sox effects, in repeatable mode (fixed dither seed)."""
    subprocess.run(["sox", "-R", src, dst, *effects], check=True)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_hostile_corpus.py OUT_DIR")
    out = sys.argv[1]
    audio = os.path.join(out, "audio")
    if os.path.isdir(out):
        for root, dirs, files in os.walk(out):  # unreadable files from an earlier run
            for name in dirs + files:
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    os.chmod(path, 0o755)
        shutil.rmtree(out)
    os.makedirs(audio)
    speech, rate = read_clip()
    rng = np.random.default_rng(20261121)
    expected = []

    def put(name, content, outcome, flags="-", gender="-", reason="-"):
        if content is not None:
            with open(os.path.join(audio, name), "wb") as f:
                f.write(content)
        expected.append((name, outcome, flags, gender, reason))

    def ok(name, content, flags="-", gender="-"):
        put(name, content, "ok", flags=flags, gender=gender)

    def fail(name, content, reason="-"):
        put(name, content, "fail", reason=reason)

    # --- good files, in every sample format, channel count and rate ------------------------------
    clean = open(CLIP, "rb").read()
    ok("ref_pcm16.wav", clean, gender=CLIP_GENDER)
    ok("pcm_u8.wav", wav_bytes(speech, rate, PCM, 8))
    ok("pcm_s24.wav", wav_bytes(speech, rate, PCM, 24), gender=CLIP_GENDER)
    ok("pcm_s32.wav", wav_bytes(speech, rate, PCM, 32), gender=CLIP_GENDER)
    ok("float32.wav", wav_bytes(speech, rate, IEEE_FLOAT, 32), gender=CLIP_GENDER)
    ok("float64.wav", wav_bytes(speech, rate, IEEE_FLOAT, 64), gender=CLIP_GENDER)
    for channels in range(2, 9):  # the speech in every channel
        ok(f"ch{channels}.wav", wav_bytes(np.repeat(speech[:, None], channels, axis=1), rate,
                                          PCM, 16), gender=CLIP_GENDER)
    # Speech in one channel of eight, the others silent: a downmix 18 dB lower, still speech.
    eight = np.zeros((len(speech), 8))
    eight[:, 3] = speech
    ok("ch8_one_live.wav", wav_bytes(eight, rate, PCM, 16), flags="low_level")
    ok("ch64.wav", wav_bytes(np.repeat(speech[:, None], 64, axis=1), rate, PCM, 16),
       gender=CLIP_GENDER)
    for r in (8000, 11025, 22050, 32000, 44100, 48000, 96000, 192000):
        sox(CLIP, os.path.join(audio, f"rate_{r}.wav"), "rate", "-h", str(r))
        ok(f"rate_{r}.wav", None, gender=CLIP_GENDER if r >= 16000 else "-")
    sox(CLIP, os.path.join(audio, "rate_4000.wav"), "rate", "-h", "4000")
    ok("rate_4000.wav", None)
    # Other containers and codecs, from the committed fixtures.
    for name in ("clip_2_flac16_44k1_stereo.flac", "clip_4_mp3_48k_mono.mp3",
                 "clip_5_vorbis_22k05_mono.ogg", "clip_1_aiff24_32k_stereo.aiff"):
        shutil.copyfile(os.path.join(FIXTURES, name), os.path.join(audio, name))
        ok(name, None)
    # Names: upper-case extensions, spaces, non-ASCII.
    ok("UPPER.WAV", clean, gender=CLIP_GENDER)
    shutil.copyfile(os.path.join(FIXTURES, "clip_2_flac16_44k1_stereo.flac"),
                    os.path.join(audio, "Mixed Case.FLAC"))
    ok("Mixed Case.FLAC", None)
    ok("with  two spaces.wav", clean, gender=CLIP_GENDER)
    ok("ñandú 音声 ü.wav", clean, gender=CLIP_GENDER)
    # A header that claims gigabytes of data (and a RIFF size to match): read to the real end.
    ok("claims_4gb.wav", wav_bytes(speech, rate, PCM, 16, data_size=0xFFFFFFF0,
                                   riff_size=0xFFFFFFF8), gender=CLIP_GENDER)
    # Truncated data: the header claims 4 s, the file stops after 1.5 s (and mid-sample).
    full = wav_bytes(speech, rate, PCM, 16)
    ok("truncated_data.wav", full[:44 + int(1.5 * rate) * 2 + 1])

    # --- degenerate but readable audio: classified with a flag, or refused -----------------------
    ok("short_0s5.wav", wav_bytes(speech[int(0.5 * rate):int(1.0 * rate)], rate, PCM, 16),
       flags="too_short")
    ok("low_level.wav", wav_bytes(speech * 10 ** (-40 / 20), rate, PCM, 16), flags="low_level")
    ok("clipped.wav", wav_bytes(np.clip(speech * 30.0, -1.0, 1.0), rate, PCM, 16),
       flags="clipped")
    ok("dc_offset.wav", wav_bytes(np.clip(speech + 0.3, -1.0, 1.0), rate, PCM, 16),
       flags="dc_offset")
    sprinkled = speech.copy()
    where = rng.choice(len(sprinkled), size=200, replace=False)
    sprinkled[where[:100]] = np.nan
    sprinkled[where[100:150]] = np.inf
    sprinkled[where[150:]] = -np.inf
    ok("nan_inf_some.wav", wav_bytes(sprinkled, rate, IEEE_FLOAT, 32), flags="nonfinite")
    # Full-scale square wave at 150 Hz: readable, clipped, not speech; classified with the flags.
    t = np.arange(2 * rate) / rate
    ok("square_full_scale.wav", wav_bytes(np.sign(np.sin(2 * math.pi * 150 * t)), rate, PCM, 16),
       flags="no_speech,clipped")
    # Readable, but no speech in it: steady noise and a pure tone are classified, flagged.
    ok("noise_only.wav", wav_bytes(rng.normal(0.0, 0.05, 2 * rate), rate, PCM, 16),
       flags="no_speech")
    ok("tone_440.wav", wav_bytes(0.3 * np.sin(2 * math.pi * 440 * t), rate, PCM, 16),
       flags="no_speech")
    fail("silence.wav", wav_bytes(np.zeros(2 * rate), rate, PCM, 16), reason="digital silence")
    fail("dc_only.wav", wav_bytes(np.full(2 * rate, 0.5), rate, PCM, 16),
         reason="constant (DC) signal")
    fail("nan_all.wav", wav_bytes(np.full(rate, np.nan), rate, IEEE_FLOAT, 32),
         reason="NaN or infinite")
    fail("inf_all.wav", wav_bytes(np.full(rate, np.inf), rate, IEEE_FLOAT, 64),
         reason="NaN or infinite")
    fail("few_samples.wav", wav_bytes(speech[8000:8010], rate, PCM, 16), reason="too short")
    fail("one_sample.wav", wav_bytes(speech[8000:8001], rate, PCM, 16), reason="too short")
    # Channels cancelling out: the mono downmix is digital silence.
    fail("ch2_antiphase.wav", wav_bytes(np.stack([speech, -speech], axis=1), rate, PCM, 16),
         reason="digital silence")
    # Absurd sample rates in otherwise valid headers.
    fail("rate_1hz.wav", wav_bytes(speech, 1, PCM, 16), reason="sample rate")
    fail("rate_2000.wav", wav_bytes(speech, 2000, PCM, 16), reason="sample rate")
    fail("rate_2ghz.wav", wav_bytes(speech, 2_000_000_000, PCM, 16), reason="sample rate")

    # --- broken files ----------------------------------------------------------------------------
    fail("zero_bytes.wav", b"", reason="empty file (0 bytes)")
    fail("text_renamed.wav", b"id\tgender\nthis is a text file, not audio\n" * 20,
         reason="not a readable audio file")
    fail("truncated_header.wav", full[:20], reason="not a readable audio file")
    fail("header_only.wav", full[:44], reason="no audio frames")
    fail("zero_channels.wav", wav_bytes(speech, rate, PCM, 16, channels=0))
    fail("zero_hz.wav", wav_bytes(speech, 0, PCM, 16))
    # A block align of 0 in the header: libsndfile recomputes it from channels and bits.
    ok("block_align_0.wav", wav_bytes(speech, rate, PCM, 16, block_align=0), gender=CLIP_GENDER)
    for ext in ("wav", "flac", "mp3", "ogg", "aiff"):
        fail(f"random_bytes_{ext}.{ext}", rng.bytes(20000), reason="not a readable audio file")
    # A FLAC and an Ogg cut in half.
    flac = open(os.path.join(FIXTURES, "clip_2_flac16_44k1_stereo.flac"), "rb").read()
    open(os.path.join(audio, "flac_half.flac"), "wb").write(flac[:len(flac) // 2])
    # What decodes before the cut: 0.46 s, the pause before the speech.
    ok("flac_half.flac", None, flags="no_speech,too_short")
    # Two files with one id: neither answer could be told apart, so both fail.
    put("same_id.wav", clean, "fail", reason="is also the id of")
    shutil.copyfile(os.path.join(FIXTURES, "clip_2_flac16_44k1_stereo.flac"),
                    os.path.join(audio, "same_id.flac"))
    put("same_id.flac", None, "fail", reason="is also the id of")
    # Not files: a directory named like audio, dangling and looping symlinks.
    os.makedirs(os.path.join(audio, "folder.wav"))
    put("folder.wav", None, "ignored")
    os.symlink("does_not_exist.wav", os.path.join(audio, "dangling.wav"))
    fail("dangling.wav", None, reason="broken symbolic link")
    os.symlink("loop.wav", os.path.join(audio, "loop.wav"))
    fail("loop.wav", None, reason="Too many levels of symbolic links")
    # Unreadable (mode 000); root reads it anyway.
    put("unreadable.wav", clean, "fail_unless_root", reason="Permission denied")
    os.chmod(os.path.join(audio, "unreadable.wav"), 0)
    # Not audio by extension: not listed at all.
    with open(os.path.join(audio, "notes.txt"), "w") as f:
        f.write("not audio\n")
    put("notes.txt", None, "ignored")

    with open(os.path.join(out, "expected.tsv"), "w", encoding="utf-8") as f:
        f.write("name\toutcome\tflags\tgender\treason\n")
        for row in sorted(expected):
            f.write("\t".join(row) + "\n")
    print(f"make_hostile_corpus: {len(expected)} entries in {audio}", file=sys.stderr)


if __name__ == "__main__":
    main()
