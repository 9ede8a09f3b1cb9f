#!/usr/bin/python3
"""Splits voxsex-data's train split into a training part and a speaker-disjoint selection fold.

Issue 14 chooses models on dev, 70 speakers, and dev could not rank candidates 1-3 points apart
(models/README.md, rounds 10 and 11). A selection fold adds speakers that candidates trained
without: every candidate of a comparison is trained on OUT/train_targets.tsv and scored on dev
and on the fold (OUT/selection_targets.tsv, e.g. through a robustness suite built from it by
`make_robustness.py --split train --ids OUT/selection_targets.tsv`). The recipe chosen that way
is then retrained on the whole train split to ship.

The fold is drawn per stratum (source, age_group, gender) of train's speakers: in each, the
speakers sorted by name, shuffled by a generator seeded with the seed and the stratum, and the
first round(n * fraction) taken (Python's round: at the default 0.25, a stratum of one or two
speakers gives none), so the fold has train's mix of sources, ages and genders. All files of a fold speaker leave
training. The selection targets keep at most --max-files-per-speaker files of each fold speaker
(a seeded draw), so speakers with hundreds of files do not outweigh the rest (dev has 1-16
files a speaker).

--train-fraction F (< 1) keeps only part of the training part's speakers, for a learning curve
(accuracy against the number of training speakers, scored on the same fold): in each stratum the
speakers left after the fold, sorted by name and shuffled by a generator seeded with the seed,
"train" and the stratum, and the first max(1, round(n * F)) kept with all their files. The same
shuffle serves every F, so the training speakers of a smaller F are a subset of a larger F's, and
the fold does not depend on F.

Writes, in OUT (created):
  train_targets.tsv      id<TAB>gender of train's files whose speaker is not in the fold (with
                         --train-fraction, of the kept training speakers), sorted
  selection_targets.tsv  id<TAB>gender of the fold's kept files, sorted
  selection_speakers.tsv speaker, source, age_group, gender, files in train, files kept; a header
and prints a count per stratum. Deterministic: the same arguments write the same files.

Usage: /usr/bin/python3 scripts/data/make_selection_fold.py --out DIR
         [--data ../shared/voxsex-data] [--fraction 0.25] [--seed 1] [--max-files-per-speaker 10]
         [--train-fraction 1]
Errors (exit status 2): meta.tsv missing or without the columns used; a fraction outside (0, 1)
or a train fraction outside (0, 1]; a fold with no speaker. Standard library only.
"""
import argparse
import collections
import csv
import os
import random
import sys

COLUMNS = ("id", "split", "source", "speaker", "gender", "age_group")


def fail(message):
    print(f"make_selection_fold: {message}", file=sys.stderr)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/voxsex-data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--fraction", type=float, default=0.25,
                    help="share of each stratum's speakers put in the fold (default 0.25)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-files-per-speaker", type=int, default=10,
                    help="files of each fold speaker kept for selection (0 = all; default 10)")
    ap.add_argument("--train-fraction", type=float, default=1.0,
                    help="share of each stratum's training speakers kept (learning curves; default 1)")
    args = ap.parse_args()
    if not 0 < args.fraction < 1:
        fail(f"--fraction must be between 0 and 1, got {args.fraction}")
    if not 0 < args.train_fraction <= 1:
        fail(f"--train-fraction must be in (0, 1], got {args.train_fraction}")
    meta_path = os.path.join(args.data, "meta.tsv")
    if not os.path.isfile(meta_path):
        fail(f"{meta_path}: no such file")
    with open(meta_path, newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            fail(f"{meta_path}: no column {', '.join(missing)}")
        rows = [r for r in reader if r["split"] == "train"]

    files = collections.defaultdict(list)  # speaker -> ids
    strata = collections.defaultdict(collections.Counter)  # speaker -> stratum -> files
    for r in rows:
        files[r["speaker"]].append(r["id"])
        strata[r["speaker"]][(r["source"], r["age_group"], r["gender"])] += 1
    # A speaker in two sources (20 LibriSpeech readers have files in both LibriSpeech sources)
    # belongs to the stratum of most of their files, the first by name on a tie.
    stratum_of = {s: min(c, key=lambda k: (-c[k], k)) for s, c in strata.items()}
    by_stratum = collections.defaultdict(list)
    for speaker, stratum in stratum_of.items():
        by_stratum[stratum].append(speaker)

    def share(speakers, key, fraction, at_least=0):  # the first round(n * fraction) of a seeded shuffle
        speakers = sorted(speakers)
        random.Random(key).shuffle(speakers)
        return speakers[:max(at_least, round(len(speakers) * fraction))]

    fold, trained = set(), set()
    for stratum in sorted(by_stratum):
        fold.update(share(by_stratum[stratum], f"{args.seed}/{'/'.join(stratum)}", args.fraction))
    if not fold:
        fail("the fold has no speaker: raise --fraction")
    for stratum in sorted(by_stratum):
        rest = [s for s in by_stratum[stratum] if s not in fold]
        trained.update(share(rest, f"{args.seed}/train/{'/'.join(stratum)}", args.train_fraction, 1))

    gender = {r["id"]: r["gender"] for r in rows}
    kept = {}
    for speaker in sorted(fold):
        ids = sorted(files[speaker])
        if 0 < args.max_files_per_speaker < len(ids):
            ids = sorted(random.Random(f"{args.seed}/{speaker}").sample(ids, args.max_files_per_speaker))
        kept[speaker] = ids
    train_ids = sorted(i for s, ids in files.items() if s in trained for i in ids)
    selection_ids = sorted(i for ids in kept.values() for i in ids)

    os.makedirs(args.out, exist_ok=True)

    def write(name, text):  # atomic: a reader never sees half a file
        path = os.path.join(args.out, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)

    write("train_targets.tsv", "".join(f"{i}\t{gender[i]}\n" for i in train_ids))
    write("selection_targets.tsv", "".join(f"{i}\t{gender[i]}\n" for i in selection_ids))
    write("selection_speakers.tsv",
          "speaker\tsource\tage_group\tgender\tfiles\tkept\n" +
          "".join(f"{s}\t{chr(9).join(stratum_of[s])}\t{len(files[s])}\t{len(kept[s])}\n"
                  for s in sorted(fold)))

    print("source\tage_group\tgender\tspeakers\tfold speakers\tfold files kept\ttraining speakers")
    for stratum in sorted(by_stratum):
        in_fold = [s for s in by_stratum[stratum] if s in fold]
        print("\t".join(stratum) + f"\t{len(by_stratum[stratum])}\t{len(in_fold)}\t"
              f"{sum(len(kept[s]) for s in in_fold)}\t"
              f"{sum(1 for s in by_stratum[stratum] if s in trained)}")
    print(f"train: {len(train_ids)} files of {len(trained)} speakers; "
          f"selection: {len(selection_ids)} files of {len(fold)} speakers", file=sys.stderr)


if __name__ == "__main__":
    main()
