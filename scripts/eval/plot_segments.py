#!/usr/bin/python3
"""Draws a timeline of `voxsex segment` output over a file's waveform, with the truth beneath.

Usage: plot_segments.py AUDIO SEGMENTS_TSV OUT_PNG [--truth TRUTH_TSV] [--start S] [--end S]
SEGMENTS_TSV and TRUTH_TSV: header, then `id start_s end_s label ...` rows (label male/female;
scripts/data/make_conversations.py writes the truth); the rows of AUDIO's id (file name without
extension) are drawn. Needs soundfile, numpy and matplotlib (Agg backend).
"""
import argparse
import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

COLORS = {"male": "tab:blue", "female": "tab:orange"}


def rows(path, cid):
    with open(path) as f:
        return [(float(r["start_s"]), float(r["end_s"]), r["label"])
                for r in csv.DictReader(f, delimiter="\t") if r["id"] == cid]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("audio")
    ap.add_argument("segments")
    ap.add_argument("out")
    ap.add_argument("--truth")
    ap.add_argument("--start", type=float, default=0.0)
    ap.add_argument("--end", type=float)
    a = ap.parse_args()
    cid = os.path.splitext(os.path.basename(a.audio))[0]
    x, rate = sf.read(a.audio, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    end = a.end if a.end is not None else len(x) / rate
    x = x[int(a.start * rate):int(end * rate)]
    t = a.start + np.arange(len(x)) / rate
    tracks = [("voxsex", rows(a.segments, cid))]
    if a.truth:
        tracks.append(("truth", rows(a.truth, cid)))
    fig, axes = plt.subplots(1 + len(tracks), 1, figsize=(9.0, 1.6 + 0.6 * len(tracks)), sharex=True,
                             gridspec_kw={"height_ratios": [3] + [1] * len(tracks)})
    axes[0].plot(t[::10], x[::10], color="0.35", linewidth=0.4)
    axes[0].set_ylabel("waveform")
    axes[0].set_yticks([])
    axes[0].set_title(f"{cid}: male and female speech")
    for ax, (name, segs) in zip(axes[1:], tracks):
        for s, e, lab in segs:
            if e > a.start and s < end:
                ax.axvspan(max(s, a.start), min(e, end), color=COLORS[lab], alpha=0.85, linewidth=0)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
    axes[-1].set_xlim(a.start, end)
    axes[-1].set_xlabel("time (s)")
    handles = [matplotlib.patches.Patch(color=c, label=lab) for lab, c in COLORS.items()]
    axes[0].legend(handles=handles, loc="upper right", fontsize=8, ncol=2)
    fig.savefig(a.out, dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()
