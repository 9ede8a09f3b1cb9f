#!/usr/bin/python3
"""Draws the pictures of a `voxsex eval --report` directory from its report.json.

Usage: plot_report.py REPORT_JSON OUT_DIR [--training-log training.tsv]

Writes into OUT_DIR:
  confusion.png          confusion matrix heatmap with counts (always)
  accuracy_by_group.png  accuracy per group value, one panel per --by column, with the Wilson 95%
                         interval from report.json as error bars (when report.json has "by" columns)
  reliability.png        reliability diagram from report.json "calibration" (computed by voxsex:
                         bins of the confidence of the predicted class, ECE) (when present)
  learning_curves.png    loss and validation balanced accuracy per epoch, one line per ensemble
                         member, from training.tsv (member, epoch, loss, val_balanced_accuracy
                         columns, found by header name; empty values skipped) (with --training-log)

Needs only python3 and matplotlib (Debian: python3-matplotlib); draws with the Agg backend. Every
number comes from report.json or training.tsv: this script computes nothing that is reported.
Exit status: 0 pictures written, 2 bad input, 3 matplotlib cannot be imported. Writes nothing on
stdout; messages go to stderr.
"""

import argparse
import csv
import json
import math
import os
import sys
import tempfile

EXIT_BAD_INPUT = 2
EXIT_NO_MATPLOTLIB = 3  # voxsex eval recognises this status (src/plot_report.cc kPlotNoMatplotlib)

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"plot_report: cannot import matplotlib ({e}); "
          "install it, e.g. apt-get install python3-matplotlib", file=sys.stderr)
    sys.exit(EXIT_NO_MATPLOTLIB)

CLASS_NAMES = ["male", "female"]
DPI = 120


def save(fig, path):
    """Saves `fig` as PNG to a temporary file beside `path`, then renames it over `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600; give the usual mode of a new file
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png", dpi=DPI, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        plt.close(fig)


def plot_confusion(report, path):
    confusion = report["overall"]["confusion"]
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    ax.imshow(confusion, cmap="Blues", vmin=0)
    largest = max(max(row) for row in confusion) or 1
    for t in range(2):
        row_total = sum(confusion[t]) or 1
        for p in range(2):
            count = confusion[t][p]
            color = "white" if count > largest / 2 else "black"
            ax.text(p, t, f"{count}\n({100.0 * count / row_total:.1f}%)", ha="center",
                    va="center", color=color, fontsize=11)
    ax.set_xticks([0, 1], labels=CLASS_NAMES)
    ax.set_yticks([0, 1], labels=CLASS_NAMES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("truth")
    overall = report["overall"]
    ax.set_title(f"Confusion matrix: counts (% of the truth row)\n{overall['files']} files, "
                 f"accuracy {100.0 * overall['accuracy']:.1f}%", fontsize=10)
    save(fig, path)


def plot_accuracy_by_group(report, path):
    columns = list(report["by"].items())
    heights = [max(2.2, 0.45 * len(groups) + 1.2) for _, groups in columns]
    fig, axes = plt.subplots(len(columns), 1, figsize=(7.0, sum(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (column, groups) in zip(axes[:, 0], columns):
        names = [value if value else "(empty)" for value in groups]
        accuracy = [100.0 * m["accuracy"] for m in groups.values()]
        lo = [100.0 * m["accuracy_ci95"][0] for m in groups.values()]
        hi = [100.0 * m["accuracy_ci95"][1] for m in groups.values()]
        errors = [[a - l for a, l in zip(accuracy, lo)], [h - a for a, h in zip(accuracy, hi)]]
        y = list(range(len(names)))
        ax.barh(y, accuracy, xerr=errors, color="tab:blue", alpha=0.8, capsize=4,
                error_kw={"ecolor": "black", "elinewidth": 1})
        for yi, a, m in zip(y, accuracy, groups.values()):
            ax.text(1, yi, f"{a:.1f}% (n={m['files']})", va="center", ha="left", fontsize=8,
                    color="white" if a > 25 else "black")
        ax.set_yticks(y, labels=names)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("accuracy % (error bars: Wilson 95% interval)")
        ax.set_title(f"Accuracy by {column}", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    save(fig, path)


def plot_reliability(calibration, path):
    bins = calibration["bins"]
    filled = [b for b in bins if b["count"] > 0]
    centers = [(b["lo"] + b["hi"]) / 2 for b in filled]
    fig, ax = plt.subplots(figsize=(5.0, 5.0))
    lo = bins[0]["lo"] if bins else 0.5
    ax.plot([lo, 1.0], [lo, 1.0], "k--", linewidth=1, label="perfect calibration")
    ax.bar(centers, [b["accuracy"] for b in filled], width=[b["hi"] - b["lo"] for b in filled],
           color="tab:blue", alpha=0.75, edgecolor="black", label="observed accuracy")
    ax.plot(centers, [b["mean_confidence"] for b in filled], "o", color="tab:red", markersize=5,
            label="mean confidence")
    for c, b in zip(centers, filled):  # number of files in the bin, at the foot of its bar
        ax.text(c, 0.015, str(b["count"]), ha="center", va="bottom", fontsize=7,
                color="white" if b["accuracy"] > 0.08 else "black",
                rotation=90 if len(bins) > 12 else 0)
    ax.set_xlim(lo, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("confidence (probability of the predicted class)")
    ax.set_ylabel("accuracy (numbers: files per bin)")
    ax.set_title(f"Reliability diagram: ECE = {calibration['ece']:.4f}\n"
                 f"{calibration['files']} files, {len(bins)} bins", fontsize=10)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    ax.grid(alpha=0.3)
    save(fig, path)


def read_training_log(path):
    """Returns {member: [(epoch, loss, val_balanced_accuracy or nan)]}, sorted by epoch."""
    members = {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f, delimiter="\t")
        for name in ("member", "epoch", "loss", "val_balanced_accuracy"):
            if name not in (rows.fieldnames or []):
                raise ValueError(f"{path}: no '{name}' column in the header")
        for line, row in enumerate(rows, start=2):
            def number(key, row=row, line=line):
                value = (row.get(key) or "").strip()
                if not value:
                    return math.nan
                try:
                    return float(value)
                except ValueError:
                    raise ValueError(f"{path}:{line}: {key} '{value}' is not a number") from None
            members.setdefault(row["member"], []).append(
                (number("epoch"), number("loss"), number("val_balanced_accuracy")))
    for rows in members.values():
        rows.sort()
    return members


def plot_learning_curves(training_log, path):
    members = read_training_log(training_log)
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10.0, 3.8))
    any_val = False
    def member_order(item):  # numeric members (1, 2, ..., 10) in numeric order
        return (0, int(item[0]), "") if item[0].isdigit() else (1, 0, item[0])

    for member, rows in sorted(members.items(), key=member_order):
        epochs = [r[0] for r in rows]
        ax_loss.plot(epochs, [r[1] for r in rows], marker="o", markersize=3,
                     label=f"member {member}")
        val = [(e, 100.0 * r[2]) for e, r in zip(epochs, rows) if not math.isnan(r[2])]
        if val:
            any_val = True
            ax_val.plot([v[0] for v in val], [v[1] for v in val], marker="o", markersize=3,
                        label=f"member {member}")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_title("Training loss", fontsize=10)
    ax_val.set_xlabel("epoch")
    ax_val.set_ylabel("validation balanced accuracy %")
    ax_val.set_title("Validation balanced accuracy" if any_val else
                     "Validation balanced accuracy (no values in the log)", fontsize=10)
    for ax in (ax_loss, ax_val):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report_json", help="report.json written by voxsex eval")
    parser.add_argument("out_dir", help="directory to write the PNG files into")
    parser.add_argument("--training-log", help="training.tsv written by voxsex train")
    args = parser.parse_args()
    try:
        with open(args.report_json, encoding="utf-8") as f:
            report = json.load(f)
        plot_confusion(report, os.path.join(args.out_dir, "confusion.png"))
        if report.get("by"):
            plot_accuracy_by_group(report, os.path.join(args.out_dir, "accuracy_by_group.png"))
        if report.get("calibration"):
            plot_reliability(report["calibration"], os.path.join(args.out_dir, "reliability.png"))
        if args.training_log:
            plot_learning_curves(args.training_log,
                                 os.path.join(args.out_dir, "learning_curves.png"))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        print(f"plot_report: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
