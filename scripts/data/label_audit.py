#!/usr/bin/python3
"""Audits a split's gender labels speaker by speaker: a model's answers against each speaker's
median F0, and the speakers both say are labelled the other way round (models/README.md, round 14).

For every adult speaker of --split: how many of their files --answers (a model's `voxsex predict`
answers on the split) calls the other gender, and their median F0 over the voiced frames of all
their files. A speaker is flagged when the answers call the other gender on at least --min-wrong
(0.75) of their files and the median F0 lies on the other gender's side of --boundary-hz (165 Hz,
where the usual adult male range, about 85-180 Hz, meets the female one, about 165-255 Hz). Writes
  OUT/speakers.tsv   header speaker source gender files called_other f0_median_hz flagged, one row
                     per adult speaker, sorted by speaker (f0_median_hz `nan` without voiced frames)
  OUT/targets.tsv    the split's targets.tsv less the flagged speakers' files (for `voxsex train`)
F0: 40 ms Hann frames every 10 ms at 16 kHz (other rates resampled), frames within 30 dB of the
file's loudest, the highest local maximum of the normalised autocorrelation between 60 and 400 Hz
(lags 40-266 samples) taken when it is at least 0.6 (voiced), else the frame is skipped; the
autocorrelation method of L. Rabiner, "On the use of autocorrelation analysis for pitch
detection" (IEEE Trans. ASSP, 1977), without its centre clipping. Its errors are octave jumps
upward (a median of 400 Hz: the top of the range) on some recordings (audiomnist_az), which is
why a flag needs both the F0 and the answers.
Usage: /usr/bin/python3 scripts/data/label_audit.py --answers train_answers.tsv --out DIR
Needs numpy, soundfile, torch and torchaudio (for resampling; made with torch 1.13 on Debian 12).
"""
import argparse
import csv
import os
import sys
from collections import defaultdict

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

RATE = 16000
FRAME, HOP = 640, 160


def f0_track(x, rate):
    """F0 of x's voiced frames, Hz (the method of the module docstring); x mono float32."""
    if rate != RATE:
        x = AF.resample(torch.from_numpy(x), rate, RATE).numpy()
    if len(x) < FRAME:
        return np.zeros(0)
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::HOP].astype(np.float64)
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = (frames ** 2).sum(axis=1)
    frames = frames[energy > energy.max() * 1e-3] * np.hanning(FRAME)
    if len(frames) == 0:
        return np.zeros(0)
    spectrum = np.fft.rfft(frames, 2 * FRAME, axis=1)
    ac = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :FRAME]
    ac = ac / (ac[:, :1] + 1e-12)
    lo, hi = RATE // 400, RATE // 60
    seg = ac[:, lo - 1:hi + 1]
    peak = (seg[:, 1:-1] > seg[:, :-2]) & (seg[:, 1:-1] >= seg[:, 2:])
    candidates = np.where(peak, seg[:, 1:-1], -1.0)
    lag = lo + np.argmax(candidates, axis=1)
    strength = ac[np.arange(len(ac)), lag]
    return RATE / lag[strength >= 0.6]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__),
                                                   "../../../shared/voxsex-data"))
    ap.add_argument("--split", default="train")
    ap.add_argument("--answers", required=True,
                    help="id<TAB>gender answers of a model on the split")
    ap.add_argument("--out", required=True)
    ap.add_argument("--min-wrong", type=float, default=0.75)
    ap.add_argument("--boundary-hz", type=float, default=165.0)
    a = ap.parse_args()

    meta = {}
    with open(os.path.join(a.data, "meta.tsv"), newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["split"] == a.split:
                meta[row["id"]] = row
    answers = {}
    with open(a.answers) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) >= 2 and fields[0] in meta:
                answers[fields[0]] = fields[1]
    adults = sorted(i for i, r in meta.items() if r["age_group"] == "adult")
    missing = [i for i in adults if i not in answers]
    if missing:
        sys.exit(f"label_audit.py: {a.answers}: no answer for {len(missing)} adult files of split "
                 f"{a.split} (first: {missing[0]})")

    files = {os.path.splitext(n)[0]: os.path.join(a.data, a.split, n)
             for n in os.listdir(os.path.join(a.data, a.split))}
    f0 = defaultdict(list)
    count = defaultdict(lambda: [0, 0])  # speaker -> [files, called the other gender]
    for i in adults:
        row = meta[i]
        x, rate = sf.read(files[i], dtype="float32", always_2d=True)
        f0[row["speaker"]].append(f0_track(x.mean(axis=1), rate))
        count[row["speaker"]][0] += 1
        count[row["speaker"]][1] += answers[i] != row["gender"]

    first = {}
    for i in adults:
        first.setdefault(meta[i]["speaker"], meta[i])
    flagged = set()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "speakers.tsv"), "w") as f:
        f.write("speaker\tsource\tgender\tfiles\tcalled_other\tf0_median_hz\tflagged\n")
        for s in sorted(count):
            n, wrong = count[s]
            track = np.concatenate(f0[s])
            median = float(np.median(track)) if len(track) else float("nan")
            gender = first[s]["gender"]
            other_side = median < a.boundary_hz if gender == "1" else median > a.boundary_hz
            flag = wrong >= a.min_wrong * n and other_side
            if flag:
                flagged.add(s)
            f.write(f"{s}\t{first[s]['source']}\t{gender}\t{n}\t{wrong}\t{median:.1f}\t"
                    f"{'yes' if flag else 'no'}\n")
    kept = dropped = 0
    with open(os.path.join(a.data, a.split, "targets.tsv")) as src, \
            open(os.path.join(a.out, "targets.tsv"), "w") as dst:
        for line in src:
            i = line.split("\t")[0]
            if i in meta and meta[i]["speaker"] in flagged:
                dropped += 1
                continue
            dst.write(line)
            kept += 1
    print(f"label_audit: {len(count)} adult speakers, {len(flagged)} flagged "
          f"({', '.join(sorted(flagged)) or 'none'}); targets.tsv keeps {kept} files, "
          f"leaves out {dropped}")


if __name__ == "__main__":
    main()
