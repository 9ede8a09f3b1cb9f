// `voxsex train`: train a model on labelled audio and write TorchScript.
#pragma once

#include "voxsex/train.h"
#include "voxsex/train_vad.h"

namespace CLI {
class App;
}

namespace voxsex::cli {

CLI::App* setup_train(CLI::App& app, TrainOptions& opts);
// Returns 0 on success, 2 on a usage, input or model error.
int run_train(const TrainOptions& opts);

// `voxsex calibrate`: fit a trained model's calibration temperature on labelled audio.
CLI::App* setup_calibrate(CLI::App& app, CalibrateOptions& opts);
// Returns 0 on success, 2 on a usage, targets or model error.
int run_calibrate(const CalibrateOptions& opts);

// `voxsex ensemble`: combine trained models into one that averages their logits.
CLI::App* setup_ensemble(CLI::App& app, EnsembleOptions& opts);
// Returns 0 on success, 2 on a usage or model error (nothing written).
int run_ensemble(const EnsembleOptions& opts);

// `voxsex train-vad`: train segment's speech detector.
CLI::App* setup_train_vad(CLI::App& app, SpeechDetectorTrainOptions& opts);
// Returns 0 on success, 2 on a usage, input, model or output error (nothing written).
int run_train_vad(const SpeechDetectorTrainOptions& opts);

}  // namespace voxsex::cli
