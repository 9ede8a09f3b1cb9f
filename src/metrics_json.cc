// BinaryMetrics as JSON (src/metrics_json.h).
#include "metrics_json.h"

namespace voxsex {

nlohmann::ordered_json MetricsJson(const BinaryMetrics& metrics, std::optional<long> num_missing) {
  const BinaryMetrics& m = metrics;
  nlohmann::ordered_json j;
  j["files"] = m.num_files;
  j["correct"] = m.num_correct;
  if (num_missing) j["missing"] = *num_missing;
  j["accuracy"] = m.accuracy;
  j["accuracy_ci95"] = {m.accuracy_lo, m.accuracy_hi};
  j["balanced_accuracy"] = m.balanced_accuracy;
  j["recall_male"] = m.recall[0];
  j["recall_female"] = m.recall[1];
  j["confusion"] = {{m.confusion[0][0], m.confusion[0][1]}, {m.confusion[1][0], m.confusion[1][1]}};
  return j;
}

}  // namespace voxsex
