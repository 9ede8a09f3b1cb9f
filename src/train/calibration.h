// Temperature scaling (src/train/calibration.cc). Internal to the library.
#pragma once

#include <vector>

#include "voxsex/model.h"

namespace voxsex::internal {

// Temperature scaling (Guo et al., "On calibration of modern neural networks", ICML 2017): the T
// minimising the negative log-likelihood of PFemale(logit_female - logit_male, T) against `truth`
// (0 male, 1 female) over `predictions` (uncalibrated logits, one per file), by golden-section
// search over log T in [log 0.05, log 20]. Logs the NLL at T = 1 and at T. Throws ConfigError when
// the sizes differ or there is no prediction.
double FitTemperature(const std::vector<Prediction>& predictions, const std::vector<int>& truth);

}  // namespace voxsex::internal
