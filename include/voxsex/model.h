// The speaker-gender model: a TorchScript CNN over log-mel, loaded and run with LibTorch.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "voxsex/mel.h"
#include "voxsex/model_card.h"

namespace voxsex {

namespace internal {
struct LoadedModule;  // src/model_internal.h: a TorchScript module with its card
}

struct ModelOptions {
  int num_threads = 0;           // LibTorch intra-op threads; 0 = all cores
  int batch_size = 32;           // windows per forward pass, at most
  // Padded frames per forward pass, at most (0 = no limit): bounds the activations' memory. 8,000
  // frames are 80 s of audio: 32 windows of 2.5 s, or 8 of 10 s.
  int max_batch_frames = 8000;
  double max_window_s = 10.0;    // long inputs are cut into windows of at most this length
  std::string device = "cpu";    // "cpu" or "cuda" (needs a CUDA-enabled LibTorch and a GPU)

  // Throws ConfigError when a field is out of range.
  void Validate() const;
  std::string ToString() const;
  // Frames in one model window for front end `mel`: max_window_s / mel.frame_s(), at least 2.
  int window_frames(const MelOptions& mel) const;
};

// Calibrated probability of female: sigmoid(logit_margin / temperature), where logit_margin =
// logit_female - logit_male (softmax over the two logits divided by the temperature; Guo et al.,
// "On calibration of modern neural networks", ICML 2017). The one place the formula is written.
float PFemale(double logit_margin, double temperature);

// Result for one input.
struct Prediction {
  float logit_male = 0.0f;    // logits averaged over windows, weighted by window length
  float logit_female = 0.0f;
  // softmax of the averaged logits divided by the model's calibration temperature (metadata
  // "calibration.temperature", 1 when absent); the temperature never changes gender().
  float p_female = 0.0f;
  double speech_s = 0.0;      // seconds of frames the model's VAD called speech (every frame without)
  bool no_speech = false;     // the VAD found too little speech: every frame was used
  int gender() const { return p_female >= 0.5f ? 1 : 0; }
};

// A loaded TorchScript gender model with its voxsex metadata.
// The TorchScript module's forward takes (log_mel [batch, 1, num_mels, num_frames] float32,
// lengths [batch] int64, the true frame count of each item) and returns logits [batch, 2]
// (index 0 = male, 1 = female).
// Predict is const but uses the shared module: call it from one thread at a time.
class GenderModel {
 public:
  // Loads `path` onto opts.device. Throws ModelError when the file is missing, not TorchScript,
  // or lacks valid voxsex metadata (format version, front-end options, labels); ConfigError when
  // opts.device is "cuda" and this LibTorch has no CUDA or no GPU is visible.
  static GenderModel Load(const std::string& path, const ModelOptions& opts = {});
  // Wraps an already loaded module, sharing it (training validates the module it trains this
  // way): Predict then runs under NoGradGuard rather than InferenceMode, so the module can still
  // be trained. `name` stands for the path in messages. Throws ConfigError for invalid options.
  static GenderModel Wrap(const internal::LoadedModule& loaded, const ModelOptions& opts,
                          const std::string& name);
  GenderModel(GenderModel&&) noexcept;
  GenderModel& operator=(GenderModel&&) noexcept;
  ~GenderModel();

  // The model's card (include/voxsex/model_card.h).
  const ModelCard& card() const;
  // Front-end options the model was trained with: card().front_end.
  const MelOptions& mel_options() const;
  // The metadata JSON as stored in the file.
  const std::string& metadata_json() const;
  const std::string& path() const;
  // The calibration temperature the logits are divided by before the softmax: card().temperature().
  double temperature() const;

  // Classifies each log-mel (any length >= 1 frame). When the model's metadata has "vad",
  // SelectSpeech (include/voxsex/vad.h) measures speech_s and no_speech, and with its
  // drop_non_speech only the speech frames are used (every frame when it finds too few). Inputs
  // longer than max_window_s are cut into windows whose logits are averaged, weighted by window
  // length. Runs under InferenceMode (NoGradGuard when wrapped), batching windows of similar length. Throws ModelError when
  // an input has no frames or the wrong band count, or the module fails.
  std::vector<Prediction> Predict(const std::vector<const LogMel*>& inputs) const;

 private:
  struct Impl;
  explicit GenderModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Path of a file shipped in models/: the first existing of <exe_dir>/../share/voxsex/models/NAME,
// <exe_dir>/models/NAME, <exe_dir>/../models/NAME, the install prefix's share/voxsex/models/NAME
// and the source tree's models/NAME (both compiled in). Returns "" when none exists.
std::string FindBundledModel(const std::string& file_name);

// The default model for predict: $VOXSEX_MODEL if set, else FindBundledModel("voxsex.pt").
std::string DefaultModelPath();

}  // namespace voxsex
