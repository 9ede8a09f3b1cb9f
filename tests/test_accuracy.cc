// Accuracy of the shipped model on the held-out, speaker-disjoint test split of voxsex-data v2.
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

// Regression bars of the shipped model, set from its one look at v2's test split on 2026-12-05
// (models/README.md, "The shipped model"): it measured 87.32% overall, 90.82% on adults, 76.75%
// children's balanced accuracy and 90.17% on the adults of the corpus v1 files; each bar is that
// less 1.5 points, rounded down to a half point. The model it replaced (round 3) measured 88.86%,
// 93.66%, 74.28% and 94.24%: the new one was chosen on dev by the rule declared before its test
// look, and the bars follow the rule rather than a model. The targets (adults >= 98%,
// children >= 85%) are higher; models/README.md says by how much the model misses them.
constexpr double kMinOverallAccuracy = 0.855;
constexpr double kMinAdultAccuracy = 0.89;
constexpr double kMinChildBalancedAccuracy = 0.75;
constexpr double kMinV1AdultAccuracy = 0.885;  // adults of the corpus v1 files (v1 = yes)
// voxsex-data/README.md: the test split has 781 files, 592 of them from corpus v1.
constexpr int kTestFiles = 781;
constexpr int kV1TestFiles = 592;

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

  // The corpus v1 subset: its ids from meta.tsv, its targets from test/.
  std::set<std::string> v1_ids;
  for (const auto& row : voxsex::ReadTable((corpus / "meta.tsv").string()).rows) {
    if (row.at("split") == "test" && row.at("v1") == "yes") v1_ids.insert(row.at("id"));
  }
  const auto v1_targets = dir / "targets_v1.tsv";
  {
    std::ofstream t(v1_targets);
    for (const auto& target : voxsex::ReadTargets((corpus / "test" / "targets.tsv").string())) {
      if (v1_ids.count(target.id) != 0) t << target.id << '\t' << target.gender << '\n';
    }
  }

  auto evaluate = [&](const fs::path& targets, const std::string& name) {
    const auto json_path = dir / (name + ".json");
    const auto e = RunVoxsex("eval --targets " + Quote(targets.string()) + " --answers " +
                                 Quote(answers.string()) + " --meta " +
                                 Quote((corpus / "meta.tsv").string()) +
                                 " --by source,age_group --json " + Quote(json_path.string()),
                             dir);
    EXPECT_EQ(e.status, 0) << e.err;
    std::cout << e.out;  // the eval table, kept in the ctest log
    return nlohmann::json::parse(voxsex::test::ReadFile(json_path));
  };
  const auto all = evaluate(corpus / "test" / "targets.tsv", "eval");
  EXPECT_EQ(all["overall"]["files"].get<int>(), kTestFiles);
  EXPECT_GE(all["overall"]["accuracy"].get<double>(), kMinOverallAccuracy);
  EXPECT_GE(all["by"]["age_group"]["adult"]["accuracy"].get<double>(), kMinAdultAccuracy);
  EXPECT_GE(all["by"]["age_group"]["child"]["balanced_accuracy"].get<double>(),
            kMinChildBalancedAccuracy);

  const auto v1 = evaluate(v1_targets, "eval_v1");
  EXPECT_EQ(v1["overall"]["files"].get<int>(), kV1TestFiles);
  EXPECT_GE(v1["by"]["age_group"]["adult"]["accuracy"].get<double>(), kMinV1AdultAccuracy);
}
