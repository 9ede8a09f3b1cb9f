// Accuracy of the shipped model on the held-out, speaker-disjoint test split of voxsex-data.
// Skipped (reported as skipped by ctest) when ../shared/voxsex-data is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace fs = std::filesystem;
using voxsex::test::Quote;
using voxsex::test::RunVoxsex;

// The bars of the shipped model (issue "voxsex end to end"): accuracy >= 88% overall, >= 95% adults.
constexpr double kMinOverallAccuracy = 0.88;
constexpr double kMinAdultAccuracy = 0.95;

TEST(Accuracy, ShippedModelOnHeldOutTestSplit) {
  const fs::path corpus = VOXSEX_CORPUS_DIR;
  if (!fs::exists(corpus / "test" / "targets.tsv") || !fs::exists(corpus / "meta.tsv")) {
    GTEST_SKIP() << "voxsex-data corpus not found at " << corpus;
  }
  const auto dir = voxsex::test::FreshDir("accuracy_test_split");
  const auto answers = dir / "answers.tsv";
  auto r = RunVoxsex("predict " + Quote((corpus / "test").string()) + " " +
                         Quote(answers.string()) + " --model " +
                         Quote(voxsex::test::BundledModel()),
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto json_path = dir / "eval.json";
  r = RunVoxsex("eval --targets " + Quote((corpus / "test" / "targets.tsv").string()) +
                    " --answers " + Quote(answers.string()) + " --meta " +
                    Quote((corpus / "meta.tsv").string()) + " --by source,age_group --json " +
                    Quote(json_path.string()),
                dir);
  ASSERT_EQ(r.status, 0) << r.err;
  std::cout << r.out;  // the eval table, kept in the ctest log
  const auto report = nlohmann::json::parse(voxsex::test::ReadFile(json_path));
  EXPECT_EQ(report["overall"]["files"].get<int>(), 592);
  EXPECT_GE(report["overall"]["accuracy"].get<double>(), kMinOverallAccuracy);
  EXPECT_GE(report["by"]["age_group"]["adult"]["accuracy"].get<double>(), kMinAdultAccuracy);
}
