// `voxsex train`: train a model on labelled audio and write TorchScript.
#pragma once

#include "voxsex/train.h"

namespace CLI {
class App;
}

namespace voxsex::cli {

CLI::App* setup_train(CLI::App& app, TrainOptions& opts);
// Returns 0 on success, 2 on a usage, input or model error.
int run_train(const TrainOptions& opts);

}  // namespace voxsex::cli
