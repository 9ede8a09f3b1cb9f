// Training batches: random crops of the training waveforms, augmented, through the front end
// (src/train/batches.cc). Internal to the library.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "train/data.h"
#include "voxsex/augment.h"
#include "voxsex/mel.h"
#include "voxsex/train.h"
#include "voxsex/vad.h"

namespace voxsex::internal {

struct Batch {
  torch::Tensor x;            // [B, 1, num_mels, T] float32, zero-padded to a multiple of 16
  torch::Tensor lengths;      // [B] int64: frames of each item
  torch::Tensor labels;       // [B] int64 gender: 0 male, 1 female
  torch::Tensor fine_labels;  // [B] int64 gender x age group: gender + 2 * child
  torch::Tensor weights;      // [B] float32: each item's loss weight (Example::loss_weight)
};

// Makes training batches: a random crop of each waveform (ExampleOptions crop lengths, one length
// per batch, a multiple of 16 frames), centred on a speech frame when the example has them,
// augmented (AugmentOptions), through the front end, its non-speech frames dropped when
// vad.drop_non_speech, then SpecAugment masks filled with band_mean. Items are made on `threads`
// threads, each with its own front end and augmenter; every item draws from its own generator
// seeded from the caller's, so results do not depend on the thread count. Not thread-safe.
class BatchMaker {
 public:
  // `data` and the options must outlive the maker. Throws ConfigError for invalid options.
  // `noise`: recorded noise clips for the augmentation (may be empty).
  BatchMaker(const ExampleOptions& opts, const VadOptions& vad, const MelOptions& mel,
             const std::vector<Example>& data, torch::Tensor band_mean, int threads,
             const std::vector<std::vector<float>>& noise = {});
  ~BatchMaker();

  // The batch of data[order[begin]] .. data[order[end - 1]]. Throws ModelError when an item fails.
  Batch Make(const std::vector<std::size_t>& order, std::size_t begin, std::size_t end,
             std::mt19937_64& rng);

 private:
  LogMel MakeItem(const Example& ex, int64_t crop, std::uint64_t seed, std::size_t worker);

  const ExampleOptions& opts_;
  const VadOptions& vad_;
  const MelOptions& mel_;
  const std::vector<Example>& data_;
  torch::Tensor band_mean_;
  std::vector<std::unique_ptr<MelFrontend>> frontends_;
  std::vector<std::unique_ptr<Augmenter>> augmenters_;
  std::vector<std::unique_ptr<Augmenter>> child_augmenters_;  // ExampleOptions::child_augment_scale
};

// Per-band mean and standard deviation [num_mels] float32 over every frame of the training set
// (the standard deviation at least 1e-3). Two passes in float64 (mean, then the unbiased variance
// about it), so memory stays at one file's features whatever the size of the training set.
std::pair<torch::Tensor, torch::Tensor> BandStatistics(const std::vector<Example>& data);

}  // namespace voxsex::internal
