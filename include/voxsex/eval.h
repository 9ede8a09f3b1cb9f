// Evaluation of answers against targets: overall and per-group metrics, calibration of the
// p_female scores, and the reports voxsex eval writes (JSON, Markdown with pictures).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "voxsex/metrics.h"

namespace voxsex {

struct EvalOptions {
  std::string targets_path;          // reference labels, id<TAB>gender (ReadTargets)
  std::string answers_path;          // answers to score, id<TAB>gender; duplicates allowed
  std::string meta_path;             // optional meta.tsv (id column + group columns)
  std::vector<std::string> by;       // group columns of meta, e.g. {"source", "age_group"}
  std::string json_path;             // optional JSON report, written atomically
  std::string report_dir;            // optional report directory (report.json, report.md, *.png)
  std::string scores_path;           // optional scores.tsv (id, p_female columns): calibration
  std::string training_log_path;     // optional training.tsv for learning curves (needs report_dir)
  int calibration_bins = 10;         // reliability-diagram bins over the confidence [0.5, 1]

  // Throws ConfigError: targets/answers paths empty, `by` without meta_path, an empty column in
  // `by`, training_log_path without report_dir, or calibration_bins < 1.
  void Validate() const;
  std::string ToString() const;
};

// p_female scores (EvalOptions::scores_path) joined with the targets by id.
struct ScoredTargets {
  std::vector<std::string> ids;            // targets with a score, in targets order
  std::vector<int> truth;                  // their labels (0 male, 1 female), parallel to ids
  std::vector<double> p_female;            // their scores in [0, 1], parallel to ids
  std::vector<std::string> without_score;  // target ids absent from the scores or with an empty
                                           // p_female, sorted; left out of the calibration
  Calibration calibration;                 // CalibrationBins(truth, p_female, calibration_bins)
};

// What voxsex eval reports.
struct Evaluation {
  EvalReport report;                    // overall and per-group metrics, missing/extra/duplicates
  std::size_t num_answer_lines = 0;     // answers read, duplicates included
  std::optional<ScoredTargets> scored;  // set when EvalOptions::scores_path is
};

// Reads the targets, the answers, the meta table (when opts.meta_path is set), the scores (when
// opts.scores_path is set) and checks the training log's columns (when opts.training_log_path is
// set), then scores the answers with ScoreAnswers: a target without an answer counts as wrong,
// answer ids not among the targets are ignored, for an id answered twice the first answer counts.
// The scores file needs a header naming `id` and `p_female` (other columns ignored; the first row
// per id counts; an empty p_female means no score). Logs a warning (spdlog) for targets without a
// score and for a training log without epochs. Throws ConfigError (opts invalid, meta without an
// `id` column or a `by` column, the message prefixed with the meta path), IoError (a file cannot be
// opened or read), FormatError (malformed targets, answers, meta, scores or training log, naming
// the path and, for TSV rows, the line).
Evaluation Evaluate(const EvalOptions& opts);

// The JSON report of --json and report.json, pretty-printed (2 spaces) and ending in a newline:
// {"targets": path, "answers": path, ["scores": path,] "overall": M,
//  "by": {column: {value: M}}, "missing": [ids], "extra": [ids], "duplicates": [ids],
//  ["calibration": {files, ece, bins: [{lo, hi, count, mean_confidence, accuracy}],
//                   without_score: [ids], scores: [{id, truth, p_female}]}]}
// with M = {files, correct, missing, accuracy, accuracy_ci95: [lo, hi], balanced_accuracy,
// recall_male, recall_female, confusion: [[truth 0 -> 0, 0 -> 1], [1 -> 0, 1 -> 1]]} (rates as
// fractions in [0, 1]); calibration only with scores. Invalid UTF-8 in ids is replaced (U+FFFD).
// No errors.
std::string EvaluationJson(const EvalOptions& opts, const Evaluation& evaluation);

// Writes the reports asked for in `opts`, each file atomically (WriteFileAtomic):
// - opts.json_path: EvaluationJson.
// - opts.report_dir (created if missing): report.json (EvaluationJson); the pictures drawn by
//   scripts/eval/plot_report.py run with /usr/bin/python3 (or $VOXSEX_PYTHON): confusion.png,
//   accuracy_by_group.png (with `by`), reliability.png (with scores), learning_curves.png (with
//   training_log_path); then report.md (Markdown tables, id lists capped at 20, links to the
//   pictures made). The script is looked for in $VOXSEX_SCRIPTS_DIR when set (only there), else
//   <exe dir>/../share/voxsex/scripts, <exe dir>/../scripts/eval, <exe dir>/../../scripts/eval. Pictures
//   of an earlier report in the directory are removed first. When python3, matplotlib or the
//   script is missing, or the script fails, a warning (spdlog) names the cause, report.md says
//   so and links no picture: not an error.
// Logs what it wrote (spdlog info). Throws IoError when the report directory cannot be created
// or a file cannot be written.
void WriteEvaluation(const EvalOptions& opts, const Evaluation& evaluation);

}  // namespace voxsex
