#!/usr/bin/python3
"""The model-selection score of issue 14 (models/README.md, rounds 2-6) from a scored suite.

Reads SUITE/<condition>.eval.json, the reports scripts/eval/robustness_eval.sh leaves beside each
condition of a robustness suite (scripts/data/make_robustness.py --split dev), and prints one
Markdown row, percentages with two decimals:

  clean balanced      balanced accuracy over every file of the `clean` condition (the split itself)
  adults              accuracy on the adults of `clean`
  children balanced   balanced accuracy on the children of `clean`
  male / female       recall of each class on `clean`
  suite adults mean / worst
                      the adults' accuracy over every condition (clean included): mean and minimum
  suite children mean the children's balanced accuracy over every condition, mean
  score               mean over the conditions of (adults' accuracy + children's balanced
                      accuracy) / 2, the rule declared in round 2 (2026-12-03, 06:10 UTC)

Usage: /usr/bin/python3 scripts/eval/suite_score.py SUITE_DIR [NAME] [--header]
Errors (exit status 2): no reports in SUITE_DIR, or a report without adults or children.
Standard library only.
"""
import argparse
import glob
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("suite")
    ap.add_argument("name", nargs="?", default="")
    ap.add_argument("--header", action="store_true")
    args = ap.parse_args()
    reports = sorted(glob.glob(os.path.join(args.suite, "*.eval.json")))
    if not reports:
        sys.exit(f"suite_score: no *.eval.json in '{args.suite}' (run scripts/eval/robustness_eval.sh)")
    adults, children = {}, {}
    clean = None
    for path in reports:
        cond = os.path.basename(path)[: -len(".eval.json")]
        r = json.load(open(path))
        by = r["by"]["age_group"]
        if "adult" not in by or "child" not in by:
            print(f"suite_score: '{path}' has no adults or no children", file=sys.stderr)
            sys.exit(2)
        adults[cond] = 100 * by["adult"]["accuracy"]
        children[cond] = 100 * by["child"]["balanced_accuracy"]
        if cond == "clean":
            clean = r
    if clean is None:
        print(f"suite_score: '{args.suite}' has no clean condition", file=sys.stderr)
        sys.exit(2)
    n = len(adults)
    worst = min(adults, key=adults.get)
    score = sum((adults[c] + children[c]) / 2 for c in adults) / n
    o = clean["overall"]
    if args.header:
        print("| candidate | clean balanced | adults | children balanced | male / female recall "
              f"| suite adults mean ({n} conditions) | suite adults worst | suite children mean | score |")
        print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.name} | {100 * o['balanced_accuracy']:.2f} | {adults['clean']:.2f} | "
          f"{children['clean']:.2f} | {100 * o['recall_male']:.2f} / {100 * o['recall_female']:.2f} | "
          f"{sum(adults.values()) / n:.2f} | {adults[worst]:.2f} ({worst}) | "
          f"{sum(children.values()) / n:.2f} | {score:.2f} |")


if __name__ == "__main__":
    main()
