// Binary classification metrics for gender (0 = male, 1 = female).
#pragma once

#include <string>
#include <vector>

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

}  // namespace voxsex
