#!/usr/bin/python3
"""Synthetic multi-speaker conversations for `voxsex segment` (issue 15), deterministic.

From the adult LibriSpeech and speechocean762 speakers of one split of voxsex-data (--split train
to train segment's speech detector, scripts/model/train_vad.sh; --split dev for tuning; --split
test for the final measurement), or of those of its files that a targets file lists (--ids, as
make_selection_fold.py's selection_targets.tsv and train_targets.tsv): COUNT files of 2-5 minutes,
each with 2-4 adult speakers of both genders, turns of 2-20 s (a speaker's clips,
leading/trailing silence trimmed, joined and cut to the turn length, levelled to -26 dBFS RMS),
about one turn in five by the previous speaker again, gaps of 0.2-2 s of digital silence or of
noise/ clips at -50 dBFS RMS. Writes
  OUT/clean/<id>.flac   16 kHz mono
  OUT/phone/<id>.wav    the same through a telephone channel: 300-3400 Hz band-pass (biquads),
                        8 kHz, mu-law
  OUT/truth.tsv         header id start_s end_s label (male/female), one row per stretch of
                        speech: a turn less its pauses of 0.3 s or more (frames 35 dB under the
                        turn's loudest, the rule that trims the clips, or less than 10 dB over
                        the noise floor of the recording they come from; the second rule since
                        the afternoon of 2026-12-03)
  OUT/truth_turns.tsv   the same with one row per whole turn, pauses included (the definition
                        before 2026-12-03)
  OUT/speakers.tsv      header id speaker label, one row per speaker of each file, by id then
                        speaker
Usage: /usr/bin/python3 scripts/data/make_conversations.py --split dev --out /tmp/conv_dev
Needs numpy, soundfile, torch and torchaudio (made with torch 1.13 / torchaudio 0.13 on Debian 12).
"""
import argparse
import csv
import os
import random
import sys

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from id_list import read_ids

RATE = 16000
SPEECH_DBFS = -26.0
NOISE_DBFS = -50.0
# The truth's second rule: a frame less than FLOOR_MARGIN_DB over its recording's noise floor (the
# FLOOR_PERCENTILE-th percentile of the recording's frame energies) is not speech. A quarter of
# the dev split's LibriSpeech and speechocean762 recordings (25-33% by source) have their floor
# within 35 dB of their loudest frame; without this rule their silences (0.3-1 s at each end)
# counted as speech.
FLOOR_PERCENTILE = 5.0
FLOOR_MARGIN_DB = 10.0
# Sources of long, quiet-room utterances: the digit corpora are too short to make turns of, and
# the phone and webcam recordings (baved, alphanumeric) carry noise floors that levelling to
# SPEECH_DBFS would turn into seconds of loud "speech" without speech in the truth.
SOURCES = {"mini_librispeech", "librispeech_more", "speechocean762"}


def rms_db(x):
    return 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)


def frame_db(x):
    """Energies of x's whole 10 ms frames, dB (10 log10 of the mean square)."""
    hop = RATE // 100
    n = len(x) // hop
    return 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1) + 1e-12)


def noise_floor_db(x):
    """A recording's noise floor: the FLOOR_PERCENTILE-th percentile of its 10 ms frame energies,
    dB (the level of its pauses; speech lies above it)."""
    return float(np.percentile(frame_db(x), FLOOR_PERCENTILE))


def trim(x):
    """Drops leading and trailing 10 ms frames more than 35 dB under the loudest frame."""
    hop = RATE // 100
    if len(x) // hop < 3:
        return x
    e = frame_db(x)
    keep = np.nonzero(e >= e.max() - 35)[0]
    return x[keep[0] * hop : (keep[-1] + 1) * hop]


def speech_runs(x, floor_db, min_pause_s=0.3):
    """[(start_s, end_s)] of x's speech: x less its pauses, runs lasting at least min_pause_s of
    10 ms frames that are more than 35 dB under x's loudest frame (trim's rule) or less than
    FLOOR_MARGIN_DB over the noise floor of the recording they come from (floor_db: per sample,
    -inf where no recording plays). Shorter pauses stay speech, as the NIST Rich Transcription
    evaluations bridge pauses under 0.3 s within a speaker's turn."""
    hop = RATE // 100
    e = frame_db(x)
    n = len(e)
    floor = floor_db[: n * hop].reshape(n, hop).max(axis=1)
    quiet = (e < e.max() - 35) | (e < floor + FLOOR_MARGIN_DB)
    runs, start, t = [], 0, 0
    while t < n:
        if not quiet[t]:
            t += 1
            continue
        u = t
        while u < n and quiet[u]:
            u += 1
        if u - t >= min_pause_s * 100 and t > start:
            runs.append((start, t))
        if u - t >= min_pause_s * 100:
            start = u
        t = u
    if start < n:
        runs.append((start, n))
    return [(a / 100, b / 100) for a, b in runs]


def read(path):
    x, rate = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if rate != RATE:
        x = AF.resample(torch.from_numpy(x), rate, RATE).numpy()
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", required=True, choices=["train", "dev", "test"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../../shared/voxsex-data"))
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--ids",
                    help="only the split's files listed in this targets file (first column)")
    a = ap.parse_args()
    rng = random.Random(f"{a.seed}-{a.split}")
    wanted = None if a.ids is None else read_ids(a.ids, "make_conversations.py")

    speakers = {}  # speaker -> (gender, [ids])
    in_split = set()
    with open(os.path.join(a.data, "meta.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["split"] != a.split:
                continue
            in_split.add(row["id"])
            if row["age_group"] != "adult" or (wanted is not None and row["id"] not in wanted):
                continue
            if row["source"] not in SOURCES:
                continue
            g, ids = speakers.setdefault(row["speaker"], (int(row["gender"]), []))
            ids.append(row["id"])
    if wanted is not None and not wanted <= in_split:
        missing = sorted(wanted - in_split)
        sys.exit(f"make_conversations.py: {a.ids}: {len(missing)} ids not among split {a.split}'s "
                 f"files in meta.tsv (first: {missing[0]})")
    files = {os.path.splitext(n)[0]: os.path.join(a.data, a.split, n)
             for n in os.listdir(os.path.join(a.data, a.split))}
    by_gender = {g: sorted(s for s, (gg, _) in speakers.items() if gg == g) for g in (0, 1)}
    noise_dir = os.path.join(a.data, "noise")
    noises = sorted(n for n in os.listdir(noise_dir) if n.endswith(".opus"))
    cache = {}

    def clip(i):
        if i not in cache:
            x = trim(read(files[i]))
            x = x * (10 ** ((SPEECH_DBFS - rms_db(x)) / 20))
            cache[i] = (x, noise_floor_db(x))
        return cache[i]

    os.makedirs(os.path.join(a.out, "clean"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "phone"), exist_ok=True)
    truth, turns, cast = [], [], []
    for k in range(a.count):
        cid = f"conv_{a.split}_{k:02d}"
        n_spk = rng.randint(2, 4)
        males = rng.randint(1, n_spk - 1)
        spk = rng.sample(by_gender[0], males) + rng.sample(by_gender[1], n_spk - males)
        cast.extend((cid, s, "female" if speakers[s][0] == 1 else "male") for s in sorted(spk))
        target_s = rng.uniform(120, 300)
        parts, t, prev = [], 0.0, None
        while t < target_s:
            s = prev if prev is not None and rng.random() < 0.2 else rng.choice([x for x in spk if x != prev])
            gender, ids = speakers[s]
            turn_s = rng.uniform(2, 20)
            pieces, floors, n = [], [], 0
            while n < turn_s * RATE:
                x, floor_db = clip(rng.choice(ids))
                pieces.append(x)
                floors.append(np.full(len(x), floor_db))
                n += len(x)
                if n < turn_s * RATE:  # a short breath between a speaker's clips
                    pause = np.zeros(int(rng.uniform(0.05, 0.2) * RATE), np.float32)
                    pieces.append(pause)
                    floors.append(np.full(len(pause), -np.inf))
                    n += len(pause)
            turn = np.concatenate(pieces)[: int(turn_s * RATE)]
            turn_floor = np.concatenate(floors)[: len(turn)]
            if parts:
                gap_n = int(rng.uniform(0.2, 2.0) * RATE)
                if rng.random() < 0.5:
                    gap = np.zeros(gap_n, np.float32)
                else:
                    noise = read(os.path.join(noise_dir, rng.choice(noises)))
                    noise = np.tile(noise, gap_n // len(noise) + 1)[:gap_n]
                    gap = noise * (10 ** ((NOISE_DBFS - rms_db(noise)) / 20))
                parts.append(gap.astype(np.float32))
                t += gap_n / RATE
            label = "female" if gender == 1 else "male"
            turns.append((cid, t, t + len(turn) / RATE, label))
            truth.extend((cid, t + s0, t + s1, label) for s0, s1 in speech_runs(turn, turn_floor))
            parts.append(turn.astype(np.float32))
            t += len(turn) / RATE
            prev = s
        x = np.clip(np.concatenate(parts), -1, 1)
        sf.write(os.path.join(a.out, "clean", cid + ".flac"), x, RATE, subtype="PCM_16")
        y = torch.from_numpy(x)
        y = AF.highpass_biquad(y, RATE, 300.0)
        y = AF.lowpass_biquad(y, RATE, 3400.0)
        y = AF.resample(y, RATE, 8000).clamp(-1, 1).numpy()
        sf.write(os.path.join(a.out, "phone", cid + ".wav"), y, 8000, subtype="ULAW")
        print(f"{cid}: {len(x) / RATE:.1f} s, {n_spk} speakers ({males} male)", flush=True)
    for name, rows in (("truth.tsv", truth), ("truth_turns.tsv", turns)):
        with open(os.path.join(a.out, name), "w") as f:
            f.write("id\tstart_s\tend_s\tlabel\n")
            for cid, s, e, lab in rows:
                f.write(f"{cid}\t{s:.3f}\t{e:.3f}\t{lab}\n")
    with open(os.path.join(a.out, "speakers.tsv"), "w") as f:
        f.write("id\tspeaker\tlabel\n")
        f.writelines(f"{cid}\t{s}\t{lab}\n" for cid, s, lab in cast)


if __name__ == "__main__":
    main()
