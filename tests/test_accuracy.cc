// Accuracy of the shipped model on the held-out, speaker-disjoint test split of voxsex-data.
// Skipped (reported as skipped by ctest) when ../shared/voxsex-data is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "test_util.h"
#include "voxsex/tsv.h"

namespace fs = std::filesystem;
using voxsex::test::Quote;
using voxsex::test::RunVoxsex;

// The bars of the shipped model (issue "voxsex end to end"): accuracy >= 88% overall, >= 95% on
// adults. They were set on corpus v1's test split, which is v2's test files with meta.tsv v1 = yes
// (voxsex-data/README.md: 592 files, 67 speakers); v2's test split adds harder sources, so the bars
// are measured on that subset until a model trained on v2 ships (issue 14).
constexpr double kMinOverallAccuracy = 0.88;
constexpr double kMinAdultAccuracy = 0.95;
constexpr int kV1TestFiles = 592;

TEST(Accuracy, ShippedModelOnHeldOutTestSplit) {
  const fs::path corpus = VOXSEX_CORPUS_DIR;
  if (!fs::exists(corpus / "test" / "targets.tsv") || !fs::exists(corpus / "meta.tsv")) {
    GTEST_SKIP() << "voxsex-data corpus not found at " << corpus;
  }
  const auto dir = voxsex::test::FreshDir("accuracy_test_split");
  // The v1 subset: its ids from meta.tsv, its targets and files from test/.
  std::set<std::string> v1_ids;
  for (const auto& row : voxsex::ReadTable((corpus / "meta.tsv").string()).rows) {
    if (row.at("split") == "test" && row.at("v1") == "yes") v1_ids.insert(row.at("id"));
  }
  const auto targets = dir / "targets_v1.tsv", list = dir / "files_v1.txt";
  {
    std::ofstream t(targets), l(list);
    for (const auto& target : voxsex::ReadTargets((corpus / "test" / "targets.tsv").string())) {
      if (v1_ids.count(target.id) == 0) continue;
      t << target.id << '\t' << target.gender << '\n';
      l << (corpus / "test" / (target.id + ".flac")).string() << '\n';
    }
  }
  const auto answers = dir / "answers.tsv";
  auto r = RunVoxsex("predict --list " + Quote(list.string()) + " " + Quote(answers.string()) +
                         " --model " + Quote(voxsex::test::BundledModel()),
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto json_path = dir / "eval.json";
  r = RunVoxsex("eval --targets " + Quote(targets.string()) + " --answers " +
                    Quote(answers.string()) + " --meta " + Quote((corpus / "meta.tsv").string()) +
                    " --by source,age_group --json " + Quote(json_path.string()),
                dir);
  ASSERT_EQ(r.status, 0) << r.err;
  std::cout << r.out;  // the eval table, kept in the ctest log
  const auto report = nlohmann::json::parse(voxsex::test::ReadFile(json_path));
  EXPECT_EQ(report["overall"]["files"].get<int>(), kV1TestFiles);
  EXPECT_GE(report["overall"]["accuracy"].get<double>(), kMinOverallAccuracy);
  EXPECT_GE(report["by"]["age_group"]["adult"]["accuracy"].get<double>(), kMinAdultAccuracy);
}
