// Binary classification metrics and the scoring of answers against targets
// (include/voxsex/metrics.h).
#include "voxsex/metrics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>
#include <utility>

#include "voxsex/error.h"

namespace voxsex {
namespace {

void CheckLabel(int label, const char* which, size_t index) {
  if (label != 0 && label != 1) {
    throw ConfigError(std::string("metrics: ") + which + " label " + std::to_string(label) +
                      " at index " + std::to_string(index) + " (expected 0 = male or 1 = female)");
  }
}

// Accumulates (truth, predicted) pairs of one group.
struct Pairs {
  std::vector<int> truth;
  std::vector<int> predicted;
  long num_missing = 0;
};

GroupMetrics ToGroupMetrics(std::string value, const Pairs& pairs) {
  GroupMetrics group;
  group.value = std::move(value);
  group.metrics = ComputeMetrics(pairs.truth, pairs.predicted);
  group.num_missing = pairs.num_missing;
  return group;
}

}  // namespace

// Wilson score interval: (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n).
// Reference: E. B. Wilson (1927), JASA 22(158):209-212;
// https://en.wikipedia.org/wiki/Binomial_proportion_confidence_interval#Wilson_score_interval
void WilsonInterval(long k, long n, double z, double* lo, double* hi) {
  if (n < 0 || k < 0 || k > n) {
    throw ConfigError("WilsonInterval: need 0 <= k <= n, got k = " + std::to_string(k) +
                      ", n = " + std::to_string(n));
  }
  if (n == 0) {
    *lo = 0.0;
    *hi = 0.0;
    return;
  }
  const double nd = static_cast<double>(n);
  const double p = static_cast<double>(k) / nd;
  const double z2 = z * z;
  const double denominator = 1.0 + z2 / nd;
  const double center = (p + z2 / (2.0 * nd)) / denominator;
  const double half_width = z * std::sqrt(p * (1.0 - p) / nd + z2 / (4.0 * nd * nd)) / denominator;
  *lo = std::max(0.0, center - half_width);
  *hi = std::min(1.0, center + half_width);
}

BinaryMetrics ComputeMetrics(const std::vector<int>& truth, const std::vector<int>& predicted) {
  if (truth.size() != predicted.size()) {
    throw ConfigError("metrics: " + std::to_string(truth.size()) + " true labels but " +
                      std::to_string(predicted.size()) + " predicted labels");
  }
  BinaryMetrics m;
  for (size_t i = 0; i < truth.size(); ++i) {
    CheckLabel(truth[i], "true", i);
    CheckLabel(predicted[i], "predicted", i);
    ++m.confusion[truth[i]][predicted[i]];
  }
  m.num_files = static_cast<long>(truth.size());
  m.num_correct = m.confusion[0][0] + m.confusion[1][1];
  if (m.num_files > 0) m.accuracy = static_cast<double>(m.num_correct) / m.num_files;
  WilsonInterval(m.num_correct, m.num_files, 1.96, &m.accuracy_lo, &m.accuracy_hi);
  int num_classes_present = 0;
  double recall_sum = 0.0;
  for (int c = 0; c < 2; ++c) {
    const long support = m.confusion[c][0] + m.confusion[c][1];
    if (support == 0) continue;
    m.recall[c] = static_cast<double>(m.confusion[c][c]) / support;
    recall_sum += m.recall[c];
    ++num_classes_present;
  }
  if (num_classes_present > 0) m.balanced_accuracy = recall_sum / num_classes_present;
  return m;
}

EvalReport ScoreAnswers(const std::vector<Target>& targets, const std::vector<Answer>& answers,
                        const Table& meta, const std::vector<std::string>& by) {
  EvalReport report;

  // Answers: the first per id counts; later ones are reported as duplicates.
  std::unordered_map<std::string, int> answer_of;
  for (size_t i = 0; i < answers.size(); ++i) {
    const Answer& answer = answers[i];
    CheckLabel(answer.gender, "answer", i);
    if (!answer_of.emplace(answer.id, answer.gender).second) report.duplicates.push_back(answer.id);
  }
  std::sort(report.duplicates.begin(), report.duplicates.end());
  report.duplicates.erase(std::unique(report.duplicates.begin(), report.duplicates.end()),
                          report.duplicates.end());

  // Meta lookups, only needed for grouping.
  std::unordered_map<std::string, const std::map<std::string, std::string>*> meta_row_of;
  if (!by.empty()) {
    const auto has_column = [&meta](const std::string& name) {
      return std::find(meta.columns.begin(), meta.columns.end(), name) != meta.columns.end();
    };
    if (!has_column("id")) throw ConfigError("meta table has no 'id' column");
    for (const std::string& column : by) {
      if (!has_column(column)) {
        std::string known;
        for (const std::string& name : meta.columns) known += (known.empty() ? "" : ", ") + name;
        throw ConfigError("unknown group column '" + column + "' (meta columns: " + known + ")");
      }
    }
    for (const auto& row : meta.rows) {
      const auto id = row.find("id");
      if (id != row.end()) meta_row_of.emplace(id->second, &row);
    }
  }

  Pairs overall;
  std::vector<std::map<std::string, Pairs>> groups(by.size());  // per column: value -> pairs
  std::unordered_map<std::string, size_t> target_index;
  for (size_t i = 0; i < targets.size(); ++i) {
    const Target& target = targets[i];
    CheckLabel(target.gender, "target", i);
    if (!target_index.emplace(target.id, i).second) {
      throw ConfigError("metrics: duplicate target id '" + target.id + "'");
    }
    const auto found = answer_of.find(target.id);
    const bool missing = found == answer_of.end();
    if (missing) report.missing.push_back(target.id);
    const int predicted = missing ? 1 - target.gender : found->second;

    const auto add = [&](Pairs& pairs) {
      pairs.truth.push_back(target.gender);
      pairs.predicted.push_back(predicted);
      pairs.num_missing += missing ? 1 : 0;
    };
    add(overall);
    const auto row = meta_row_of.find(target.id);
    for (size_t c = 0; c < by.size(); ++c) {
      std::string value = kUnknownGroup;
      if (row != meta_row_of.end()) {
        const auto field = row->second->find(by[c]);
        if (field != row->second->end()) value = field->second;
      }
      add(groups[c][value]);
    }
  }
  for (const auto& [id, gender] : answer_of) {
    (void)gender;
    if (target_index.count(id) == 0) report.extra.push_back(id);
  }
  std::sort(report.missing.begin(), report.missing.end());
  std::sort(report.extra.begin(), report.extra.end());

  report.overall = ToGroupMetrics("", overall);
  for (size_t c = 0; c < by.size(); ++c) {
    GroupBreakdown breakdown;
    breakdown.column = by[c];
    for (const auto& [value, pairs] : groups[c]) {  // std::map: sorted by value
      breakdown.groups.push_back(ToGroupMetrics(value, pairs));
    }
    report.by.push_back(std::move(breakdown));
  }
  return report;
}

Calibration CalibrationBins(const std::vector<int>& truth, const std::vector<double>& p_female,
                            int num_bins) {
  if (num_bins < 1) {
    throw ConfigError("CalibrationBins: num_bins must be >= 1, got " + std::to_string(num_bins));
  }
  if (truth.size() != p_female.size()) {
    throw ConfigError("CalibrationBins: " + std::to_string(truth.size()) + " true labels but " +
                      std::to_string(p_female.size()) + " scores");
  }
  Calibration calibration;
  calibration.num_files = static_cast<long>(truth.size());
  calibration.bins.resize(static_cast<size_t>(num_bins));
  const double width = 0.5 / num_bins;
  std::vector<double> sum_confidence(calibration.bins.size(), 0.0);
  std::vector<long> num_correct(calibration.bins.size(), 0);
  for (int b = 0; b < num_bins; ++b) {
    calibration.bins[b].lo = 0.5 + b * width;
    calibration.bins[b].hi = (b + 1 == num_bins) ? 1.0 : 0.5 + (b + 1) * width;
  }
  for (size_t i = 0; i < truth.size(); ++i) {
    CheckLabel(truth[i], "true", i);
    const double p = p_female[i];
    if (!std::isfinite(p) || p < 0.0 || p > 1.0) {
      throw ConfigError("CalibrationBins: p_female " + std::to_string(p) + " at index " +
                        std::to_string(i) + " (expected a number in [0, 1])");
    }
    const int predicted = p >= 0.5 ? 1 : 0;
    const double confidence = predicted == 1 ? p : 1.0 - p;
    const int b = std::min(num_bins - 1, static_cast<int>((confidence - 0.5) / width));
    ++calibration.bins[b].count;
    sum_confidence[b] += confidence;
    num_correct[b] += predicted == truth[i] ? 1 : 0;
  }
  for (size_t b = 0; b < calibration.bins.size(); ++b) {
    CalibrationBin& bin = calibration.bins[b];
    if (bin.count == 0) continue;
    bin.mean_confidence = sum_confidence[b] / bin.count;
    bin.accuracy = static_cast<double>(num_correct[b]) / bin.count;
    calibration.ece += static_cast<double>(bin.count) / calibration.num_files *
                       std::abs(bin.accuracy - bin.mean_confidence);
  }
  return calibration;
}

}  // namespace voxsex
