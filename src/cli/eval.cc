// `voxsex eval`: score answers.tsv against targets.tsv, overall and by meta.tsv group.
#include "cli/eval.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "voxsex/error.h"
#include "voxsex/metrics.h"
#include "voxsex/tsv.h"

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

void PrintReport(std::ostream& out, const EvalOptions& opts, const voxsex::EvalReport& report,
                 size_t num_answer_lines) {
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

  for (const voxsex::GroupBreakdown& breakdown : report.by) {
    out << fmt::format("\nby {}\n", breakdown.column);
    PrintTable(out, breakdown.column, breakdown.groups);
  }
  out.flush();
}

nlohmann::ordered_json MetricsJson(const voxsex::GroupMetrics& group) {
  const voxsex::BinaryMetrics& m = group.metrics;
  nlohmann::ordered_json j;
  j["files"] = m.num_files;
  j["correct"] = m.num_correct;
  j["missing"] = group.num_missing;
  j["accuracy"] = m.accuracy;
  j["accuracy_ci95"] = {m.accuracy_lo, m.accuracy_hi};
  j["balanced_accuracy"] = m.balanced_accuracy;
  j["recall_male"] = m.recall[0];
  j["recall_female"] = m.recall[1];
  j["confusion"] = {{m.confusion[0][0], m.confusion[0][1]}, {m.confusion[1][0], m.confusion[1][1]}};
  return j;
}

std::string ReportJson(const EvalOptions& opts, const voxsex::EvalReport& report) {
  nlohmann::ordered_json j;
  j["targets"] = opts.targets_path;
  j["answers"] = opts.answers_path;
  j["overall"] = MetricsJson(report.overall);
  j["by"] = nlohmann::ordered_json::object();
  for (const voxsex::GroupBreakdown& breakdown : report.by) {
    nlohmann::ordered_json groups = nlohmann::ordered_json::object();
    for (const voxsex::GroupMetrics& group : breakdown.groups) {
      groups[group.value] = MetricsJson(group);
    }
    j["by"][breakdown.column] = std::move(groups);
  }
  j["missing"] = report.missing;
  j["extra"] = report.extra;
  j["duplicates"] = report.duplicates;
  // Ids come from user files: replace invalid UTF-8 rather than throw.
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace

void EvalOptions::Validate() const {
  if (targets_path.empty()) throw ConfigError("eval: --targets is required");
  if (answers_path.empty()) throw ConfigError("eval: --answers is required");
  if (!by.empty() && meta_path.empty()) throw ConfigError("eval: --by needs --meta");
  for (const std::string& column : by) {
    if (column.empty()) throw ConfigError("eval: empty column name in --by");
  }
}

std::string EvalOptions::ToString() const {
  std::string by_list;
  for (const std::string& column : by) by_list += (by_list.empty() ? "" : ",") + column;
  return fmt::format(
      "EvalOptions(targets_path=\"{}\", answers_path=\"{}\", meta_path=\"{}\", "
      "by=\"{}\", json_path=\"{}\")",
      targets_path, answers_path, meta_path, by_list, json_path);
}

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
  sub->footer(
      "Example:\n"
      "  voxsex eval --targets data/test/targets.tsv --answers answers.tsv \\\n"
      "      --meta data/meta.tsv --by source,age_group");
  return sub;
}

int run_eval(const EvalOptions& opts) {
  try {
    opts.Validate();
    spdlog::info("eval: {}", opts.ToString());
    const std::vector<voxsex::Target> targets = voxsex::ReadTargets(opts.targets_path);
    const std::vector<voxsex::Answer> answers =
        voxsex::ReadAnswers(opts.answers_path, /*allow_duplicates=*/true);
    voxsex::Table meta;
    if (!opts.meta_path.empty()) meta = voxsex::ReadTable(opts.meta_path);

    voxsex::EvalReport report;
    try {
      report = voxsex::ScoreAnswers(targets, answers, meta, opts.by);
    } catch (const voxsex::ConfigError& e) {
      // Only the meta table and --by can be at fault here: the labels were checked on reading.
      throw voxsex::ConfigError(opts.meta_path + ": " + e.what());
    }

    PrintReport(std::cout, opts, report, answers.size());
    if (!opts.json_path.empty()) {
      voxsex::WriteFileAtomic(opts.json_path, ReportJson(opts, report));
      spdlog::info("eval: wrote {}", opts.json_path);
    }
    return 0;
  } catch (const voxsex::Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
}

}  // namespace voxsex::cli
