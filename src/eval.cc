// Evaluation of answers against targets and its reports (include/voxsex/eval.h).
#include "voxsex/eval.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <utility>

#include "metrics_json.h"
#include "plot_report.h"
#include "voxsex/error.h"
#include "voxsex/tsv.h"

namespace voxsex {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxIdsInMarkdown = 20;  // ids per list in report.md; report.json has them all

std::string Plural(size_t n, const char* singular, const char* plural) {
  return fmt::format("{} {}", n, n == 1 ? singular : plural);
}

double Percent(double fraction) { return 100.0 * fraction; }

// Throws FormatError unless `table` (read from `path`) has every one of `columns`; `expected`
// describes the header wanted.
void RequireColumns(const Table& table, const std::string& path,
                    const std::vector<const char*>& columns, const char* expected) {
  for (const char* column : columns) {
    if (std::find(table.columns.begin(), table.columns.end(), column) == table.columns.end()) {
      throw FormatError(path + ": no '" + column + "' column in the header (expected " + expected +
                        ")");
    }
  }
}

// Parses a p_female field: a finite number in [0, 1], the whole field. Empty gives nullopt.
std::optional<double> ParseProbability(const std::string& path, const std::string& id,
                                       const std::string& field) {
  if (field.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double p = std::strtod(field.c_str(), &end);
  if (end != field.c_str() + field.size() || errno == ERANGE || !std::isfinite(p) || p < 0.0 ||
      p > 1.0) {
    throw FormatError(path + ": id '" + id + "': p_female '" + field +
                      "' is not a number in [0, 1]");
  }
  return p;
}

// Reads scores.tsv (header with at least `id` and `p_female`) and joins it with the targets by
// id: the first row per id counts; ids not among the targets are ignored. Throws IoError,
// FormatError.
ScoredTargets JoinScores(const std::string& path, const std::vector<Target>& targets,
                         int num_bins) {
  const Table table = ReadTable(path);
  RequireColumns(table, path, {"id", "p_female"}, "id<TAB>p_female<TAB>...");
  std::unordered_map<std::string, std::optional<double>> score_of;
  for (const auto& row : table.rows) {
    const std::string& id = row.at("id");
    if (score_of.count(id) != 0) continue;
    score_of.emplace(id, ParseProbability(path, id, row.at("p_female")));
  }
  ScoredTargets scored;
  for (const Target& target : targets) {
    const auto found = score_of.find(target.id);
    if (found == score_of.end() || !found->second.has_value()) {
      scored.without_score.push_back(target.id);
      continue;
    }
    scored.ids.push_back(target.id);
    scored.truth.push_back(target.gender);
    scored.p_female.push_back(*found->second);
  }
  std::sort(scored.without_score.begin(), scored.without_score.end());
  scored.calibration = CalibrationBins(scored.truth, scored.p_female, num_bins);
  return scored;
}

// Checks that training.tsv has the columns plot_report.py draws. Throws IoError, FormatError.
void CheckTrainingLog(const std::string& path) {
  const Table table = ReadTable(path);
  RequireColumns(table, path, {"member", "epoch", "loss", "val_balanced_accuracy"},
                 "member, epoch, loss, val_balanced_accuracy, ...");
  if (table.rows.empty()) spdlog::warn("eval: {} has no epochs to draw", path);
}

nlohmann::ordered_json GroupJson(const GroupMetrics& group) {
  return MetricsJson(group.metrics, group.num_missing);
}

nlohmann::ordered_json CalibrationJson(const ScoredTargets& scored) {
  const Calibration& calibration = scored.calibration;
  nlohmann::ordered_json j;
  j["files"] = calibration.num_files;
  j["ece"] = calibration.ece;
  j["bins"] = nlohmann::ordered_json::array();
  for (const CalibrationBin& bin : calibration.bins) {
    nlohmann::ordered_json b;
    b["lo"] = bin.lo;
    b["hi"] = bin.hi;
    b["count"] = bin.count;
    b["mean_confidence"] = bin.mean_confidence;
    b["accuracy"] = bin.accuracy;
    j["bins"].push_back(std::move(b));
  }
  j["without_score"] = scored.without_score;
  j["scores"] = nlohmann::ordered_json::array();
  for (size_t i = 0; i < scored.ids.size(); ++i) {
    nlohmann::ordered_json s;
    s["id"] = scored.ids[i];
    s["truth"] = scored.truth[i];
    s["p_female"] = scored.p_female[i];
    j["scores"].push_back(std::move(s));
  }
  return j;
}

// Escapes Markdown punctuation so an id or group value shows as written (also inside tables).
std::string MdEscape(const std::string& text) {
  std::string out;
  for (const char ch : text) {
    if (std::strchr("\\`*_[]<>|#!~", ch) != nullptr && ch != '\0') out += '\\';
    out += ch;
  }
  return out;
}

std::string MdMetricsHeader(const std::string& first) {
  return "| " + first +
         " | files | missing | accuracy % | 95% CI (Wilson) % | balanced accuracy % | "
         "male recall % | female recall % |\n"
         "|---|---:|---:|---:|---:|---:|---:|---:|\n";
}

std::string MdMetricsRow(const std::string& name, const GroupMetrics& group) {
  const BinaryMetrics& m = group.metrics;
  return fmt::format("| {} | {} | {} | {:.2f} | [{:.2f}, {:.2f}] | {:.2f} | {:.2f} | {:.2f} |\n",
                     MdEscape(name), m.num_files, group.num_missing, Percent(m.accuracy),
                     Percent(m.accuracy_lo), Percent(m.accuracy_hi), Percent(m.balanced_accuracy),
                     Percent(m.recall[0]), Percent(m.recall[1]));
}

std::string MdIdList(const std::string& title, const std::vector<std::string>& ids,
                     const std::string& explanation) {
  if (ids.empty()) return "";
  std::string out = fmt::format("\n## {} ({})\n\n{}\n\n", title, ids.size(), explanation);
  for (size_t i = 0; i < ids.size() && i < kMaxIdsInMarkdown; ++i) {
    out += "- " + MdEscape(ids[i]) + "\n";
  }
  if (ids.size() > kMaxIdsInMarkdown) {
    out += fmt::format("- ... and {} more (all in report.json)\n",
                       ids.size() - kMaxIdsInMarkdown);
  }
  return out;
}

// report.md: the tables of the stdout report, id lists, and links to the pictures made.
std::string ReportMarkdown(const EvalOptions& opts, const Evaluation& evaluation,
                           const Pictures& pictures) {
  const EvalReport& report = evaluation.report;
  const ScoredTargets* scored = evaluation.scored ? &*evaluation.scored : nullptr;
  const auto has = [&pictures](const char* name) {
    return std::find(pictures.made.begin(), pictures.made.end(), name) != pictures.made.end();
  };
  std::string md = "# voxsex evaluation report\n\n";
  md += fmt::format("- targets: {} ({})\n", MdEscape(opts.targets_path),
                    Plural(report.overall.metrics.num_files, "file", "files"));
  md += fmt::format("- answers: {} ({})\n", MdEscape(opts.answers_path),
                    Plural(evaluation.num_answer_lines, "line", "lines"));
  if (!opts.meta_path.empty()) md += fmt::format("- meta: {}\n", MdEscape(opts.meta_path));
  if (scored != nullptr) md += fmt::format("- scores: {}\n", MdEscape(opts.scores_path));
  if (!opts.training_log_path.empty()) {
    md += fmt::format("- training log: {}\n", MdEscape(opts.training_log_path));
  }
  md += fmt::format("- missing answers: {} (each scored as wrong)\n", report.missing.size());
  if (!pictures.problem.empty()) {
    md += fmt::format("\nPictures were not made: {}.\n", MdEscape(pictures.problem));
  }

  md += "\n## Overall\n\n" + MdMetricsHeader("") + MdMetricsRow("all", report.overall);

  const auto& c = report.overall.metrics.confusion;
  md += "\n## Confusion matrix\n\nRows: truth; columns: predicted.\n\n";
  md += "| truth | predicted male | predicted female |\n|---|---:|---:|\n";
  md += fmt::format("| male | {} | {} |\n| female | {} | {} |\n", c[0][0], c[0][1], c[1][0],
                    c[1][1]);
  if (has(kConfusionPng)) md += fmt::format("\n![Confusion matrix]({})\n", kConfusionPng);

  for (const GroupBreakdown& breakdown : report.by) {
    md += fmt::format("\n## By {}\n\n", MdEscape(breakdown.column));
    md += MdMetricsHeader(MdEscape(breakdown.column));
    for (const GroupMetrics& group : breakdown.groups) {
      md += MdMetricsRow(group.value.empty() ? "(empty)" : group.value, group);
    }
  }
  if (has(kAccuracyByGroupPng)) {
    md += fmt::format("\n![Accuracy by group, with Wilson 95% intervals]({})\n",
                      kAccuracyByGroupPng);
  }

  if (scored != nullptr) {
    const Calibration& calibration = scored->calibration;
    md += fmt::format(
        "\n## Calibration\n\n{} with a score; confidence = probability of the predicted class. "
        "Expected calibration error (ECE): {:.4f}.\n\n",
        Plural(scored->ids.size(), "file", "files"), calibration.ece);
    md += "| confidence | files | mean confidence | accuracy |\n|---|---:|---:|---:|\n";
    for (const CalibrationBin& bin : calibration.bins) {
      md += fmt::format("| [{:.2f}, {:.2f}{} | {} | {} | {} |\n", bin.lo, bin.hi,
                        bin.hi >= 1.0 ? "]" : ")", bin.count,
                        bin.count ? fmt::format("{:.4f}", bin.mean_confidence) : "-",
                        bin.count ? fmt::format("{:.4f}", bin.accuracy) : "-");
    }
    if (has(kReliabilityPng)) md += fmt::format("\n![Reliability diagram]({})\n", kReliabilityPng);
  }
  if (has(kLearningCurvesPng)) {
    md += fmt::format("\n## Training\n\n![Learning curves]({})\n", kLearningCurvesPng);
  }

  md += MdIdList("Missing answers", report.missing,
                 "Targets without an answer, each scored as wrong.");
  md += MdIdList("Extra answers", report.extra, "Answer ids not among the targets, ignored.");
  md += MdIdList("Duplicate answers", report.duplicates,
                 "Ids answered more than once; the first answer counts.");
  if (scored != nullptr) {
    md += MdIdList("Targets without a score", scored->without_score,
                   "Left out of the calibration.");
  }
  return md;
}

// Writes report.json, the pictures and report.md into opts.report_dir. Throws IoError when the
// directory or a file cannot be written; a picture problem is only a warning.
void WriteReportDir(const EvalOptions& opts, const Evaluation& evaluation,
                    const std::string& json) {
  const fs::path dir = opts.report_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw IoError(opts.report_dir + ": cannot create the report directory" +
                  (ec ? ": " + ec.message() : std::string(" (not a directory)")));
  }
  const fs::path report_json = dir / "report.json";
  WriteFileAtomic(report_json.string(), json);

  PlotRequest request;
  request.report_json_path = report_json.string();
  request.out_dir = opts.report_dir;
  request.training_log_path = opts.training_log_path;
  request.with_groups = !evaluation.report.by.empty();
  request.with_calibration = evaluation.scored.has_value();
  const Pictures pictures = DrawPictures(request);
  if (!pictures.problem.empty()) {
    spdlog::warn("eval: pictures not made: {}; report.json and report.md are still written",
                 pictures.problem);
  }
  WriteFileAtomic((dir / "report.md").string(), ReportMarkdown(opts, evaluation, pictures));
  std::string written = "report.json, report.md";
  for (const std::string& name : pictures.made) written += ", " + name;
  spdlog::info("eval: wrote {} ({})", opts.report_dir, written);
}

}  // namespace

void EvalOptions::Validate() const {
  if (targets_path.empty()) throw ConfigError("eval: --targets is required");
  if (answers_path.empty()) throw ConfigError("eval: --answers is required");
  if (!by.empty() && meta_path.empty()) throw ConfigError("eval: --by needs --meta");
  for (const std::string& column : by) {
    if (column.empty()) throw ConfigError("eval: empty column name in --by");
  }
  if (!training_log_path.empty() && report_dir.empty()) {
    throw ConfigError("eval: --training-log needs --report (it is only drawn)");
  }
  if (calibration_bins < 1) {
    throw ConfigError("eval: --calibration-bins must be >= 1, got " +
                      std::to_string(calibration_bins));
  }
}

std::string EvalOptions::ToString() const {
  std::string by_list;
  for (const std::string& column : by) by_list += (by_list.empty() ? "" : ",") + column;
  return fmt::format(
      "EvalOptions(targets_path=\"{}\", answers_path=\"{}\", meta_path=\"{}\", "
      "by=\"{}\", json_path=\"{}\", report_dir=\"{}\", scores_path=\"{}\", "
      "training_log_path=\"{}\", calibration_bins={})",
      targets_path, answers_path, meta_path, by_list, json_path, report_dir, scores_path,
      training_log_path, calibration_bins);
}

Evaluation Evaluate(const EvalOptions& opts) {
  opts.Validate();
  const std::vector<Target> targets = ReadTargets(opts.targets_path);
  const std::vector<Answer> answers = ReadAnswers(opts.answers_path, /*allow_duplicates=*/true);
  Table meta;
  if (!opts.meta_path.empty()) meta = ReadTable(opts.meta_path);

  Evaluation evaluation;
  evaluation.num_answer_lines = answers.size();
  try {
    evaluation.report = ScoreAnswers(targets, answers, meta, opts.by);
  } catch (const ConfigError& e) {
    // Only the meta table and `by` can be at fault here: the labels were checked on reading.
    throw ConfigError(opts.meta_path + ": " + e.what());
  }

  if (!opts.scores_path.empty()) {
    evaluation.scored = JoinScores(opts.scores_path, targets, opts.calibration_bins);
    if (!evaluation.scored->without_score.empty()) {
      spdlog::warn("eval: {} without a score in {}, left out of the calibration",
                   Plural(evaluation.scored->without_score.size(), "target", "targets"),
                   opts.scores_path);
    }
  }
  if (!opts.training_log_path.empty()) CheckTrainingLog(opts.training_log_path);
  return evaluation;
}

std::string EvaluationJson(const EvalOptions& opts, const Evaluation& evaluation) {
  const EvalReport& report = evaluation.report;
  nlohmann::ordered_json j;
  j["targets"] = opts.targets_path;
  j["answers"] = opts.answers_path;
  if (evaluation.scored) j["scores"] = opts.scores_path;
  j["overall"] = GroupJson(report.overall);
  j["by"] = nlohmann::ordered_json::object();
  for (const GroupBreakdown& breakdown : report.by) {
    nlohmann::ordered_json groups = nlohmann::ordered_json::object();
    for (const GroupMetrics& group : breakdown.groups) groups[group.value] = GroupJson(group);
    j["by"][breakdown.column] = std::move(groups);
  }
  j["missing"] = report.missing;
  j["extra"] = report.extra;
  j["duplicates"] = report.duplicates;
  if (evaluation.scored) j["calibration"] = CalibrationJson(*evaluation.scored);
  // Ids come from user files: replace invalid UTF-8 rather than throw.
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

void WriteEvaluation(const EvalOptions& opts, const Evaluation& evaluation) {
  if (opts.json_path.empty() && opts.report_dir.empty()) return;
  const std::string json = EvaluationJson(opts, evaluation);
  if (!opts.json_path.empty()) {
    WriteFileAtomic(opts.json_path, json);
    spdlog::info("eval: wrote {}", opts.json_path);
  }
  if (!opts.report_dir.empty()) WriteReportDir(opts, evaluation, json);
}

}  // namespace voxsex
