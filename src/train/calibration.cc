#include "train/calibration.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <thread>

#include "model_internal.h"
#include "train/data.h"
#include "voxsex/classifier.h"
#include "voxsex/error.h"
#include "voxsex/train.h"
#include "voxsex/tsv.h"

namespace voxsex {
namespace internal {

double FitTemperature(const std::vector<Prediction>& predictions, const std::vector<int>& truth) {
  if (predictions.empty() || predictions.size() != truth.size()) {
    throw ConfigError("temperature scaling needs one label per prediction, and some");
  }
  const auto nll = [&](double log_t) {
    const double t = std::exp(log_t);
    double sum = 0.0;
    for (std::size_t i = 0; i < predictions.size(); ++i) {
      const double d = (predictions[i].logit_female - predictions[i].logit_male) / t;
      const double z = truth[i] == 1 ? d : -d;
      sum += z > 0 ? std::log1p(std::exp(-z)) : -z + std::log1p(std::exp(z));  // -log sigmoid(z)
    }
    return sum / static_cast<double>(predictions.size());
  };
  double lo = std::log(0.05), hi = std::log(20.0);
  const double r = (std::sqrt(5.0) - 1.0) / 2.0;
  double a = hi - r * (hi - lo), b = lo + r * (hi - lo);
  double fa = nll(a), fb = nll(b);
  for (int i = 0; i < 60; ++i) {
    if (fa < fb) {
      hi = b; b = a; fb = fa; a = hi - r * (hi - lo); fa = nll(a);
    } else {
      lo = a; a = b; fa = fb; b = lo + r * (hi - lo); fb = nll(b);
    }
  }
  const double t = std::exp((lo + hi) / 2.0);
  spdlog::info("calibration: temperature {:.3f} (NLL {:.4f} at T = 1, {:.4f} at T, {} files)", t,
               nll(0.0), nll(std::log(t)), predictions.size());
  return t;
}

}  // namespace internal

void CalibrateOptions::Validate() const {
  if (model_path.empty()) throw ConfigError("--model is required");
  if (targets_path.empty()) throw ConfigError("--targets is required");
  if (out_path.empty()) throw ConfigError("--out is required");
  if (num_threads < 0) throw ConfigError("--threads must be >= 0");
}

double Calibrate(const CalibrateOptions& opts) {
  opts.Validate();
  try {
    internal::LoadedModule loaded = internal::LoadModule(opts.model_path);
    // A model without a speech detector gets the default one, measuring only: its input stays
    // every frame, and predict's speech_s and no_speech (and block votes) come from it.
    if (!loaded.card.vad) {
      VadOptions vad;
      vad.drop_non_speech = false;
      loaded.card.vad = vad;
    }
    loaded.card.calibration.reset();  // fitted on uncalibrated logits
    ClassifierOptions copts;
    copts.model.num_threads = opts.num_threads;
    internal::SetTorchThreads(opts.num_threads);
    const Classifier classifier(GenderModel::Wrap(loaded, copts.model, opts.model_path), copts);
    const int threads = opts.num_threads > 0
                            ? opts.num_threads
                            : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    const auto files = internal::LoadValidation(opts.targets_path, ReadTargets(opts.targets_path),
                                                opts.audio_dir, classifier, threads,
                                                /*strict=*/false);
    std::vector<const FileFeatures*> features;
    std::vector<int> truth;
    for (const auto& f : files.items) {
      features.push_back(&f.features);
      truth.push_back(f.gender);
    }
    const double t = internal::FitTemperature(classifier.Score(features), truth);
    loaded.card.calibration = ModelCalibration{t, opts.targets_path};
    loaded.card.voxsex_version = VOXSEX_VERSION;
    WriteFilesAtomic(
        {{opts.out_path, internal::SerializeModule(loaded.module, loaded.card, opts.out_path)}});
    spdlog::info("wrote {} (temperature {:.3f} from {} files)", opts.out_path, t, truth.size());
    return t;
  } catch (const c10::Error& e) {
    throw ModelError("calibration failed in LibTorch: " + std::string(e.what_without_backtrace()));
  }
}

}  // namespace voxsex
