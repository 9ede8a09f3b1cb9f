// Binary classification metrics for gender (0 = male, 1 = female).
#pragma once

#include <string>
#include <vector>

#include "voxsex/tsv.h"

namespace voxsex {

struct BinaryMetrics {
  long num_files = 0;
  long num_correct = 0;
  double accuracy = 0.0;      // num_correct / num_files (0 when empty)
  double accuracy_lo = 0.0;   // Wilson score 95% interval (z = 1.96)
  double accuracy_hi = 0.0;
  double recall[2] = {0.0, 0.0};  // recall of male (0) and female (1); 0 when a class is absent
  double balanced_accuracy = 0.0; // mean recall over the classes present
  long confusion[2][2] = {{0, 0}, {0, 0}};  // confusion[truth][predicted]
};

// Metrics from paired labels (truth[i], predicted[i]); labels must be 0 or 1 (ConfigError otherwise).
BinaryMetrics ComputeMetrics(const std::vector<int>& truth, const std::vector<int>& predicted);

// Wilson score interval for k successes out of n at the given z; {0, 0} when n == 0.
void WilsonInterval(long k, long n, double z, double* lo, double* hi);

// Metrics of one group of target files, e.g. source = "speechocean762".
struct GroupMetrics {
  std::string value;      // the group's value in its meta column ("(unknown)" if the id is not in
                          // meta); empty for the overall group
  BinaryMetrics metrics;  // missing answers are counted as wrong (scored as the opposite label)
  long num_missing = 0;   // target files of this group without an answer
};

// Metrics for each value of one meta column, groups sorted by value.
struct GroupBreakdown {
  std::string column;  // e.g. "source"
  std::vector<GroupMetrics> groups;
};

// The result of scoring answers against targets.
struct EvalReport {
  GroupMetrics overall;
  std::vector<GroupBreakdown> by;       // one per requested column, in the order requested
  std::vector<std::string> missing;     // target ids without an answer, sorted
  std::vector<std::string> extra;       // answer ids not among the targets (ignored), sorted
  std::vector<std::string> duplicates;  // answer ids given more than once, sorted; the first kept
};

// Group value given to a target id that is absent from the meta table.
inline constexpr const char* kUnknownGroup = "(unknown)";

// Scores `answers` (in file order, duplicates allowed: the first answer for an id counts) against
// `targets` (unique ids). A target without an answer is scored as the opposite of its label, so
// leaving files out can never raise accuracy. For each column in `by`, targets are grouped by
// meta.rows[...][column] looked up through meta's `id` column (first row wins for a repeated id;
// an id absent from meta falls in kUnknownGroup). Throws ConfigError when `by` is non-empty and
// meta lacks an `id` column or a requested column, or on a label other than 0/1.
EvalReport ScoreAnswers(const std::vector<Target>& targets, const std::vector<Answer>& answers,
                        const Table& meta = {}, const std::vector<std::string>& by = {});

// One bin of a reliability diagram.
struct CalibrationBin {
  double lo = 0.0;               // confidence range of the bin: [lo, hi), the last bin [lo, hi]
  double hi = 0.0;
  long count = 0;                // files whose confidence falls in the bin
  double mean_confidence = 0.0;  // mean probability of the predicted class (0 when empty)
  double accuracy = 0.0;         // fraction of those files predicted correctly (0 when empty)
};

// Calibration of p_female scores: reliability-diagram bins and the expected calibration error.
struct Calibration {
  long num_files = 0;
  std::vector<CalibrationBin> bins;  // num_bins equal-width bins over [0.5, 1], ascending
  double ece = 0.0;  // sum over bins of count / num_files * |accuracy - mean_confidence|, in [0, 1]
};

// Bins files by the confidence of the predicted class, max(p_female, 1 - p_female), which for two
// classes lies in [0.5, 1]; so the num_bins equal-width bins split [0.5, 1] (width 0.05 for 10).
// The predicted class is 1 (female) when p_female >= 0.5, as Prediction::gender(). ECE as in
// Guo et al. (2017), "On Calibration of Modern Neural Networks", ICML, eq. 3 (with these bins);
// https://arxiv.org/abs/1706.04599. Empty input gives empty bins and ece = 0. Throws ConfigError
// when the sizes differ, a label is not 0/1, a p_female is not a finite number in [0, 1], or
// num_bins < 1.
Calibration CalibrationBins(const std::vector<int>& truth, const std::vector<double>& p_female,
                            int num_bins = 10);

}  // namespace voxsex
