// Tests of `voxsex eval --report` (report.json, report.md, pictures drawn by
// scripts/eval/plot_report.py) and of CalibrationBins (include/voxsex/metrics.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_util.h"
#include "voxsex/error.h"
#include "voxsex/metrics.h"
#include "voxsex/tsv.h"

namespace fs = std::filesystem;
using voxsex::test::FreshDir;
using voxsex::test::Quote;
using voxsex::test::ReadFile;
using voxsex::test::RunVoxsex;
using voxsex::test::ScopedEnv;
using voxsex::test::TempFilesIn;

namespace {

const fs::path kData = VOXSEX_TEST_DATA;
const fs::path kTargets = kData / "expected_answers.tsv";

// Tolerance for values computed two ways in double precision.
constexpr double kTol = 1e-12;

// Whether /usr/bin/python3 can import matplotlib; otherwise `why` says what is missing.
bool CanDraw(std::string* why) {
  if (::access("/usr/bin/python3", X_OK) != 0) {
    *why = "/usr/bin/python3 not found";
    return false;
  }
  if (std::system("/usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1") != 0) {
    *why = "/usr/bin/python3 cannot import matplotlib (apt-get install python3-matplotlib)";
    return false;
  }
  return true;
}

// Expects `path` to be a non-empty PNG file.
void ExpectPng(const fs::path& path) {
  ASSERT_TRUE(fs::is_regular_file(path)) << path;
  const std::string bytes = ReadFile(path);
  EXPECT_GT(bytes.size(), 8u) << path;
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << path;
}

// Runs predict with the bundled model on tests/data; returns the answers path.
fs::path PredictAnswers(const fs::path& dir) {
  const fs::path answers = dir / "answers.tsv";
  const auto r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()) +
                               " --model " + Quote(voxsex::test::BundledModel()),
                           dir);
  EXPECT_EQ(r.status, 0) << r.err;
  return answers;
}

// A meta table with the fixtures' id and format columns.
fs::path WriteFormatMeta(const fs::path& dir) {
  const voxsex::Table fixtures = voxsex::ReadTable((kData / "fixtures.tsv").string());
  const fs::path meta = dir / "meta.tsv";
  std::ofstream out(meta);
  out << "id\tformat\n";
  for (const auto& row : fixtures.rows) out << row.at("id") << '\t' << row.at("format") << '\n';
  return meta;
}

// scores.tsv in the `voxsex predict --scores` layout, p_female 0.93 for a female answer and 0.12
// for a male one (confidence 0.93 and 0.88, away from the 0.05-wide bin edges).
fs::path WriteScores(const fs::path& dir, const std::vector<voxsex::Answer>& answers) {
  const fs::path scores = dir / "scores.tsv";
  std::ofstream out(scores);
  out << "id\tp_female\tconfidence\tduration_s\tflags\n";
  for (const auto& a : answers) {
    out << a.id << '\t' << (a.gender == 1 ? "0.93" : "0.12") << '\t'
        << (a.gender == 1 ? "0.93" : "0.88") << "\t2.5\t\n";
  }
  return scores;
}

std::string EvalArgs(const fs::path& answers, const fs::path& report_dir) {
  return "eval --targets " + Quote(kTargets.string()) + " --answers " + Quote(answers.string()) +
         " --report " + Quote(report_dir.string());
}

}  // namespace

// Hand-computed: 5 bins of width 0.1 over [0.5, 1].
//   bin [0.5, 0.6): confidences 0.55 (right), 0.58 (wrong), 0.50 (p = 0.5 predicts female: wrong)
//                   mean 1.63 / 3, accuracy 1/3, gap 0.21
//   bin [0.6, 0.7): 0.62 (right), gap 0.38;  bin [0.7, 0.8): 0.72 (right), gap 0.28;  [0.8, 0.9): -
//   bin [0.9, 1.0]: 0.92 (right), 0.95 (wrong), 1.00 (right): mean 2.87 / 3, accuracy 2/3, gap 0.29
//   ECE = (3 * 0.21 + 0.38 + 0.28 + 3 * 0.29) / 8 = 2.16 / 8 = 0.27
TEST(Report, CalibrationBinsMatchHandComputedValues) {
  const std::vector<int> truth = {1, 0, 0, 1, 0, 1, 0, 1};
  const std::vector<double> p = {0.92, 0.95, 0.28, 0.62, 0.45, 0.42, 0.5, 1.0};
  const voxsex::Calibration c = voxsex::CalibrationBins(truth, p, 5);
  ASSERT_EQ(c.bins.size(), 5u);
  EXPECT_EQ(c.num_files, 8);
  const long counts[5] = {3, 1, 1, 0, 3};
  const double confidence[5] = {1.63 / 3, 0.62, 0.72, 0.0, 2.87 / 3};
  const double accuracy[5] = {1.0 / 3, 1.0, 1.0, 0.0, 2.0 / 3};
  for (int b = 0; b < 5; ++b) {
    EXPECT_NEAR(c.bins[b].lo, 0.5 + 0.1 * b, kTol) << "bin " << b;
    EXPECT_NEAR(c.bins[b].hi, 0.6 + 0.1 * b, kTol) << "bin " << b;
    EXPECT_EQ(c.bins[b].count, counts[b]) << "bin " << b;
    EXPECT_NEAR(c.bins[b].mean_confidence, confidence[b], kTol) << "bin " << b;
    EXPECT_NEAR(c.bins[b].accuracy, accuracy[b], kTol) << "bin " << b;
  }
  EXPECT_EQ(c.bins.back().hi, 1.0);
  EXPECT_NEAR(c.ece, 0.27, kTol);
}

TEST(Report, CalibrationBinsEdgeCases) {
  // No files: empty bins, ECE 0.
  voxsex::Calibration c = voxsex::CalibrationBins({}, {}, 10);
  ASSERT_EQ(c.bins.size(), 10u);
  EXPECT_EQ(c.num_files, 0);
  EXPECT_EQ(c.ece, 0.0);
  for (const auto& bin : c.bins) EXPECT_EQ(bin.count, 0);
  // Certain and right: perfectly calibrated. Certain and wrong: ECE 1.
  EXPECT_NEAR(voxsex::CalibrationBins({0, 1}, {0.0, 1.0}).ece, 0.0, kTol);
  EXPECT_NEAR(voxsex::CalibrationBins({1, 0}, {0.0, 1.0}).ece, 1.0, kTol);
  // Half right at 0.75 confidence: gap 0.25.
  EXPECT_NEAR(voxsex::CalibrationBins({1, 0}, {0.75, 0.75}).ece, 0.25, kTol);
  // Invalid input.
  EXPECT_THROW(voxsex::CalibrationBins({0}, {0.5, 0.5}), voxsex::ConfigError);
  EXPECT_THROW(voxsex::CalibrationBins({2}, {0.5}), voxsex::ConfigError);
  EXPECT_THROW(voxsex::CalibrationBins({0}, {1.5}), voxsex::ConfigError);
  EXPECT_THROW(voxsex::CalibrationBins({0}, {-0.1}), voxsex::ConfigError);
  EXPECT_THROW(voxsex::CalibrationBins({0}, {std::numeric_limits<double>::quiet_NaN()}),
               voxsex::ConfigError);
  EXPECT_THROW(voxsex::CalibrationBins({0}, {0.5}, 0), voxsex::ConfigError);
}

TEST(Report, WritesTablesAndPicturesByGroup) {
  const auto dir = FreshDir("report_tables");
  const fs::path answers = PredictAnswers(dir);
  ASSERT_TRUE(fs::exists(answers));
  const fs::path meta = WriteFormatMeta(dir);
  const fs::path report_dir = dir / "new" / "report";  // created by eval
  const fs::path json = dir / "report.json";
  const auto r = RunVoxsex(EvalArgs(answers, report_dir) + " --meta " + Quote(meta.string()) +
                               " --by format --json " + Quote(json.string()),
                           dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("targets: ", 0), 0u) << "stdout must hold only the report: " << r.out;

  // report.json is the --json report.
  ASSERT_TRUE(fs::exists(report_dir / "report.json"));
  EXPECT_EQ(ReadFile(report_dir / "report.json"), ReadFile(json));
  const auto report = nlohmann::json::parse(ReadFile(json));
  EXPECT_EQ(report["overall"]["files"].get<int>(), 6);
  EXPECT_EQ(report["by"]["format"].size(), 6u);
  EXPECT_FALSE(report.contains("calibration"));

  const std::string md = ReadFile(report_dir / "report.md");
  EXPECT_NE(md.find("# voxsex evaluation report"), std::string::npos) << md;
  EXPECT_NE(md.find("## Overall"), std::string::npos) << md;
  EXPECT_NE(md.find("| files | missing | accuracy % | 95% CI (Wilson) % |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| all | 6 | 0 | 100.00 |"), std::string::npos) << md;
  EXPECT_NE(md.find("## Confusion matrix"), std::string::npos) << md;
  EXPECT_NE(md.find("| male | 3 | 0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| female | 0 | 3 |"), std::string::npos) << md;
  EXPECT_NE(md.find("## By format"), std::string::npos) << md;
  EXPECT_NE(md.find("| aiff24\\_32k\\_stereo | 1 | 0 | 100.00 |"), std::string::npos) << md;
  EXPECT_TRUE(TempFilesIn(report_dir).empty());

  std::string why;
  if (!CanDraw(&why)) GTEST_SKIP() << "pictures not checked: " << why;
  EXPECT_NE(md.find("![Confusion matrix](confusion.png)"), std::string::npos) << md;
  EXPECT_NE(md.find("](accuracy_by_group.png)"), std::string::npos) << md;
  ExpectPng(report_dir / "confusion.png");
  ExpectPng(report_dir / "accuracy_by_group.png");
  EXPECT_FALSE(fs::exists(report_dir / "reliability.png"));
  EXPECT_FALSE(fs::exists(report_dir / "learning_curves.png"));
  EXPECT_EQ(md.find("reliability.png"), std::string::npos) << md;
  EXPECT_TRUE(TempFilesIn(report_dir).empty());
}

TEST(Report, ScoresGiveCalibrationAndAReliabilityDiagram) {
  const auto dir = FreshDir("report_scores");
  const fs::path answers = PredictAnswers(dir);
  ASSERT_TRUE(fs::exists(answers));
  const fs::path scores = WriteScores(dir, voxsex::ReadAnswers(answers.string()));
  const fs::path report_dir = dir / "report";
  const auto r =
      RunVoxsex(EvalArgs(answers, report_dir) + " --scores " + Quote(scores.string()), dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("expected calibration error (ECE)"), std::string::npos) << r.out;

  const auto report = nlohmann::json::parse(ReadFile(report_dir / "report.json"));
  ASSERT_TRUE(report.contains("calibration")) << report.dump(2);
  const auto& calibration = report["calibration"];
  const double ece = calibration["ece"].get<double>();
  EXPECT_GE(ece, 0.0);
  EXPECT_LE(ece, 1.0);
  EXPECT_EQ(calibration["files"].get<int>(), 6);
  EXPECT_EQ(calibration["bins"].size(), 10u);
  EXPECT_EQ(calibration["scores"].size(), 6u);
  EXPECT_TRUE(calibration["without_score"].empty());
  // Every answer right (E2E.PredictClassifiesEveryFormatLikeTheLabels): 3 files at confidence
  // 0.93 and 3 at 0.88, all correct, so ECE = (3 * 0.07 + 3 * 0.12) / 6 = 0.095.
  if (report["overall"]["accuracy"].get<double>() == 1.0) {
    EXPECT_NEAR(ece, 0.095, 1e-9);
  }

  const std::string md = ReadFile(report_dir / "report.md");
  EXPECT_NE(md.find("## Calibration"), std::string::npos) << md;
  char ece_text[64];
  std::snprintf(ece_text, sizeof ece_text, "(ECE): %.4f", ece);
  EXPECT_NE(md.find(ece_text), std::string::npos) << md;

  std::string why;
  if (!CanDraw(&why)) GTEST_SKIP() << "pictures not checked: " << why;
  EXPECT_NE(md.find("![Reliability diagram](reliability.png)"), std::string::npos) << md;
  ExpectPng(report_dir / "reliability.png");
  ExpectPng(report_dir / "confusion.png");
}

TEST(Report, ScoresAreJoinedByIdAndColumnName) {
  const auto dir = FreshDir("report_scores_join");
  const fs::path answers = dir / "answers.tsv";
  { std::ofstream(answers) << "clip_3_wav16_16k_mono\t0\nclip_4_mp3_48k_mono\t1\n"; }
  // Columns in another order, an id that is not a target, an empty p_female, a missing target.
  const fs::path scores = dir / "scores.tsv";
  {
    std::ofstream(scores) << "flags\tp_female\tid\n"
                          << "\t0.2\tclip_3_wav16_16k_mono\n"
                          << "\t0.7\tclip_4_mp3_48k_mono\n"
                          << "\t0.9\tnot_a_target\n"
                          << "failed\t\tclip_1_aiff24_32k_stereo\n";
  }
  const fs::path json = dir / "report.json";
  const auto r = RunVoxsex("eval --targets " + Quote(kTargets.string()) + " --answers " +
                               Quote(answers.string()) + " --scores " + Quote(scores.string()) +
                               " --json " + Quote(json.string()),
                           dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto calibration = nlohmann::json::parse(ReadFile(json))["calibration"];
  EXPECT_EQ(calibration["files"].get<int>(), 2);
  EXPECT_EQ(calibration["without_score"].size(), 4u);
  EXPECT_EQ(calibration["without_score"][0].get<std::string>(), "clip_1_aiff24_32k_stereo");
  EXPECT_EQ(calibration["scores"][0]["id"].get<std::string>(), "clip_3_wav16_16k_mono");
  EXPECT_EQ(calibration["scores"][0]["truth"].get<int>(), 0);
  EXPECT_DOUBLE_EQ(calibration["scores"][0]["p_female"].get<double>(), 0.2);
  // Both right, at confidence 0.8 and 0.7: ECE = (0.2 + 0.3) / 2.
  EXPECT_NEAR(calibration["ece"].get<double>(), 0.25, 1e-9);
}

TEST(Report, TrainingLogGivesLearningCurves) {
  const auto dir = FreshDir("report_training_log");
  const fs::path answers = PredictAnswers(dir);
  ASSERT_TRUE(fs::exists(answers));
  const fs::path log = dir / "training.tsv";
  {
    std::ofstream out(log);
    out << "member\tepoch\tloss\ttrain_accuracy\tval_accuracy\tval_balanced_accuracy\tseconds\n";
    for (int member = 0; member < 2; ++member) {
      for (int epoch = 1; epoch <= 3; ++epoch) {
        out << member << '\t' << epoch << '\t' << 0.7 / epoch + 0.01 * member << "\t0.8\t";
        if (epoch == 2) {
          out << "\t";  // no validation this epoch
        } else {
          out << 0.8 + 0.05 * epoch << '\t' << 0.79 + 0.05 * epoch;
        }
        out << "\t12.5\n";
      }
    }
  }
  const fs::path report_dir = dir / "report";
  const auto r =
      RunVoxsex(EvalArgs(answers, report_dir) + " --training-log " + Quote(log.string()), dir);
  ASSERT_EQ(r.status, 0) << r.err;
  std::string why;
  if (!CanDraw(&why)) GTEST_SKIP() << "pictures not checked: " << why;
  ExpectPng(report_dir / "learning_curves.png");
  const std::string md = ReadFile(report_dir / "report.md");
  EXPECT_NE(md.find("![Learning curves](learning_curves.png)"), std::string::npos) << md;
}

TEST(Report, WithoutPythonTheTablesAreStillWritten) {
  const auto dir = FreshDir("report_no_python");
  const fs::path answers = dir / "answers.tsv";
  fs::copy_file(kTargets, answers);
  const fs::path report_dir = dir / "report";
  ScopedEnv python("VOXSEX_PYTHON", (dir / "no" / "python3").string());
  const auto r = RunVoxsex(EvalArgs(answers, report_dir), dir);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find((dir / "no" / "python3").string() + " not found"), std::string::npos)
      << r.err;
  const std::string md = ReadFile(report_dir / "report.md");
  EXPECT_NE(md.find("## Overall"), std::string::npos) << md;
  EXPECT_NE(md.find("Pictures were not made"), std::string::npos) << md;
  EXPECT_EQ(md.find(".png)"), std::string::npos) << md;
  EXPECT_TRUE(fs::exists(report_dir / "report.json"));
  EXPECT_FALSE(fs::exists(report_dir / "confusion.png"));
}

TEST(Report, WithoutTheScriptTheTablesAreStillWritten) {
  const auto dir = FreshDir("report_no_script");
  const fs::path answers = dir / "answers.tsv";
  fs::copy_file(kTargets, answers);
  const fs::path report_dir = dir / "report";
  fs::create_directories(dir / "empty");
  ScopedEnv scripts("VOXSEX_SCRIPTS_DIR", (dir / "empty").string());
  const auto r = RunVoxsex(EvalArgs(answers, report_dir), dir);
  EXPECT_EQ(r.status, 0) << r.err;
  if (::access("/usr/bin/python3", X_OK) == 0) {
    EXPECT_NE(r.err.find("plot_report.py not found"), std::string::npos) << r.err;
  }
  EXPECT_NE(ReadFile(report_dir / "report.md").find("## Overall"), std::string::npos);
}

TEST(Report, IdListsAreCappedAndEscaped) {
  const auto dir = FreshDir("report_id_lists");
  const fs::path targets = dir / "targets.tsv", answers = dir / "answers.tsv";
  {
    std::ofstream t(targets);
    t << "a|b_c\t1\n";
    for (int i = 0; i < 25; ++i) t << "t" << (i < 10 ? "0" : "") << i << "\t0\n";
    std::ofstream(answers) << "t00\t0\nt00\t1\nextra_id\t1\n";
  }
  const fs::path report_dir = dir / "report";
  const auto r = RunVoxsex("eval --targets " + Quote(targets.string()) + " --answers " +
                               Quote(answers.string()) + " --report " + Quote(report_dir.string()),
                           dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string md = ReadFile(report_dir / "report.md");
  EXPECT_NE(md.find("## Missing answers (25)"), std::string::npos) << md;
  EXPECT_NE(md.find("- a\\|b\\_c\n"), std::string::npos) << md;
  EXPECT_NE(md.find("- t19\n"), std::string::npos) << md;
  EXPECT_EQ(md.find("- t20\n"), std::string::npos) << md;
  EXPECT_NE(md.find("- ... and 5 more (all in report.json)"), std::string::npos) << md;
  EXPECT_NE(md.find("## Extra answers (1)\n\nAnswer ids not among the targets, ignored.\n\n"
                    "- extra\\_id\n"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("## Duplicate answers (1)"), std::string::npos) << md;
  const auto report = nlohmann::json::parse(ReadFile(report_dir / "report.json"));
  EXPECT_EQ(report["missing"].size(), 25u);
}

TEST(Report, BadInputsAreErrors) {
  const auto dir = FreshDir("report_bad_inputs");
  const fs::path answers = dir / "answers.tsv";
  fs::copy_file(kTargets, answers);
  const fs::path report_dir = dir / "report";
  const fs::path no_column = dir / "no_column.tsv", not_number = dir / "not_number.tsv";
  { std::ofstream(no_column) << "id\tp\nclip_3_wav16_16k_mono\t0.3\n"; }
  { std::ofstream(not_number) << "id\tp_female\nclip_3_wav16_16k_mono\tabc\n"; }
  auto r = RunVoxsex(EvalArgs(answers, report_dir) + " --scores " + Quote(no_column.string()), dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no_column.tsv: no 'p_female' column"), std::string::npos) << r.err;
  r = RunVoxsex(EvalArgs(answers, report_dir) + " --scores " + Quote(not_number.string()), dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("'abc' is not a number in [0, 1]"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(report_dir));

  const fs::path log = dir / "training.tsv";
  { std::ofstream(log) << "member\tepoch\n0\t1\n"; }
  r = RunVoxsex(EvalArgs(answers, report_dir) + " --training-log " + Quote(log.string()), dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no 'loss' column"), std::string::npos) << r.err;
  // --training-log is only drawn: it needs --report.
  r = RunVoxsex("eval --targets " + Quote(kTargets.string()) + " --answers " +
                    Quote(answers.string()) + " --training-log " + Quote(log.string()),
                dir);
  EXPECT_EQ(r.status, 2);

  // A report directory that cannot be created.
  const fs::path file = dir / "a_file";
  { std::ofstream(file) << "x"; }
  r = RunVoxsex(EvalArgs(answers, file / "report"), dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot create the report directory"), std::string::npos) << r.err;
}

TEST(Report, HelpDescribesReportsAndTheirNeeds) {
  const auto dir = FreshDir("report_help");
  const auto r = RunVoxsex("eval --help", dir);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--report"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("python3-matplotlib"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("still exits 0"), std::string::npos) << r.out;
}

// The contract between `predict --scores` and `eval --scores`: eval reads predict's sidecar.
TEST(Report, EvalReadsTheScoresPredictWrites) {
  const auto dir = FreshDir("report_predict_scores");
  const fs::path answers = dir / "answers.tsv", scores = dir / "scores.tsv";
  auto r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()) +
                         " --scores " + Quote(scores.string()) + " --model " +
                         Quote(voxsex::test::BundledModel()),
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const fs::path json = dir / "report.json";
  r = RunVoxsex("eval --targets " + Quote(kTargets.string()) + " --answers " +
                    Quote(answers.string()) + " --scores " + Quote(scores.string()) + " --json " +
                    Quote(json.string()),
                dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto calibration = nlohmann::json::parse(ReadFile(json))["calibration"];
  EXPECT_EQ(calibration["files"].get<int>(), 6);
  EXPECT_TRUE(calibration["without_score"].empty());
  const double ece = calibration["ece"].get<double>();
  EXPECT_GE(ece, 0.0);
  EXPECT_LE(ece, 1.0);
}
