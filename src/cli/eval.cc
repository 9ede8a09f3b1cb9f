// `voxsex eval`: score answers.tsv against targets.tsv, overall and by meta.tsv group.
#include "cli/eval.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "voxsex/error.h"
#include "voxsex/metrics.h"
#include "voxsex/tsv.h"

namespace voxsex::cli {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxIdsListed = 10;    // ids printed per list on stdout; --json has them all
constexpr size_t kMaxIdsInMarkdown = 20;  // ids per list in report.md; report.json has them all

constexpr const char* kDefaultPython = "/usr/bin/python3";
constexpr const char* kPlotScript = "plot_report.py";
// Exit status of plot_report.py when matplotlib cannot be imported.
constexpr int kPlotNoMatplotlib = 3;

// The pictures plot_report.py may draw, in the order report.md shows them.
constexpr const char* kConfusionPng = "confusion.png";
constexpr const char* kAccuracyByGroupPng = "accuracy_by_group.png";
constexpr const char* kReliabilityPng = "reliability.png";
constexpr const char* kLearningCurvesPng = "learning_curves.png";

// Scores joined with the targets by id.
struct ScoredTargets {
  std::vector<std::string> ids;  // targets with a score, in targets order
  std::vector<int> truth;
  std::vector<double> p_female;
  std::vector<std::string> without_score;  // target ids absent from scores (or empty p_female)
  voxsex::Calibration calibration;
};

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
                 size_t num_answer_lines, const ScoredTargets* scored) {
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

nlohmann::ordered_json CalibrationJson(const ScoredTargets& scored) {
  const voxsex::Calibration& calibration = scored.calibration;
  nlohmann::ordered_json j;
  j["files"] = calibration.num_files;
  j["ece"] = calibration.ece;
  j["bins"] = nlohmann::ordered_json::array();
  for (const voxsex::CalibrationBin& bin : calibration.bins) {
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

std::string ReportJson(const EvalOptions& opts, const voxsex::EvalReport& report,
                       const ScoredTargets* scored) {
  nlohmann::ordered_json j;
  j["targets"] = opts.targets_path;
  j["answers"] = opts.answers_path;
  if (scored != nullptr) j["scores"] = opts.scores_path;
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
  if (scored != nullptr) j["calibration"] = CalibrationJson(*scored);
  // Ids come from user files: replace invalid UTF-8 rather than throw.
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
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
    throw voxsex::FormatError(path + ": id '" + id + "': p_female '" + field +
                              "' is not a number in [0, 1]");
  }
  return p;
}

// Reads scores.tsv (header with at least `id` and `p_female`) and joins it with the targets by
// id: the first row per id counts; ids not among the targets are ignored. Throws FormatError.
ScoredTargets JoinScores(const std::string& path, const std::vector<voxsex::Target>& targets,
                         int num_bins) {
  const voxsex::Table table = voxsex::ReadTable(path);
  for (const char* column : {"id", "p_female"}) {
    if (std::find(table.columns.begin(), table.columns.end(), column) == table.columns.end()) {
      throw voxsex::FormatError(path + ": no '" + column +
                                "' column in the header (expected id<TAB>p_female<TAB>...)");
    }
  }
  std::unordered_map<std::string, std::optional<double>> score_of;
  for (const auto& row : table.rows) {
    const std::string& id = row.at("id");
    if (score_of.count(id) != 0) continue;
    score_of.emplace(id, ParseProbability(path, id, row.at("p_female")));
  }
  ScoredTargets scored;
  for (const voxsex::Target& target : targets) {
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
  scored.calibration = voxsex::CalibrationBins(scored.truth, scored.p_female, num_bins);
  return scored;
}

// Checks that training.tsv has the columns plot_report.py draws. Throws FormatError.
void CheckTrainingLog(const std::string& path) {
  const voxsex::Table table = voxsex::ReadTable(path);
  for (const char* column : {"member", "epoch", "loss", "val_balanced_accuracy"}) {
    if (std::find(table.columns.begin(), table.columns.end(), column) == table.columns.end()) {
      throw voxsex::FormatError(
          path + ": no '" + column +
          "' column in the header (expected member, epoch, loss, val_balanced_accuracy, ...)");
    }
  }
  if (table.rows.empty()) spdlog::warn("eval: {} has no epochs to draw", path);
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

std::string MdMetricsRow(const std::string& name, const voxsex::GroupMetrics& group) {
  const voxsex::BinaryMetrics& m = group.metrics;
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

// report.md: the tables of the stdout report, id lists, and links to the pictures that exist.
std::string ReportMarkdown(const EvalOptions& opts, const voxsex::EvalReport& report,
                           size_t num_answer_lines, const ScoredTargets* scored,
                           const std::vector<std::string>& pictures,
                           const std::string& pictures_problem) {
  const auto has = [&pictures](const char* name) {
    return std::find(pictures.begin(), pictures.end(), name) != pictures.end();
  };
  std::string md = "# voxsex evaluation report\n\n";
  md += fmt::format("- targets: {} ({})\n", MdEscape(opts.targets_path),
                    Plural(report.overall.metrics.num_files, "file", "files"));
  md += fmt::format("- answers: {} ({})\n", MdEscape(opts.answers_path),
                    Plural(num_answer_lines, "line", "lines"));
  if (!opts.meta_path.empty()) md += fmt::format("- meta: {}\n", MdEscape(opts.meta_path));
  if (scored != nullptr) md += fmt::format("- scores: {}\n", MdEscape(opts.scores_path));
  if (!opts.training_log_path.empty()) {
    md += fmt::format("- training log: {}\n", MdEscape(opts.training_log_path));
  }
  md += fmt::format("- missing answers: {} (each scored as wrong)\n", report.missing.size());
  if (!pictures_problem.empty()) {
    md += fmt::format("\nPictures were not made: {}.\n", MdEscape(pictures_problem));
  }

  md += "\n## Overall\n\n" + MdMetricsHeader("") + MdMetricsRow("all", report.overall);

  const auto& c = report.overall.metrics.confusion;
  md += "\n## Confusion matrix\n\nRows: truth; columns: predicted.\n\n";
  md += "| truth | predicted male | predicted female |\n|---|---:|---:|\n";
  md += fmt::format("| male | {} | {} |\n| female | {} | {} |\n", c[0][0], c[0][1], c[1][0],
                    c[1][1]);
  if (has(kConfusionPng)) md += fmt::format("\n![Confusion matrix]({})\n", kConfusionPng);

  for (const voxsex::GroupBreakdown& breakdown : report.by) {
    md += fmt::format("\n## By {}\n\n", MdEscape(breakdown.column));
    md += MdMetricsHeader(MdEscape(breakdown.column));
    for (const voxsex::GroupMetrics& group : breakdown.groups) {
      md += MdMetricsRow(group.value.empty() ? "(empty)" : group.value, group);
    }
  }
  if (has(kAccuracyByGroupPng)) {
    md += fmt::format("\n![Accuracy by group, with Wilson 95% intervals]({})\n",
                      kAccuracyByGroupPng);
  }

  if (scored != nullptr) {
    const voxsex::Calibration& calibration = scored->calibration;
    md += fmt::format(
        "\n## Calibration\n\n{} with a score; confidence = probability of the predicted class. "
        "Expected calibration error (ECE): {:.4f}.\n\n",
        Plural(scored->ids.size(), "file", "files"), calibration.ece);
    md += "| confidence | files | mean confidence | accuracy |\n|---|---:|---:|---:|\n";
    for (const voxsex::CalibrationBin& bin : calibration.bins) {
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

// The directories searched for plot_report.py (see run_eval in eval.h).
std::vector<fs::path> PlotScriptDirs() {
  if (const char* env = std::getenv("VOXSEX_SCRIPTS_DIR"); env != nullptr && *env != '\0') {
    return {fs::path(env)};
  }
  std::vector<fs::path> dirs;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path();
    dirs.push_back(dir / ".." / "share" / "voxsex" / "scripts");
    dirs.push_back(dir / ".." / "scripts" / "eval");
    dirs.push_back(dir / ".." / ".." / "scripts" / "eval");
  }
  return dirs;
}

// Single-quotes `arg` for /bin/sh, for logging a command line that can be pasted.
std::string ShellQuote(const std::string& arg) {
  std::string quoted = "'";
  for (const char ch : arg) quoted += (ch == '\'') ? std::string("'\\''") : std::string(1, ch);
  return quoted + "'";
}

// Runs argv[0] with `argv` (no shell), its stdout sent to our stderr so stdout keeps only the
// report. Returns "" on exit status 0, else what went wrong.
std::string RunProgram(const std::vector<std::string>& argv) {
  std::string command_line;
  for (const std::string& arg : argv) {
    command_line += (command_line.empty() ? "" : " ") + ShellQuote(arg);
  }
  spdlog::debug("eval: running {}", command_line);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  std::cout.flush();
  pid_t pid = 0;
  const int err = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return fmt::format("cannot run {}: {}", argv[0], std::strerror(err));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return fmt::format("cannot wait for {}: {}", argv[0], std::strerror(errno));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (WIFEXITED(status) && WEXITSTATUS(status) == kPlotNoMatplotlib) {
    return fmt::format("{} cannot import matplotlib (install python3-matplotlib)", argv[0]);
  }
  const std::string how = WIFEXITED(status)
                              ? fmt::format("exited with status {}", WEXITSTATUS(status))
                              : fmt::format("was killed by signal {}", WTERMSIG(status));
  return fmt::format("{} {} (command: {})", argv[1], how, command_line);
}

// Draws the pictures into `dir` with plot_report.py. Returns the names of the pictures made and
// sets `problem` to why some or all could not be made ("" when all went well).
std::vector<std::string> DrawPictures(const EvalOptions& opts, const fs::path& dir,
                                      const fs::path& report_json, bool with_groups,
                                      bool with_calibration, std::string* problem) {
  std::vector<std::string> expected = {kConfusionPng};
  if (with_groups) expected.push_back(kAccuracyByGroupPng);
  if (with_calibration) expected.push_back(kReliabilityPng);
  if (!opts.training_log_path.empty()) expected.push_back(kLearningCurvesPng);
  // Pictures of an earlier report in the same directory must not be linked as if new.
  for (const char* name : {kConfusionPng, kAccuracyByGroupPng, kReliabilityPng, kLearningCurvesPng}) {
    std::error_code ec;
    fs::remove(dir / name, ec);
  }

  const char* python_env = std::getenv("VOXSEX_PYTHON");
  const std::string python =
      (python_env != nullptr && *python_env != '\0') ? python_env : kDefaultPython;
  if (::access(python.c_str(), X_OK) != 0) {
    *problem = python + " not found (install python3 and python3-matplotlib, e.g. scripts/setup.sh)";
    return {};
  }
  fs::path script;
  std::string searched;
  for (const fs::path& d : PlotScriptDirs()) {
    std::error_code ec;
    const fs::path candidate = d / kPlotScript;
    searched += (searched.empty() ? "" : ", ") + candidate.lexically_normal().string();
    if (fs::is_regular_file(candidate, ec)) {
      script = fs::weakly_canonical(candidate, ec);
      break;
    }
  }
  if (script.empty()) {
    *problem = std::string(kPlotScript) + " not found (looked in: " + searched +
               "; set VOXSEX_SCRIPTS_DIR)";
    return {};
  }

  std::vector<std::string> argv = {python, script.string(), report_json.string(), dir.string()};
  if (!opts.training_log_path.empty()) {
    argv.push_back("--training-log");
    argv.push_back(opts.training_log_path);
  }
  *problem = RunProgram(argv);
  std::vector<std::string> made;
  std::string not_made;
  for (const std::string& name : expected) {
    std::error_code ec;
    if (fs::is_regular_file(dir / name, ec) && fs::file_size(dir / name, ec) > 0) {
      made.push_back(name);
    } else {
      not_made += (not_made.empty() ? "" : ", ") + name;
    }
  }
  if (problem->empty() && !not_made.empty()) {
    *problem = script.string() + " did not write " + not_made;
  }
  return made;
}

// Writes report.json, the pictures and report.md into opts.report_dir. Throws voxsex::Error when
// the directory or a file cannot be written; a picture problem is only a warning.
void WriteReportDir(const EvalOptions& opts, const voxsex::EvalReport& report,
                    size_t num_answer_lines, const ScoredTargets* scored,
                    const std::string& json) {
  const fs::path dir = opts.report_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw voxsex::FormatError(opts.report_dir + ": cannot create the report directory" +
                              (ec ? ": " + ec.message() : std::string(" (not a directory)")));
  }
  const fs::path report_json = dir / "report.json";
  voxsex::WriteFileAtomic(report_json.string(), json);

  std::string problem;
  const std::vector<std::string> pictures =
      DrawPictures(opts, dir, report_json, !report.by.empty(), scored != nullptr, &problem);
  if (!problem.empty()) {
    spdlog::warn("eval: pictures not made: {}; report.json and report.md are still written",
                 problem);
  }
  voxsex::WriteFileAtomic(
      (dir / "report.md").string(),
      ReportMarkdown(opts, report, num_answer_lines, scored, pictures, problem));
  std::string written = "report.json, report.md";
  for (const std::string& name : pictures) written += ", " + name;
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
      "Pictures (--report): drawn by scripts/eval/plot_report.py with /usr/bin/python3 (override\n"
      "with $VOXSEX_PYTHON) and matplotlib (Debian: python3-matplotlib). The script is looked for\n"
      "in $VOXSEX_SCRIPTS_DIR if set, else <exe dir>/../share/voxsex/scripts,\n"
      "<exe dir>/../scripts/eval, <exe dir>/../../scripts/eval. If python3, matplotlib or the\n"
      "script is missing, eval warns, writes report.json and report.md without pictures, and\n"
      "still exits 0.\n"
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

    std::optional<ScoredTargets> scored;
    if (!opts.scores_path.empty()) {
      scored = JoinScores(opts.scores_path, targets, opts.calibration_bins);
      if (!scored->without_score.empty()) {
        spdlog::warn("eval: {} without a score in {}, left out of the calibration",
                     Plural(scored->without_score.size(), "target", "targets"),
                     opts.scores_path);
      }
    }
    if (!opts.training_log_path.empty()) CheckTrainingLog(opts.training_log_path);
    const ScoredTargets* scored_ptr = scored ? &*scored : nullptr;

    PrintReport(std::cout, opts, report, answers.size(), scored_ptr);
    const std::string json = ReportJson(opts, report, scored_ptr);
    if (!opts.json_path.empty()) {
      voxsex::WriteFileAtomic(opts.json_path, json);
      spdlog::info("eval: wrote {}", opts.json_path);
    }
    if (!opts.report_dir.empty()) {
      WriteReportDir(opts, report, answers.size(), scored_ptr, json);
    }
    return 0;
  } catch (const voxsex::Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
}

}  // namespace voxsex::cli
