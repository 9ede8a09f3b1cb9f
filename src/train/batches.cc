#include "train/batches.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>

#include "model_internal.h"
#include "voxsex/error.h"

namespace voxsex::internal {

BatchMaker::BatchMaker(const ExampleOptions& opts, const VadOptions& vad, const MelOptions& mel,
                       const std::vector<Example>& data, torch::Tensor band_mean, int threads,
                       const std::vector<std::vector<float>>& noise)
    : opts_(opts), vad_(vad), mel_(mel), data_(data), band_mean_(std::move(band_mean)) {
  std::vector<const std::vector<float>*> pool, noise_pool;
  for (const auto& ex : data) pool.push_back(&ex.samples);
  for (const auto& clip : noise) noise_pool.push_back(&clip);
  for (int k = 0; k < std::max(1, threads); ++k) {
    frontends_.push_back(std::make_unique<MelFrontend>(mel));
    augmenters_.push_back(
        std::make_unique<Augmenter>(opts.augment, mel.sample_rate_hz, pool, noise_pool));
    child_augmenters_.push_back(std::make_unique<Augmenter>(
        opts.ChildAugment(), mel.sample_rate_hz, pool, noise_pool));
  }
}

BatchMaker::~BatchMaker() = default;

Batch BatchMaker::Make(const std::vector<std::size_t>& order, std::size_t begin, std::size_t end,
                      std::mt19937_64& rng) {
  const double frames_per_s = 1.0 / mel_.frame_s();
  std::uniform_real_distribution<double> crop_s(opts_.crop_min_s, opts_.crop_max_s);
  // Crop lengths are multiples of 16 frames: a bounded set of input shapes for LibTorch.
  const int64_t crop = std::max<int64_t>(16, std::lround(crop_s(rng) * frames_per_s / 16) * 16);
  const auto b = static_cast<int64_t>(end - begin);
  std::vector<std::uint64_t> seeds(b);
  for (auto& seed : seeds) seed = rng();
  std::vector<LogMel> items(b);
  std::vector<std::string> errors(frontends_.size());
  auto work = [&](std::size_t w) noexcept {
    try {
      for (auto k = static_cast<int64_t>(w); k < b; k += static_cast<int64_t>(frontends_.size())) {
        items[k] = MakeItem(data_[order[begin + k]], crop, seeds[k], w);
      }
    } catch (const std::exception& e) {
      errors[w] = e.what();
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t w = 1; w < frontends_.size(); ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
  for (const auto& e : errors) {
    if (!e.empty()) throw ModelError("making a training batch failed: " + e);
  }
  int64_t max_len = 1;
  for (const auto& lm : items) max_len = std::max<int64_t>(max_len, lm.num_frames);
  const int64_t width = (max_len + 15) / 16 * 16;
  Batch batch;
  batch.x = torch::zeros({b, 1, mel_.num_mels, width});
  batch.lengths = torch::empty({b}, torch::kInt64);
  batch.labels = torch::empty({b}, torch::kInt64);
  batch.fine_labels = torch::empty({b}, torch::kInt64);
  batch.weights = torch::empty({b}, torch::kFloat32);
  for (int64_t k = 0; k < b; ++k) {
    const LogMel& lm = items[k];
    auto dst = batch.x[k][0].narrow(1, 0, lm.num_frames);
    dst.copy_(ToTensor(lm));
    batch.lengths[k] = lm.num_frames;
    batch.labels[k] = data_[order[begin + k]].gender;
    batch.fine_labels[k] = data_[order[begin + k]].gender + (data_[order[begin + k]].child ? 2 : 0);
    batch.weights[k] = data_[order[begin + k]].loss_weight;
  }
  return batch;
}

// One training item: log-mel [frames x num_mels] with at most `crop` frames.
LogMel BatchMaker::MakeItem(const Example& ex, int64_t crop, std::uint64_t seed,
                          std::size_t worker) {
  std::mt19937_64 rng(seed);
  const std::size_t crop_samples = static_cast<std::size_t>(crop - 1) * mel_.hop_length;
  const std::size_t n = ex.samples.size();
  std::size_t start = 0, len = n;
  if (n > crop_samples) {
    len = crop_samples;
    std::size_t centre;
    if (!ex.speech_frames.empty()) {  // centred on a random speech frame of the clean audio
      const int f = ex.speech_frames[std::uniform_int_distribution<std::size_t>(
          0, ex.speech_frames.size() - 1)(rng)];
      centre = static_cast<std::size_t>(f) * mel_.hop_length;
    } else {
      centre = std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
    }
    start = std::min(n - len, centre > len / 2 ? centre - len / 2 : 0);
  }
  const std::vector<float> piece(ex.samples.begin() + start, ex.samples.begin() + start + len);
  Augmenter& augmenter = ex.child ? *child_augmenters_[worker] : *augmenters_[worker];
  const std::vector<float> augmented = augmenter.Apply(piece, rng);
  LogMel lm = frontends_[worker]->Compute(augmented);
  if (vad_.drop_non_speech) {
    const SpeechSelection sel = SelectSpeech(lm, vad_);
    if (!sel.no_speech) lm = KeepFrames(lm, sel.frames);
  }
  if (lm.num_frames > crop) {  // speed perturbation can lengthen the crop
    lm.num_frames = static_cast<int>(crop);
    lm.data.resize(static_cast<std::size_t>(crop) * lm.num_mels);
  }
  // SpecAugment (Park et al., 2019): frequency and time masks filled with the band mean.
  const int len_frames = lm.num_frames;
  const float* mean = band_mean_.data_ptr<float>();
  for (int f = 0; f < opts_.freq_masks; ++f) {
    const int width = std::uniform_int_distribution<int>(0, opts_.freq_mask_bands)(rng);
    if (width == 0) continue;
    const int f0 = std::uniform_int_distribution<int>(0, mel_.num_mels - width)(rng);
    for (int t = 0; t < len_frames; ++t) {
      for (int m = f0; m < f0 + width; ++m) lm.data[static_cast<std::size_t>(t) * lm.num_mels + m] = mean[m];
    }
  }
  const auto max_t = static_cast<int>(opts_.time_mask_ratio * len_frames);
  for (int k = 0; k < opts_.time_masks && max_t > 0; ++k) {
    const int width = std::uniform_int_distribution<int>(0, max_t)(rng);
    if (width == 0) continue;
    const int t0 = std::uniform_int_distribution<int>(0, len_frames - width)(rng);
    for (int t = t0; t < t0 + width; ++t) {
      std::copy_n(mean, lm.num_mels, lm.data.begin() + static_cast<std::ptrdiff_t>(t) * lm.num_mels);
    }
  }
  return lm;
}

std::pair<torch::Tensor, torch::Tensor> BandStatistics(const std::vector<Example>& data) {
  const int64_t num_mels = data.front().features.size(0);
  auto sum = torch::zeros({num_mels}, torch::kFloat64);
  int64_t frames = 0;
  for (const auto& ex : data) {
    sum += ex.features.to(torch::kFloat64).sum(1);
    frames += ex.features.size(1);
  }
  const auto mean = sum / static_cast<double>(frames);
  auto squares = torch::zeros({num_mels}, torch::kFloat64);
  for (const auto& ex : data) {
    squares += (ex.features.to(torch::kFloat64) - mean.unsqueeze(1)).pow(2).sum(1);
  }
  const auto std = (squares / static_cast<double>(std::max<int64_t>(1, frames - 1))).sqrt();
  return {mean.to(torch::kFloat32), std.clamp_min(1e-3).to(torch::kFloat32)};
}

}  // namespace voxsex::internal
