// Tests of the binary metrics and the scoring of answers against targets
// (include/voxsex/metrics.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "voxsex/error.h"
#include "voxsex/metrics.h"
#include "voxsex/tsv.h"

namespace fs = std::filesystem;

namespace {

// Tolerance for values computed two ways in double precision.
constexpr double kTol = 1e-12;

// Labels (truth, predicted) realising a confusion matrix c[truth][predicted].
void FromConfusion(const long c[2][2], std::vector<int>* truth, std::vector<int>* predicted) {
  for (int t = 0; t < 2; ++t) {
    for (int p = 0; p < 2; ++p) {
      for (long i = 0; i < c[t][p]; ++i) {
        truth->push_back(t);
        predicted->push_back(p);
      }
    }
  }
}

// The Wilson bounds are the roots in p of (p_hat - p)^2 = z^2 p (1 - p) / n, i.e. of
// (1 + z^2/n) p^2 - (2 p_hat + z^2/n) p + p_hat^2 = 0. Solved here with the quadratic formula,
// independently of the centre/half-width form used by the library.
void WilsonByQuadratic(long k, long n, double z, double* lo, double* hi) {
  const double p_hat = static_cast<double>(k) / n;
  const double a = 1.0 + z * z / n;
  const double b = -(2.0 * p_hat + z * z / n);
  const double c = p_hat * p_hat;
  const double root = std::sqrt(b * b - 4.0 * a * c);
  *lo = (-b - root) / (2.0 * a);
  *hi = (-b + root) / (2.0 * a);
}

TEST(MetricsTest, HandComputedConfusion) {
  const long c[2][2] = {{8, 2}, {1, 9}};
  std::vector<int> truth, predicted;
  FromConfusion(c, &truth, &predicted);
  const voxsex::BinaryMetrics m = voxsex::ComputeMetrics(truth, predicted);
  EXPECT_EQ(m.num_files, 20);
  EXPECT_EQ(m.num_correct, 17);
  for (int t = 0; t < 2; ++t) {
    for (int p = 0; p < 2; ++p) EXPECT_EQ(m.confusion[t][p], c[t][p]) << t << "," << p;
  }
  EXPECT_NEAR(m.accuracy, 0.85, kTol);           // 17 / 20
  EXPECT_NEAR(m.recall[0], 0.8, kTol);           // 8 / 10
  EXPECT_NEAR(m.recall[1], 0.9, kTol);           // 9 / 10
  EXPECT_NEAR(m.balanced_accuracy, 0.85, kTol);  // (0.8 + 0.9) / 2

  double lo = 0.0, hi = 0.0;
  WilsonByQuadratic(17, 20, 1.96, &lo, &hi);
  EXPECT_NEAR(m.accuracy_lo, lo, kTol);
  EXPECT_NEAR(m.accuracy_hi, hi, kTol);
  // Published value for 17/20 (e.g. any Wilson calculator): [0.6396, 0.9476], to 4 decimals.
  EXPECT_NEAR(m.accuracy_lo, 0.6396, 5e-5);
  EXPECT_NEAR(m.accuracy_hi, 0.9476, 5e-5);
}

TEST(MetricsTest, BalancedAccuracyDiffersFromAccuracyWhenImbalanced) {
  const long c[2][2] = {{90, 0}, {5, 5}};  // all male right, half the females wrong
  std::vector<int> truth, predicted;
  FromConfusion(c, &truth, &predicted);
  const voxsex::BinaryMetrics m = voxsex::ComputeMetrics(truth, predicted);
  EXPECT_NEAR(m.accuracy, 0.95, kTol);
  EXPECT_NEAR(m.balanced_accuracy, 0.75, kTol);  // (1.0 + 0.5) / 2
}

TEST(MetricsTest, WilsonMatchesQuadraticRoots) {
  for (long n : {1L, 2L, 7L, 20L, 301L, 592L}) {
    for (long k = 0; k <= n; k += std::max(1L, n / 7)) {
      double lo = 0.0, hi = 0.0, ref_lo = 0.0, ref_hi = 0.0;
      voxsex::WilsonInterval(k, n, 1.96, &lo, &hi);
      WilsonByQuadratic(k, n, 1.96, &ref_lo, &ref_hi);
      EXPECT_NEAR(lo, std::max(0.0, ref_lo), 1e-12) << "k=" << k << " n=" << n;
      EXPECT_NEAR(hi, std::min(1.0, ref_hi), 1e-12) << "k=" << k << " n=" << n;
      const double p = static_cast<double>(k) / n;
      EXPECT_LE(lo, p + kTol);
      EXPECT_GE(hi, p - kTol);
    }
  }
}

TEST(MetricsTest, WilsonEdges) {
  double lo = -1.0, hi = -1.0;
  voxsex::WilsonInterval(0, 0, 1.96, &lo, &hi);
  EXPECT_EQ(lo, 0.0);
  EXPECT_EQ(hi, 0.0);
  voxsex::WilsonInterval(0, 10, 1.96, &lo, &hi);
  EXPECT_NEAR(lo, 0.0, kTol);
  EXPECT_NEAR(hi, 1.96 * 1.96 / (10 + 1.96 * 1.96), kTol);  // z^2 / (n + z^2) when k = 0
  voxsex::WilsonInterval(10, 10, 1.96, &lo, &hi);
  EXPECT_NEAR(lo, 10 / (10 + 1.96 * 1.96), kTol);  // n / (n + z^2) when k = n
  EXPECT_NEAR(hi, 1.0, kTol);
  EXPECT_THROW(voxsex::WilsonInterval(11, 10, 1.96, &lo, &hi), voxsex::ConfigError);
  EXPECT_THROW(voxsex::WilsonInterval(-1, 10, 1.96, &lo, &hi), voxsex::ConfigError);
}

TEST(MetricsTest, EmptyInputIsAllZero) {
  const voxsex::BinaryMetrics m = voxsex::ComputeMetrics({}, {});
  EXPECT_EQ(m.num_files, 0);
  EXPECT_EQ(m.num_correct, 0);
  EXPECT_EQ(m.accuracy, 0.0);
  EXPECT_EQ(m.accuracy_lo, 0.0);
  EXPECT_EQ(m.accuracy_hi, 0.0);
  EXPECT_EQ(m.balanced_accuracy, 0.0);
  EXPECT_EQ(m.recall[0], 0.0);
  EXPECT_EQ(m.recall[1], 0.0);
}

TEST(MetricsTest, SingleClassTruthAveragesOnlyPresentClass) {
  const std::vector<int> truth(10, 1);
  const std::vector<int> predicted = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
  const voxsex::BinaryMetrics m = voxsex::ComputeMetrics(truth, predicted);
  EXPECT_NEAR(m.accuracy, 0.7, kTol);
  EXPECT_NEAR(m.recall[1], 0.7, kTol);
  EXPECT_EQ(m.recall[0], 0.0);                  // male absent
  EXPECT_NEAR(m.balanced_accuracy, 0.7, kTol);  // not (0 + 0.7) / 2
  EXPECT_EQ(m.confusion[1][0], 3);
}

TEST(MetricsTest, InvalidInputThrows) {
  EXPECT_THROW(voxsex::ComputeMetrics({0, 2}, {0, 1}), voxsex::ConfigError);
  EXPECT_THROW(voxsex::ComputeMetrics({0, 1}, {0, -1}), voxsex::ConfigError);
  EXPECT_THROW(voxsex::ComputeMetrics({0, 1}, {0}), voxsex::ConfigError);
}

// --- ScoreAnswers ---

voxsex::Table Meta() {
  voxsex::Table meta;
  meta.columns = {"id", "source", "age_group"};
  meta.rows = {{{"id", "a"}, {"source", "s2"}, {"age_group", "adult"}},
               {{"id", "b"}, {"source", "s1"}, {"age_group", "child"}},
               {{"id", "c"}, {"source", "s2"}, {"age_group", "child"}},
               {{"id", "d"}, {"source", "s1"}, {"age_group", "adult"}}};
  return meta;
}

TEST(MetricsScoreAnswersTest, PerfectAnswers) {
  const std::vector<voxsex::Target> targets = {{"a", 0}, {"b", 1}, {"c", 1}};
  const voxsex::EvalReport r = voxsex::ScoreAnswers(targets, {{"c", 1}, {"a", 0}, {"b", 1}});
  EXPECT_EQ(r.overall.metrics.num_files, 3);
  EXPECT_EQ(r.overall.metrics.accuracy, 1.0);
  EXPECT_EQ(r.overall.num_missing, 0);
  EXPECT_TRUE(r.missing.empty());
  EXPECT_TRUE(r.extra.empty());
  EXPECT_TRUE(r.duplicates.empty());
  EXPECT_TRUE(r.by.empty());
}

TEST(MetricsScoreAnswersTest, MissingCountAsWrongExtraIgnoredFirstDuplicateKept) {
  const std::vector<voxsex::Target> targets = {{"a", 0}, {"b", 1}, {"c", 1}, {"d", 0}};
  // d missing (male: scored female), x extra, b answered twice (first, 1, counts).
  const std::vector<voxsex::Answer> answers = {{"x", 1}, {"b", 1}, {"a", 0}, {"c", 0}, {"b", 0}};
  const voxsex::EvalReport r = voxsex::ScoreAnswers(targets, answers);
  EXPECT_EQ(r.missing, (std::vector<std::string>{"d"}));
  EXPECT_EQ(r.extra, (std::vector<std::string>{"x"}));
  EXPECT_EQ(r.duplicates, (std::vector<std::string>{"b"}));
  const voxsex::BinaryMetrics& m = r.overall.metrics;
  EXPECT_EQ(m.num_files, 4);
  EXPECT_EQ(m.num_correct, 2);  // a, b
  EXPECT_EQ(r.overall.num_missing, 1);
  EXPECT_EQ(m.confusion[0][0], 1);  // a
  EXPECT_EQ(m.confusion[0][1], 1);  // d, missing
  EXPECT_EQ(m.confusion[1][0], 1);  // c
  EXPECT_EQ(m.confusion[1][1], 1);  // b
}

TEST(MetricsScoreAnswersTest, LeavingFilesOutNeverRaisesAccuracy) {
  const std::vector<voxsex::Target> targets = {{"a", 0}, {"b", 1}, {"c", 1}, {"d", 0}};
  const std::vector<voxsex::Answer> all = {{"a", 0}, {"b", 0}, {"c", 1}, {"d", 1}};  // 2 right
  const std::vector<voxsex::Answer> only_sure = {{"a", 0}, {"c", 1}};                // 2 right
  const auto full = voxsex::ScoreAnswers(targets, all);
  const auto partial = voxsex::ScoreAnswers(targets, only_sure);
  EXPECT_NEAR(full.overall.metrics.accuracy, 0.5, kTol);
  EXPECT_NEAR(partial.overall.metrics.accuracy, 0.5, kTol);
  EXPECT_LE(partial.overall.metrics.balanced_accuracy, full.overall.metrics.balanced_accuracy);
  EXPECT_TRUE(voxsex::ScoreAnswers(targets, {}).overall.metrics.num_correct == 0);
}

TEST(MetricsScoreAnswersTest, GroupsSortedWithUnknown) {
  const std::vector<voxsex::Target> targets = {{"a", 0}, {"b", 1}, {"c", 1}, {"d", 0}, {"e", 1}};
  const std::vector<voxsex::Answer> answers = {{"a", 0}, {"b", 0}, {"c", 1}, {"e", 1}};
  const voxsex::EvalReport r =
      voxsex::ScoreAnswers(targets, answers, Meta(), {"source", "age_group"});
  ASSERT_EQ(r.by.size(), 2u);
  EXPECT_EQ(r.by[0].column, "source");
  ASSERT_EQ(r.by[0].groups.size(), 3u);
  // "(unknown)" sorts before letters; e is absent from meta.
  EXPECT_EQ(r.by[0].groups[0].value, voxsex::kUnknownGroup);
  EXPECT_EQ(r.by[0].groups[0].metrics.num_files, 1);
  EXPECT_EQ(r.by[0].groups[1].value, "s1");  // b wrong, d missing
  EXPECT_EQ(r.by[0].groups[1].metrics.num_files, 2);
  EXPECT_EQ(r.by[0].groups[1].metrics.num_correct, 0);
  EXPECT_EQ(r.by[0].groups[1].num_missing, 1);
  EXPECT_EQ(r.by[0].groups[2].value, "s2");  // a, c right
  EXPECT_EQ(r.by[0].groups[2].metrics.accuracy, 1.0);
  EXPECT_EQ(r.by[1].column, "age_group");
  ASSERT_EQ(r.by[1].groups.size(), 3u);
  EXPECT_EQ(r.by[1].groups[1].value, "adult");  // a right, d missing
  EXPECT_NEAR(r.by[1].groups[1].metrics.accuracy, 0.5, kTol);
  EXPECT_EQ(r.by[1].groups[2].value, "child");  // b wrong, c right
  EXPECT_NEAR(r.by[1].groups[2].metrics.balanced_accuracy, 0.5, kTol);
  long total = 0;
  for (const auto& g : r.by[1].groups) total += g.metrics.num_files;
  EXPECT_EQ(total, 5);
}

TEST(MetricsScoreAnswersTest, BadGroupingThrows) {
  const std::vector<voxsex::Target> targets = {{"a", 0}};
  EXPECT_THROW(voxsex::ScoreAnswers(targets, {}, Meta(), {"speaker"}), voxsex::ConfigError);
  voxsex::Table no_id = Meta();
  no_id.columns = {"name", "source", "age_group"};
  EXPECT_THROW(voxsex::ScoreAnswers(targets, {}, no_id, {"source"}), voxsex::ConfigError);
  EXPECT_THROW(voxsex::ScoreAnswers(targets, {}, voxsex::Table{}, {"source"}), voxsex::ConfigError);
  // No grouping: meta is not consulted.
  EXPECT_NO_THROW(voxsex::ScoreAnswers(targets, {}, voxsex::Table{}, {}));
}

TEST(MetricsScoreAnswersTest, InvalidLabelsAndDuplicateTargetsThrow) {
  EXPECT_THROW(voxsex::ScoreAnswers({{"a", 2}}, {{"a", 1}}), voxsex::ConfigError);
  EXPECT_THROW(voxsex::ScoreAnswers({{"a", 1}}, {{"a", -1}}), voxsex::ConfigError);
  EXPECT_THROW(voxsex::ScoreAnswers({{"a", 1}, {"a", 0}}, {}), voxsex::ConfigError);
}

TEST(MetricsScoreAnswersTest, RealDevTargetsBySource) {
  const fs::path dir(VOXSEX_CORPUS_DIR);
  if (!fs::exists(dir / "meta.tsv") || !fs::exists(dir / "dev" / "targets.tsv")) {
    GTEST_SKIP() << "corpus not found: " << dir;
  }
  const auto targets = voxsex::ReadTargets((dir / "dev" / "targets.tsv").string());
  const voxsex::Table meta = voxsex::ReadTable((dir / "meta.tsv").string());
  // Answer "female" for everyone: accuracy = female share, balanced accuracy = 0.5.
  std::vector<voxsex::Answer> answers;
  long female = 0;
  for (const auto& t : targets) {
    answers.push_back({t.id, 1});
    female += t.gender;
  }
  const auto r = voxsex::ScoreAnswers(targets, answers, meta, {"source", "age_group"});
  EXPECT_NEAR(r.overall.metrics.accuracy, static_cast<double>(female) / targets.size(), kTol);
  EXPECT_NEAR(r.overall.metrics.balanced_accuracy, 0.5, kTol);
  for (const auto& breakdown : r.by) {
    long files = 0;
    for (const auto& g : breakdown.groups) {
      EXPECT_NE(g.value, voxsex::kUnknownGroup) << breakdown.column;  // every id is in meta
      files += g.metrics.num_files;
    }
    EXPECT_EQ(files, static_cast<long>(targets.size())) << breakdown.column;
  }
}

}  // namespace
