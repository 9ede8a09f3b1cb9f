// Tests of the evaluation library (include/voxsex/eval.h) and its internal helpers: MetricsJson
// (src/metrics_json.h) and FindInstalledFile (src/install_paths.h). The CLI and the pictures are
// tested end to end in test_report.cc.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "install_paths.h"
#include "metrics_json.h"
#include "test_util.h"
#include "voxsex/error.h"
#include "voxsex/eval.h"

namespace fs = std::filesystem;
using voxsex::test::FreshDir;

namespace {

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Keys of a JSON object, in document order.
std::vector<std::string> Keys(const nlohmann::ordered_json& j) {
  std::vector<std::string> keys;
  for (const auto& item : j.items()) keys.push_back(item.key());
  return keys;
}

// Targets a, b (male) and c, d (female); answers: a right, b wrong, c right, d missing, x extra,
// a twice. Meta puts a, c in group "g1" and b, d in "g2".
class EvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir(std::string("eval_") +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    opts_.targets_path = (dir_ / "targets.tsv").string();
    opts_.answers_path = (dir_ / "answers.tsv").string();
    WriteText(opts_.targets_path, "a\t0\nb\t0\nc\t1\nd\t1\n");
    WriteText(opts_.answers_path, "a\t0\nb\t1\nc\t1\nx\t0\na\t1\n");
    WriteText(dir_ / "meta.tsv", "id\tgroup\na\tg1\nb\tg2\nc\tg1\nd\tg2\n");
    WriteText(dir_ / "scores.tsv", "id\tp_female\tflags\na\t0.2\t\nb\t0.7\t\nc\t0.9\t\nd\t\t\n");
  }

  fs::path dir_;
  voxsex::EvalOptions opts_;
};

}  // namespace

TEST_F(EvalTest, ScoresOverallAndByGroupWithMissingAsWrong) {
  opts_.meta_path = (dir_ / "meta.tsv").string();
  opts_.by = {"group"};
  const voxsex::Evaluation e = voxsex::Evaluate(opts_);
  EXPECT_EQ(e.num_answer_lines, 5u);
  EXPECT_EQ(e.report.overall.metrics.num_files, 4);
  EXPECT_EQ(e.report.overall.metrics.num_correct, 2);  // a, c; d missing counts as wrong
  EXPECT_EQ(e.report.overall.num_missing, 1);
  EXPECT_EQ(e.report.missing, std::vector<std::string>{"d"});
  EXPECT_EQ(e.report.extra, std::vector<std::string>{"x"});
  EXPECT_EQ(e.report.duplicates, std::vector<std::string>{"a"});
  ASSERT_EQ(e.report.by.size(), 1u);
  ASSERT_EQ(e.report.by[0].groups.size(), 2u);
  EXPECT_EQ(e.report.by[0].groups[0].value, "g1");
  EXPECT_EQ(e.report.by[0].groups[0].metrics.num_correct, 2);
  EXPECT_EQ(e.report.by[0].groups[1].metrics.num_correct, 0);
  EXPECT_FALSE(e.scored.has_value());
}

TEST_F(EvalTest, ScoresAreJoinedByIdAndAnEmptyScoreIsLeftOut) {
  opts_.scores_path = (dir_ / "scores.tsv").string();
  opts_.calibration_bins = 5;
  const voxsex::Evaluation e = voxsex::Evaluate(opts_);
  ASSERT_TRUE(e.scored.has_value());
  EXPECT_EQ(e.scored->ids, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(e.scored->truth, (std::vector<int>{0, 0, 1}));
  EXPECT_EQ(e.scored->without_score, std::vector<std::string>{"d"});
  EXPECT_EQ(e.scored->calibration.num_files, 3);
  EXPECT_EQ(e.scored->calibration.bins.size(), 5u);
}

TEST_F(EvalTest, JsonHasTheDocumentedShape) {
  opts_.meta_path = (dir_ / "meta.tsv").string();
  opts_.by = {"group"};
  opts_.scores_path = (dir_ / "scores.tsv").string();
  const std::string text = voxsex::EvaluationJson(opts_, voxsex::Evaluate(opts_));
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const auto j = nlohmann::ordered_json::parse(text);
  EXPECT_EQ(Keys(j), (std::vector<std::string>{"targets", "answers", "scores", "overall", "by",
                                                "missing", "extra", "duplicates", "calibration"}));
  EXPECT_EQ(Keys(j["overall"]),
            (std::vector<std::string>{"files", "correct", "missing", "accuracy", "accuracy_ci95",
                                      "balanced_accuracy", "recall_male", "recall_female",
                                      "confusion"}));
  EXPECT_EQ(j["overall"]["confusion"], nlohmann::ordered_json({{1, 1}, {1, 1}}));
  EXPECT_EQ(j["by"]["group"]["g2"]["missing"], 1);
  EXPECT_EQ(Keys(j["calibration"]), (std::vector<std::string>{"files", "ece", "bins",
                                                              "without_score", "scores"}));
}

TEST_F(EvalTest, ErrorKinds) {
  voxsex::EvalOptions bad = opts_;
  bad.calibration_bins = 0;
  EXPECT_THROW(bad.Validate(), voxsex::ConfigError);
  EXPECT_THROW(voxsex::Evaluate(bad), voxsex::ConfigError);
  bad = opts_;
  bad.by = {"group"};  // without meta
  EXPECT_THROW(voxsex::Evaluate(bad), voxsex::ConfigError);
  bad = opts_;
  bad.meta_path = (dir_ / "meta.tsv").string();
  bad.by = {"no_such_column"};
  EXPECT_THROW(voxsex::Evaluate(bad), voxsex::ConfigError);
  bad = opts_;
  bad.answers_path = (dir_ / "no_such.tsv").string();
  EXPECT_THROW(voxsex::Evaluate(bad), voxsex::IoError);
  bad = opts_;
  bad.scores_path = (dir_ / "targets.tsv").string();  // no header naming id and p_female
  EXPECT_THROW(voxsex::Evaluate(bad), voxsex::FormatError);
  bad = opts_;
  bad.report_dir = (dir_ / "targets.tsv" / "report").string();  // under a regular file
  EXPECT_THROW(voxsex::WriteEvaluation(bad, voxsex::Evaluate(opts_)), voxsex::IoError);
}

TEST_F(EvalTest, WritesTheJsonFileAtomically) {
  opts_.json_path = (dir_ / "out.json").string();
  const voxsex::Evaluation e = voxsex::Evaluate(opts_);
  voxsex::WriteEvaluation(opts_, e);
  EXPECT_EQ(voxsex::test::ReadFile(opts_.json_path), voxsex::EvaluationJson(opts_, e));
  EXPECT_TRUE(voxsex::test::TempFilesIn(dir_).empty());
}

TEST(MetricsJson, KeysInOrderAndMissingOnlyWhenGiven) {
  const voxsex::BinaryMetrics m = voxsex::ComputeMetrics({0, 0, 1, 1}, {0, 1, 1, 1});
  const nlohmann::ordered_json without = voxsex::MetricsJson(m);
  EXPECT_EQ(Keys(without),
            (std::vector<std::string>{"files", "correct", "accuracy", "accuracy_ci95",
                                      "balanced_accuracy", "recall_male", "recall_female",
                                      "confusion"}));
  EXPECT_EQ(without["files"], 4);
  EXPECT_EQ(without["correct"], 3);
  EXPECT_EQ(without["recall_male"], 0.5);
  EXPECT_EQ(without["confusion"], nlohmann::ordered_json({{1, 1}, {0, 2}}));
  const nlohmann::ordered_json with = voxsex::MetricsJson(m, 2);
  EXPECT_EQ(Keys(with)[2], "missing");
  EXPECT_EQ(with["missing"], 2);
}

TEST(FindInstalledFile, FirstExistingCandidateAndEveryCandidateListed) {
  const fs::path dir = FreshDir("find_installed_file");
  fs::create_directories(dir / "one");
  fs::create_directories(dir / "two");
  WriteText(dir / "two" / "x.txt", "x");
  WriteText(dir / "three.txt", "not a directory");
  const auto found = voxsex::FindInstalledFile(
      "x.txt", {{voxsex::InstallBase::kAbsolute, (dir / "one").string()},
                {voxsex::InstallBase::kAbsolute, (dir / "one" / ".." / "two").string()},
                {voxsex::InstallBase::kAbsolute, (dir / "three.txt").string()}});
  EXPECT_EQ(found.path, fs::weakly_canonical(dir / "two" / "x.txt").string());
  EXPECT_EQ(found.searched,
            (std::vector<std::string>{(dir / "one" / "x.txt").string(),
                                      (dir / "two" / "x.txt").string(),
                                      (dir / "three.txt" / "x.txt").string()}));
  // A directory named like the file does not count.
  fs::create_directories(dir / "one" / "y.txt");
  EXPECT_TRUE(
      voxsex::FindInstalledFile("y.txt", {{voxsex::InstallBase::kAbsolute, (dir / "one").string()}})
          .path.empty());
}

TEST(FindInstalledFile, BesideTheExecutableAndInTheSourceTree) {
  // The test binary lives in <build>/tests; this file in <source>/tests.
  const auto beside = voxsex::FindInstalledFile(
      fs::read_symlink("/proc/self/exe").filename().string(),
      {{voxsex::InstallBase::kExecutableDir, "."}});
  EXPECT_FALSE(beside.path.empty());
  const auto source =
      voxsex::FindInstalledFile("test_eval.cc", {{voxsex::InstallBase::kSourceDir, "tests"}});
  EXPECT_EQ(source.path, fs::weakly_canonical(fs::path(VOXSEX_SOURCE_DIR) / "tests" /
                                              "test_eval.cc").string());
}
