// The training loop of one network and its validation (src/train/trainer.cc). Internal to the
// library; tests reach it to run one training step and one validation in process.
#pragma once

#include <torch/script.h>

#include <cstdint>
#include <random>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model_internal.h"
#include "train/batches.h"
#include "train/data.h"
#include "voxsex/classifier.h"
#include "voxsex/metrics.h"
#include "voxsex/train.h"

namespace voxsex::internal {

// Scores labelled validation files with a module as predict would: a Classifier wrapping (and so
// sharing) the module, with the card's front end and speech detector and no calibration.
class Validator {
 public:
  // `files` must outlive the validator. Throws ConfigError for invalid options.
  Validator(const LoadedModule& module, const std::vector<ValidationFile>& files,
            const ModelOptions& opts);
  bool empty() const { return files_.empty(); }
  // Each file's prediction (uncalibrated: temperature 1). Throws ModelError when the module fails.
  std::vector<Prediction> Predict() const;
  // Accuracy, balanced accuracy and recalls of Predict's answers.
  BinaryMetrics Score() const;
  // The labels, in file order.
  std::vector<int> Truth() const;

 private:
  const std::vector<ValidationFile>& files_;
  Classifier classifier_;
};

// What one network's training run produced.
struct MemberResult {
  int best_epoch = 0;
  BinaryMetrics best_val;
  double best_val_balanced_accuracy = -1.0;
  nlohmann::json history = nlohmann::json::array();  // one object per epoch (model_card.h)
};

// True for a module whose head classifies gender x age group (export_model.py --head gender_age):
// it has fine_logits [batch, 4] and a true `age_classes` attribute.
bool HasGenderAgeHead(const torch::jit::Module& module);

// One optimiser step on `batch`: class-weighted cross-entropy with label smoothing 0.05, each item
// also weighted by its loss weight, normalised by the sum of the items' weights; a gender x age
// head is trained on its four classes, each weighted by its gender's class weight. Returns the
// loss and the number of items whose gender (argmax of forward's logits) was right.
struct StepResult {
  double loss = 0.0;
  long correct = 0;
};
StepResult TrainStep(torch::jit::Module& module, torch::optim::Optimizer& optimizer,
                     const Batch& batch, const torch::Tensor& class_weight);

// The examples of one epoch, in random order: every example, or with max_per_speaker > 0 at most
// that many of each speaker (Example::speaker), drawn anew each call. Deterministic given `rng`.
std::vector<std::size_t> EpochOrder(const std::vector<Example>& train, int max_per_speaker,
                                    std::mt19937_64& rng);

// Trains `module` in place for opts.optimiser.epochs epochs with seed `seed` (AdamW, linear
// warm-up over the first epoch or tenth of the steps, then cosine decay to 1% of the peak), after
// each epoch scoring `validator`; with a validation set, leaves the module at the epoch with the
// best validation balanced accuracy. `tag` prefixes its log lines. With a checkpoint_dir, the
// state after each epoch (and the kept weights at the end) is written there for network `member`
// (checkpoint.h); with opts.resume, a checkpoint of the same `run` found there is continued
// (epochs done are not trained again), giving the weights the uninterrupted run gives.
MemberResult TrainMember(torch::jit::Module& module, const std::vector<Example>& train,
                         const Validator& validator, const TrainOptions& opts, BatchMaker& batches,
                         const torch::Tensor& class_weight, std::uint64_t seed, int member,
                         const std::string& tag, const std::string& checkpoint_dir = "",
                         const std::string& run = "");

}  // namespace voxsex::internal
