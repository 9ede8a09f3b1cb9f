#!/usr/bin/python3
"""Paired comparison of two models on a robustness suite, with speaker-level bootstrap intervals.

Issue 14 chooses models by a score over the conditions of a robustness suite
(scripts/eval/suite_score.py) on a dev split of 70 speakers, and its files are not independent:
a model that gets one speaker wrong gets most of that speaker's files wrong. This script puts an
interval on the difference between two models, B - A, by resampling speakers (the cluster
bootstrap: Efron & Tibshirani, "An Introduction to the Bootstrap", 1993; Field & Welsh,
"Bootstrapping clustered data", JRSS B 69(3), 2007), stratified by age group and gender so every resample keeps
boys, girls, men and women, and the same resample of speakers scored for both models (paired).

Inputs: SUITE/<condition>/targets.tsv (id, gender) as scripts/data/make_robustness.py writes them,
and for each model a directory of <condition>.answers.tsv (as scripts/eval/robustness_eval.sh
leaves them in the suite: copy them away between models). meta.tsv gives each id's speaker,
gender and age_group. Conditions are those with targets in SUITE and answers for every model.

Arms of several networks: ANSWERS_A and ANSWERS_B may each be several directories, comma-separated,
one per network trained by the same recipe with another seed. An arm's measure is then the mean of
its networks' measures, and each resample also draws, within each arm, as many networks as it has
with replacement (a two-level bootstrap: speakers, then networks; Davison & Hinkley, "Bootstrap
Methods and their Application", 1997, section 3.8), so the interval holds the training seed's
share of the difference as well as the speakers'. Networks of one recipe differ by up to 1.9
points on the suite adults mean and 7.6 on clean dev children (models/README.md, round 16), which
speaker resamples of one network each do not see. With n networks an arm's network share is
underestimated by the factor (n - 1) / n: with 2 or 3 networks read the interval as a lower bound
on its width.

Prints a Markdown table, percentages with two decimals, one row per measure:

  clean adults               accuracy on the adults of `clean`
  clean children balanced    balanced accuracy (mean of the two recalls) on the children of `clean`
  suite adults mean          adults' accuracy, mean over the conditions
  suite children mean        children's balanced accuracy, mean over the conditions
  score                      mean over the conditions of (adults + children balanced) / 2, the
                             selection score of rounds 2-10 (models/README.md)

with A, B, B - A, the 95% percentile interval of B - A over the resamples and the share of
resamples where B - A <= 0.

Usage: /usr/bin/python3 scripts/eval/compare_models.py SUITE ANSWERS_A[,ANSWERS_A2...]
         ANSWERS_B[,ANSWERS_B2...] [--meta META] [--names A,B] [--resamples N] [--seed S]
Errors (exit status 2): no condition with targets and every network's answers; an empty entry in
an arm's list; an id of the targets missing from meta.tsv; a condition without adults or without
boys or girls (the score is undefined).
An id without an answer counts as wrong, as in `voxsex eval`. Standard library only.
"""
import argparse
import csv
import os
import random
import sys

MEASURES = [
    ("clean adults", "clean_adult"),
    ("clean children balanced", "clean_child"),
    ("suite adults mean", "suite_adult"),
    ("suite children mean", "suite_child"),
    ("score", "score"),
]


def read_tsv_pairs(path):
    """id<TAB>value rows of PATH (no header), as a dict; {} when PATH is missing."""
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as f:
        return {row[0]: row[1] for row in csv.reader(f, delimiter="\t") if len(row) >= 2}


def fail(message):
    print(f"compare_models: {message}", file=sys.stderr)
    sys.exit(2)


def load(suite, arms, meta_path):
    """Per speaker and condition, counts of right answers of every network of both arms.

    ARMS is (directories of arm A, directories of arm B). Returns (conditions, speakers) where
    speakers maps speaker -> (stratum, counts) and counts maps condition -> {cell: [n, rights]},
    cell being "adult" or "child0"/"child1" (boys, girls) and rights a list (arm A's networks,
    then arm B's) of right answers.
    """
    with open(meta_path, newline="") as f:
        meta = {row["id"]: row for row in csv.DictReader(f, delimiter="\t")}
    dirs = arms[0] + arms[1]
    conditions = sorted(
        c for c in os.listdir(suite)
        if os.path.isfile(os.path.join(suite, c, "targets.tsv"))
        and all(os.path.isfile(os.path.join(d, f"{c}.answers.tsv")) for d in dirs))
    if not conditions:
        fail(f"no condition of {suite} has targets and answers in every one of {', '.join(dirs)}")
    speakers = {}
    for cond in conditions:
        targets = read_tsv_pairs(os.path.join(suite, cond, "targets.tsv"))
        answers = [read_tsv_pairs(os.path.join(d, f"{cond}.answers.tsv")) for d in dirs]
        for file_id, gender in targets.items():
            if file_id not in meta:
                fail(f"{cond}: id {file_id} of the targets is not in {meta_path}")
            row = meta[file_id]
            child = row["age_group"] == "child"
            cell = f"child{gender}" if child else "adult"
            stratum = (row["age_group"], row["gender"])
            _, counts = speakers.setdefault(row["speaker"], (stratum, {}))
            n = counts.setdefault(cond, {}).setdefault(cell, [0, [0] * len(dirs)])
            n[0] += 1
            for k, a in enumerate(answers):
                n[1][k] += a.get(file_id) == gender
    return conditions, speakers


def network_measures(conditions, speakers, sample, count):
    """The five measures (fractions) of each of COUNT networks over the speakers in SAMPLE (with
    repeats); None when a condition lacks adults, boys or girls."""
    totals = {c: {} for c in conditions}
    for spk in sample:
        for cond, cells in speakers[spk][1].items():
            t = totals[cond]
            for cell, (n, rights) in cells.items():
                s = t.setdefault(cell, [0, [0] * count])
                s[0] += n
                for k in range(count):
                    s[1][k] += rights[k]
    out = []
    for k in range(count):
        adult, child = {}, {}
        for cond in conditions:
            t = totals[cond]
            if "adult" not in t or "child0" not in t or "child1" not in t:
                return None
            adult[cond] = t["adult"][1][k] / t["adult"][0]
            boys, girls = t["child0"], t["child1"]
            child[cond] = (boys[1][k] / boys[0] + girls[1][k] / girls[0]) / 2
        n = len(conditions)
        out.append({
            "clean_adult": adult.get("clean", float("nan")),
            "clean_child": child.get("clean", float("nan")),
            "suite_adult": sum(adult.values()) / n,
            "suite_child": sum(child.values()) / n,
            "score": sum((adult[c] + child[c]) / 2 for c in conditions) / n,
        })
    return out


def arm_mean(per_network, picks):
    """Mean of each measure over the networks PICKS (indices, with repeats) of PER_NETWORK."""
    return {key: sum(per_network[k][key] for k in picks) / len(picks) for _, key in MEASURES}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("suite")
    ap.add_argument("answers_a")
    ap.add_argument("answers_b")
    ap.add_argument("--meta", default="../shared/voxsex-data/meta.tsv")
    ap.add_argument("--names", default="A,B", help="the two models' names, comma-separated")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    names = args.names.split(",")
    if len(names) != 2:
        fail("--names takes two names, comma-separated")

    arms = [a.split(",") for a in (args.answers_a, args.answers_b)]
    if any(not d for arm in arms for d in arm):
        fail("an arm's list of answer directories has an empty entry")
    size_a, size_b = len(arms[0]), len(arms[1])
    count = size_a + size_b
    all_a, all_b = list(range(size_a)), list(range(size_a, count))
    conditions, speakers = load(args.suite, arms, args.meta)
    per_network = network_measures(conditions, speakers, list(speakers), count)
    if per_network is None:
        fail("a condition has no adults, or no boys or no girls: the score is undefined")
    point = [arm_mean(per_network, all_a), arm_mean(per_network, all_b)]
    strata = {}
    for spk, (stratum, _) in sorted(speakers.items()):
        strata.setdefault(stratum, []).append(spk)
    rng = random.Random(args.seed)
    diffs = {key: [] for _, key in MEASURES}
    for _ in range(args.resamples):
        sample = [rng.choice(group) for group in strata.values() for _ in group]
        # One network each: the draw is that network (the one-level bootstrap of a pair of models).
        picks_a = [rng.choice(all_a) for _ in all_a] if size_a > 1 else all_a
        picks_b = [rng.choice(all_b) for _ in all_b] if size_b > 1 else all_b
        m = network_measures(conditions, speakers, sample, count)
        if m is None:  # cannot happen with stratified resamples; kept as a guard
            continue
        a, b = arm_mean(m, picks_a), arm_mean(m, picks_b)
        for _, key in MEASURES:
            diffs[key].append(b[key] - a[key])

    print(f"{len(conditions)} conditions, {len(speakers)} speakers, {args.resamples} speaker "
          f"resamples (stratified by age group and gender, seed {args.seed})")
    if count > 2:
        print(f"{names[0]}: mean of {size_a} network(s), {names[1]}: mean of {size_b}; each "
              "resample also draws each arm's networks with replacement")
    print()
    print(f"| measure | {names[0]} % | {names[1]} % | {names[1]} - {names[0]}, points | "
          "95% interval | share of resamples <= 0 |")
    print("|---|---|---|---|---|---|")
    for label, key in MEASURES:
        d = sorted(diffs[key])
        lo = d[int(0.025 * (len(d) - 1))]
        hi = d[int(round(0.975 * (len(d) - 1)))]
        share = sum(x <= 0 for x in d) / len(d)
        print(f"| {label} | {100 * point[0][key]:.2f} | {100 * point[1][key]:.2f} | "
              f"{100 * (point[1][key] - point[0][key]):+.2f} | "
              f"[{100 * lo:+.2f}, {100 * hi:+.2f}] | {share:.3f} |")


if __name__ == "__main__":
    main()
