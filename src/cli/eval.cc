// `voxsex eval`: score answers.tsv against targets.tsv, overall and by meta.tsv group. The
// evaluation and its reports are in the library (include/voxsex/eval.h); this file parses the
// options and prints the report on stdout.
#include "cli/eval.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "voxsex/error.h"
#include "voxsex/eval.h"
#include "voxsex/metrics.h"

namespace voxsex::cli {
namespace {

constexpr size_t kMaxIdsListed = 10;  // ids printed per list on stdout; --json has them all

std::string JoinIds(const std::vector<std::string>& ids, bool have_json) {
  std::string out;
  for (size_t i = 0; i < ids.size() && i < kMaxIdsListed; ++i) out += (i ? ", " : "") + ids[i];
  if (ids.size() > kMaxIdsListed) {
    out += fmt::format(", ... and {} more{}", ids.size() - kMaxIdsListed,
                       have_json ? " (all in the --json report)" : " (--json lists them all)");
  }
  return out;
}

std::string Plural(size_t n, const char* singular, const char* plural) {
  return fmt::format("{} {}", n, n == 1 ? singular : plural);
}

double Percent(double fraction) { return 100.0 * fraction; }

// One table: a row per group with the metric columns. `name_header` heads the first column.
void PrintTable(std::ostream& out, const std::string& name_header,
                const std::vector<voxsex::GroupMetrics>& rows) {
  const auto name = [](const voxsex::GroupMetrics& row) {
    return row.value.empty() ? std::string("(empty)") : row.value;
  };
  size_t name_width = name_header.size();
  for (const auto& row : rows) name_width = std::max(name_width, name(row).size());
  out << fmt::format("  {:<{}}  {:>6}  {:>7}  {:>10}  {:>16}  {:>10}  {:>13}  {:>15}\n",
                     name_header, name_width, "files", "missing", "accuracy %", "95% CI (Wilson)",
                     "balanced %", "male recall %", "female recall %");
  for (const auto& row : rows) {
    const voxsex::BinaryMetrics& m = row.metrics;
    const std::string ci =
        fmt::format("[{:.2f}, {:.2f}]", Percent(m.accuracy_lo), Percent(m.accuracy_hi));
    out << fmt::format(
        "  {:<{}}  {:>6}  {:>7}  {:>10.2f}  {:>16}  {:>10.2f}  {:>13.2f}  {:>15.2f}\n", name(row),
        name_width, m.num_files, row.num_missing, Percent(m.accuracy), ci,
        Percent(m.balanced_accuracy), Percent(m.recall[0]), Percent(m.recall[1]));
  }
}

// The report on stdout: inputs, missing/extra/duplicate ids, the overall metrics, the confusion
// matrix, the calibration (with scores) and one table per --by column.
void PrintReport(std::ostream& out, const EvalOptions& opts, const Evaluation& evaluation) {
  const voxsex::EvalReport& report = evaluation.report;
  const size_t num_answer_lines = evaluation.num_answer_lines;
  const voxsex::ScoredTargets* scored = evaluation.scored ? &*evaluation.scored : nullptr;
  const bool have_json = !opts.json_path.empty();
  out << fmt::format("targets: {} ({})\n", opts.targets_path,
                     Plural(report.overall.metrics.num_files, "file", "files"));
  out << fmt::format("answers: {} ({})\n", opts.answers_path,
                     Plural(num_answer_lines, "line", "lines"));
  if (report.missing.empty()) {
    out << "missing: none, every target has an answer\n";
  } else {
    out << fmt::format(
        "missing: {} without an answer, each scored as wrong (the opposite label), so leaving "
        "files out cannot raise accuracy: {}\n",
        Plural(report.missing.size(), "target", "targets"), JoinIds(report.missing, have_json));
  }
  if (!report.extra.empty()) {
    out << fmt::format("extra: {} not among the targets, ignored: {}\n",
                       Plural(report.extra.size(), "answer id", "answer ids"),
                       JoinIds(report.extra, have_json));
  }
  if (!report.duplicates.empty()) {
    out << fmt::format("duplicates: {} answered more than once, the first answer counts: {}\n",
                       Plural(report.duplicates.size(), "id", "ids"),
                       JoinIds(report.duplicates, have_json));
  }

  out << "\noverall\n";
  voxsex::GroupMetrics overall = report.overall;
  overall.value = "all";
  PrintTable(out, "", {overall});

  const auto& c = report.overall.metrics.confusion;
  out << "\nconfusion matrix (rows: truth, columns: predicted)\n";
  out << fmt::format("  {:<10}  {:>8}  {:>8}\n", "", "male", "female");
  out << fmt::format("  {:<10}  {:>8}  {:>8}\n", "male", c[0][0], c[0][1]);
  out << fmt::format("  {:<10}  {:>8}  {:>8}\n", "female", c[1][0], c[1][1]);

  if (scored != nullptr) {
    out << fmt::format(
        "\ncalibration ({} with a score, {} bins over the confidence of the predicted class)\n",
        Plural(scored->ids.size(), "file", "files"), scored->calibration.bins.size());
    out << fmt::format("  expected calibration error (ECE): {:.4f}\n", scored->calibration.ece);
    if (!scored->without_score.empty()) {
      out << fmt::format("  without a score, left out: {}\n",
                         JoinIds(scored->without_score, !opts.json_path.empty()));
    }
  }

  for (const voxsex::GroupBreakdown& breakdown : report.by) {
    out << fmt::format("\nby {}\n", breakdown.column);
    PrintTable(out, breakdown.column, breakdown.groups);
  }
  out.flush();
}

}  // namespace

CLI::App* setup_eval(CLI::App& app, EvalOptions& opts) {
  CLI::App* sub = app.add_subcommand(
      "eval",
      "Score answers.tsv against targets.tsv: accuracy with its Wilson 95% interval, balanced "
      "accuracy, recall per class and the confusion matrix, overall and per meta.tsv group. "
      "Targets without an answer count as wrong.");
  sub->add_option("--targets", opts.targets_path,
                  "Reference labels, id<TAB>gender (0 male, 1 female)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--answers", opts.answers_path,
                  "Answers to score, as written by `voxsex predict`")
      ->required()
      ->check(CLI::ExistingFile);
  CLI::Option* meta = sub->add_option("--meta", opts.meta_path,
                                      "Per-file metadata with an `id` column, e.g. meta.tsv")
                          ->check(CLI::ExistingFile);
  sub->add_option("--by", opts.by,
                  "Meta columns to break the scores down by (comma-separated or repeated)")
      ->delimiter(',')
      ->needs(meta)
      ->type_name("COLUMN");
  sub->add_option("--json", opts.json_path, "Also write the report as JSON to this file")
      ->type_name("FILE");
  CLI::Option* report = sub->add_option(
      "--report", opts.report_dir,
      "Write report.json, report.md and pictures (PNG) into this directory (created if missing)");
  report->type_name("DIR");
  sub->add_option("--scores", opts.scores_path,
                  "Per-file scores with a header naming `id` and `p_female` (as written by "
                  "`voxsex predict --scores`): adds calibration (ECE, reliability diagram)")
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  sub->add_option("--training-log", opts.training_log_path,
                  "training.tsv (member, epoch, loss, ..., val_balanced_accuracy): draw learning "
                  "curves in the --report directory")
      ->check(CLI::ExistingFile)
      ->needs(report)
      ->type_name("FILE");
  sub->add_option("--calibration-bins", opts.calibration_bins,
                  "Number of equal-width confidence bins over [0.5, 1] for --scores")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->footer(
      "Pictures (--report): drawn by scripts/eval/plot_report.py with /usr/bin/python3 (override with\n"
      "$VOXSEX_PYTHON) and matplotlib (Debian: python3-matplotlib). The script is looked for in\n"
      "$VOXSEX_SCRIPTS_DIR if set, else <exe dir>/../share/voxsex/scripts, <exe dir>/../scripts/eval,\n"
      "<exe dir>/../../scripts/eval. If python3, matplotlib or the script is missing, eval warns,\n"
      "writes report.json and report.md without pictures, and still exits 0.\n"
      "\n"
      "Example:\n"
      "  voxsex eval --targets data/test/targets.tsv --answers answers.tsv \\\n"
      "      --meta data/meta.tsv --by source,age_group --scores scores.tsv --report report/");
  return sub;
}

int run_eval(const EvalOptions& opts) {
  try {
    opts.Validate();
    spdlog::info("eval: {}", opts.ToString());
    const Evaluation evaluation = voxsex::Evaluate(opts);
    PrintReport(std::cout, opts, evaluation);
    voxsex::WriteEvaluation(opts, evaluation);
    return 0;
  } catch (const voxsex::Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
}

}  // namespace voxsex::cli
