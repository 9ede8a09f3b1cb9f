// BinaryMetrics (include/voxsex/metrics.h) as JSON, one shape for every file voxsex writes
// (eval's report.json, the model's training metrics). Internal: keeps nlohmann/json out of the
// public headers.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "voxsex/metrics.h"

namespace voxsex {

// Returns, in this key order:
//   {"files": n, "correct": k, ["missing": num_missing,] "accuracy": k / n,
//    "accuracy_ci95": [lo, hi], "balanced_accuracy": b, "recall_male": r0, "recall_female": r1,
//    "confusion": [[truth 0 -> 0, 0 -> 1], [1 -> 0, 1 -> 1]]}
// with rates as fractions in [0, 1] (accuracy_ci95: Wilson 95% interval). "missing" (targets
// without an answer, already counted as wrong in the other numbers) is present only when
// `num_missing` is given. No errors.
nlohmann::ordered_json MetricsJson(const BinaryMetrics& metrics,
                                   std::optional<long> num_missing = std::nullopt);

}  // namespace voxsex
