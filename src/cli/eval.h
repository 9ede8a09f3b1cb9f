// `voxsex eval`: score answers against targets, overall and by group.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace voxsex::cli {

struct EvalOptions {
  std::string targets_path;
  std::string answers_path;
  std::string meta_path;            // optional meta.tsv (id column + group columns)
  std::vector<std::string> by;      // group columns, e.g. {"source", "age_group"}
  std::string json_path;            // optional JSON report, written atomically
  std::string report_dir;           // optional report directory (report.json, report.md, *.png)
  std::string scores_path;          // optional scores.tsv (id, p_female columns) for calibration
  std::string training_log_path;    // optional training.tsv for learning curves (needs report_dir)
  int calibration_bins = 10;        // reliability-diagram bins over the confidence [0.5, 1]

  // Throws ConfigError: targets/answers paths empty, --by given without --meta, --training-log
  // without --report, or calibration_bins < 1.
  void Validate() const;
  std::string ToString() const;
};

// Adds the `eval` subcommand to `app`, binding its flags to `opts`. Returns the subcommand.
CLI::App* setup_eval(CLI::App& app, EvalOptions& opts);

// Runs eval; prints the report on stdout: overall metrics (files, accuracy with its Wilson 95%
// interval, balanced accuracy, recall per class), the confusion matrix, and one table per --by
// column. A target without an answer counts as wrong; answer ids not among the targets are
// ignored; for an id answered twice the first answer counts. --json writes the same numbers:
// {"overall": M, "by": {column: {value: M}}, "missing": [ids], "extra": [ids], "duplicates": [ids]}
// with M = {files, correct, missing, accuracy, accuracy_ci95: [lo, hi], balanced_accuracy,
// recall_male, recall_female, confusion: [[truth 0 -> 0, 0 -> 1], [1 -> 0, 1 -> 1]]}, rates as
// fractions in [0, 1].
//
// --scores joins scores.tsv (columns found by header name: id, p_female; other columns ignored;
// an empty p_female means no score) with the targets by id and adds "calibration": {files, ece,
// bins: [{lo, hi, count, mean_confidence, accuracy}], without_score: [ids], scores: [{id, truth,
// p_female}]} (see CalibrationBins) to the JSON, and the ECE to stdout.
//
// --report DIR (created if missing) writes DIR/report.json (the --json content) and
// DIR/report.md (Markdown tables, id lists capped at 20, links to the pictures), each atomically,
// and runs scripts/eval/plot_report.py with /usr/bin/python3 (or $VOXSEX_PYTHON) to draw
// confusion.png, accuracy_by_group.png (with --by), reliability.png (with --scores) and
// learning_curves.png (with --training-log). The script is looked for in $VOXSEX_SCRIPTS_DIR when
// set (only there), else <exe dir>/../share/voxsex/scripts, <exe dir>/../scripts/eval,
// <exe dir>/../../scripts/eval. When python3, matplotlib or the script is missing, or the script
// fails, a warning names the cause and the tables are still written without picture links
// (status 0).
//
// Errors are logged with spdlog. Returns the exit status: 0 report produced, 2 usage, input or
// output error (unreadable or malformed targets/answers/meta/scores/training log, unknown --by
// column, report directory or file not writable).
int run_eval(const EvalOptions& opts);

}  // namespace voxsex::cli
