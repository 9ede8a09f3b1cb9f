// Checkpoints of a training run, so that `voxsex train --resume` continues an interrupted run to
// the same weights (src/train/checkpoint.cc). Internal to the library.
#pragma once

#include <torch/torch.h>

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace voxsex::internal {

// Everything one network's training loop carries from one epoch to the next.
struct MemberState {
  int epochs_done = 0;
  std::size_t step = 0;             // optimiser steps done (the learning-rate schedule)
  bool done = false;                // training finished: `weights` are the kept epoch's
  std::mt19937_64 rng;              // the loop's generator (shuffles, crops, augmentation seeds)
  torch::Tensor torch_rng;          // LibTorch's default CPU generator (dropout)
  std::vector<std::size_t> order;   // the example order, shuffled again each epoch
  std::vector<torch::Tensor> weights, best, ema;  // parameters then buffers; best, ema may be empty
  nlohmann::json history = nlohmann::json::array();
  int best_epoch = 0;
  double best_val_balanced_accuracy = -1.0;
};

// <out_path>.checkpoint: the directory of a run's checkpoints, beside the model.
std::string CheckpointDir(const std::string& out_path);

// Writes member k's state with its optimiser to <dir>/member<k>.pt atomically (the directory is
// created when missing). `run` identifies the run (its options): Load refuses another run's
// checkpoint. Throws IoError or ModelError naming the file.
void SaveMemberState(const std::string& dir, int member, const std::string& run,
                     const MemberState& state, torch::optim::Optimizer& optimizer);

// Member k's state, and the optimiser's, from <dir>/member<k>.pt; nullopt when there is no such
// file. Throws ConfigError when it belongs to another run (other options), ModelError when it
// cannot be read.
std::optional<MemberState> LoadMemberState(const std::string& dir, int member,
                                           const std::string& run,
                                           torch::optim::Optimizer& optimizer);

}  // namespace voxsex::internal
