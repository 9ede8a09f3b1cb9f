#!/usr/bin/python3
"""Scores `voxsex segment` output against a truth TSV (scripts/data/make_conversations.py).

Both files: header, then `id start_s end_s label ...` rows (label male/female). Every file of the
truth is compared on 10 ms frames (frame t covers [t/100, (t+1)/100) s; a frame belongs to a
segment when its centre does). Prints, over all files:
  gender_acc   share of truth speech frames that the output calls speech with the right gender
               label, among the truth speech frames it calls speech
  recall       share of truth speech frames the output calls speech
  false_alarm  share of truth non-speech frames the output calls speech
  share_err    |female share of speaking time, output - truth|, percentage points: mean and max
               over files
With --turns TURNS.tsv (make_conversations.py's truth_turns.tsv: whole turns, pauses included) it
also prints where the false alarms lie: in pauses (truth non-speech inside a turn) or in gaps
(between turns), each as points of the false alarm rate and as a share of those frames.
--per-file prints a line per file first (its gender accuracy, recall, false alarm rate, shares).
Usage: /usr/bin/python3 scripts/eval/score_segments.py TRUTH.tsv SEGMENTS.tsv [--per-file]
         [--turns TURNS.tsv]
Standard library only.
"""
import argparse
import csv
import math
from collections import defaultdict

LABELS = {"male": 1, "female": 2}


def read(path):
    segs = defaultdict(list)
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            segs[row["id"]].append((float(row["start_s"]), float(row["end_s"]), LABELS[row["label"]]))
    return segs


def frames(segs, n):
    out = bytearray(n)
    for s, e, lab in segs:
        a = max(0, math.ceil(s * 100 - 0.5))
        b = min(n, math.ceil(e * 100 - 0.5))
        for t in range(a, b):
            out[t] = lab
    return out


def share(fr):
    speech = sum(1 for x in fr if x)
    return 100.0 * sum(1 for x in fr if x == 2) / speech if speech else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("truth")
    ap.add_argument("segments")
    ap.add_argument("--per-file", action="store_true")
    ap.add_argument("--turns")
    a = ap.parse_args()
    truth, hyp = read(a.truth), read(a.segments)
    turns = read(a.turns) if a.turns else {}
    both = correct = speech = found = nonspeech = fa = 0
    pause = pause_fa = 0
    errs = []
    for cid in sorted(truth):
        n = int(math.ceil(max(e for _, e, _ in truth[cid] + hyp.get(cid, [])) * 100)) + 1
        t, h = frames(truth[cid], n), frames(hyp.get(cid, []), n)
        u = frames(turns.get(cid, []), n)
        f_nonspeech = sum(1 for x in t if not x)
        f_fa = sum(1 for x, y in zip(t, h) if not x and y)
        pause += sum(1 for x, y in zip(t, u) if not x and y)
        pause_fa += sum(1 for x, y, z in zip(t, h, u) if not x and y and z)
        f_speech = sum(1 for x in t if x)
        f_found = sum(1 for x, y in zip(t, h) if x and y)
        f_correct = sum(1 for x, y in zip(t, h) if x and x == y)
        speech += f_speech
        found += f_found
        both += f_found
        correct += f_correct
        nonspeech += f_nonspeech
        fa += f_fa
        err = abs(share(h) - share(t))
        errs.append(err)
        if a.per_file:
            print(f"{cid}\tacc {100.0 * f_correct / max(f_found, 1):.2f}\trecall "
                  f"{100.0 * f_found / max(f_speech, 1):.2f}\tfalse_alarm "
                  f"{100.0 * f_fa / max(f_nonspeech, 1):.2f}\tshare truth {share(t):.1f} "
                  f"out {share(h):.1f}")
    print(f"files {len(truth)}\tgender_acc {100.0 * correct / max(both, 1):.2f}%\trecall "
          f"{100.0 * found / max(speech, 1):.2f}%\tfalse_alarm {100.0 * fa / max(nonspeech, 1):.2f}%\t"
          f"share_err mean {sum(errs) / len(errs):.2f} max {max(errs):.2f} points")
    if a.turns:
        gap, gap_fa = nonspeech - pause, fa - pause_fa
        print(f"false_alarm in pauses {100.0 * pause_fa / max(nonspeech, 1):.2f} points "
              f"({100.0 * pause_fa / max(pause, 1):.2f}% of {pause} pause frames)\t"
              f"in gaps {100.0 * gap_fa / max(nonspeech, 1):.2f} points "
              f"({100.0 * gap_fa / max(gap, 1):.2f}% of {gap} gap frames)")


if __name__ == "__main__":
    main()
