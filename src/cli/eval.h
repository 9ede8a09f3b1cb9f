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

  // Throws ConfigError: targets/answers paths empty, or --by given without --meta.
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
// fractions in [0, 1]. Errors are logged with spdlog. Returns the exit status: 0 report produced,
// 2 usage or input error (unreadable or malformed targets/answers/meta, unknown --by column).
int run_eval(const EvalOptions& opts);

}  // namespace voxsex::cli
