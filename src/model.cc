#include "voxsex/model.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>
#include <thread>

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include "install_paths.h"
#include "model_internal.h"
#include "voxsex/error.h"
#include "voxsex/vad.h"

namespace voxsex {
namespace internal {
TorchScriptFile LoadTorchScript(const std::string& path, const std::string& what,
                                const std::string& extra_name, const std::string& kind) {
  const std::string named = what + " '" + path + "'";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw ModelError(named + ": no such file");
  TorchScriptFile out;
  torch::jit::ExtraFilesMap extra{{extra_name, ""}};
  try {
    out.module = torch::jit::load(path, torch::kCPU, extra);
  } catch (const c10::Error& e) {
    throw ModelError(named + " is not a TorchScript file: " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw ModelError(named + " could not be loaded: " + e.what());
  }
  out.extra = extra[extra_name];
  if (out.extra.empty()) {
    throw ModelError(named + " has no voxsex metadata (extra file '" + extra_name + "'): not a " +
                     kind);
  }
  if (out.module.find_method("forward") == c10::nullopt) {
    throw ModelError(named + " has no forward method");
  }
  out.module.eval();
  return out;
}

LoadedModule LoadModule(const std::string& path) {
  TorchScriptFile file = LoadTorchScript(path, "model", kModelMetadataName, "voxsex model");
  LoadedModule out;
  out.module = file.module;
  out.metadata_json = std::move(file.extra);
  try {
    out.card = ModelCard::FromJson(out.metadata_json);
  } catch (const ModelError& e) {
    throw ModelError("model '" + path + "': " + e.what());
  }
  return out;
}

int SetTorchThreads(int num_threads) {
  int n = num_threads > 0 ? num_threads : static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  at::set_num_threads(n);
  return n;
}

torch::Tensor ToTensor(const LogMel& log_mel) {
  // LogMel is [T, M] row-major; the model wants [M, T].
  auto t = torch::from_blob(const_cast<float*>(log_mel.data.data()),
                            {log_mel.num_frames, log_mel.num_mels}, torch::kFloat32);
  return t.t().contiguous();
}

std::vector<Prediction> PredictTensors(torch::jit::Module& module,
                                       const std::vector<torch::Tensor>& features, int batch_size,
                                       int max_window_frames, torch::Device device,
                                       int64_t max_batch_frames) {
  struct Window {
    std::size_t input;
    int64_t start;
    int64_t length;
  };
  std::vector<Window> windows;
  for (std::size_t i = 0; i < features.size(); ++i) {
    const int64_t t = features[i].size(1);
    if (t < 1) throw ModelError("input " + std::to_string(i) + " has no frames");
    const int64_t n = (t + max_window_frames - 1) / max_window_frames;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t start = t * k / n, end = t * (k + 1) / n;
      windows.push_back({i, start, end - start});
    }
  }
  std::stable_sort(windows.begin(), windows.end(),
                   [](const Window& a, const Window& b) { return a.length < b.length; });

  // Per input: the frame-weighted sums of its windows' logits, and its frame count.
  struct LogitSums {
    double male = 0.0, female = 0.0, frames = 0.0;
  };
  std::vector<LogitSums> sums(features.size());
  torch::NoGradGuard no_grad;
  try {
    for (std::size_t b = 0, e = 0; b < windows.size(); b = e) {
      // Up to batch_size windows, and (windows sorted by length) at most max_batch_frames padded
      // frames in all: the activations of one forward stay bounded whatever the lengths.
      e = b + 1;
      while (e < windows.size() && e - b < static_cast<std::size_t>(batch_size) &&
             (max_batch_frames <= 0 ||
              static_cast<int64_t>(e - b + 1) * ((windows[e].length + 15) / 16 * 16) <=
                  max_batch_frames)) {
        ++e;
      }
      const int64_t max_len = windows[e - 1].length;
      const int64_t padded = (max_len + 15) / 16 * 16;
      const int64_t num_mels = features[windows[b].input].size(0);
      auto x = torch::zeros({static_cast<int64_t>(e - b), 1, num_mels, padded});
      auto lengths = torch::empty({static_cast<int64_t>(e - b)}, torch::kInt64);
      for (std::size_t k = b; k < e; ++k) {
        const Window& w = windows[k];
        x[k - b][0].narrow(1, 0, w.length).copy_(features[w.input].narrow(1, w.start, w.length));
        lengths[k - b] = w.length;
      }
      auto logits =
          module.forward({x.to(device), lengths.to(device)}).toTensor().to(torch::kCPU).contiguous();
      auto acc = logits.accessor<float, 2>();
      for (std::size_t k = b; k < e; ++k) {
        const Window& w = windows[k];
        LogitSums& s = sums[w.input];
        s.male += acc[k - b][0] * w.length;
        s.female += acc[k - b][1] * w.length;
        s.frames += w.length;
      }
    }
  } catch (const c10::Error& e) {
    throw ModelError(std::string("model forward failed: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {  // e.g. torch::jit::JITException from the script itself
    throw ModelError(std::string("model forward failed: ") + e.what());
  }
  std::vector<Prediction> out(features.size());
  for (std::size_t i = 0; i < features.size(); ++i) {
    Prediction& p = out[i];
    p.logit_male = static_cast<float>(sums[i].male / sums[i].frames);
    p.logit_female = static_cast<float>(sums[i].female / sums[i].frames);
    p.p_female = PFemale(p.logit_female - p.logit_male, 1.0);
  }
  return out;
}

std::string SerializeModule(torch::jit::Module& module, const ModelCard& card,
                            const std::string& path) {
  std::ostringstream out;
  try {
    torch::jit::ExtraFilesMap extra{{kModelMetadataName, card.ToJson()}};
    module.save(out, extra);
  } catch (const c10::Error& e) {
    throw ModelError("cannot write model '" + path + "': " + e.what_without_backtrace());
  }
  return std::move(out).str();
}

}  // namespace internal

// ---------------------------------------------------------------------------------------------

void ModelOptions::Validate() const {
  if (num_threads < 0) throw ConfigError("threads must be >= 0 (0 = all cores)");
  if (batch_size < 1) throw ConfigError("batch size must be >= 1");
  if (max_batch_frames < 0) throw ConfigError("max batch frames must be >= 0 (0 = no limit)");
  if (!(max_window_s >= 0.1)) throw ConfigError("max window must be >= 0.1 s");
  if (device != "cpu" && device != "cuda") {
    throw ConfigError("device must be cpu or cuda, not '" + device + "'");
  }
}

int ModelOptions::window_frames(const MelOptions& mel) const {
  return std::max(2, static_cast<int>(max_window_s * mel.sample_rate_hz / mel.hop_length));
}

float PFemale(double logit_margin, double temperature) {
  return static_cast<float>(1.0 / (1.0 + std::exp(-logit_margin / temperature)));
}

std::string ModelOptions::ToString() const {
  std::ostringstream s;
  s << "ModelOptions(num_threads=" << num_threads << ", batch_size=" << batch_size
    << ", max_batch_frames=" << max_batch_frames
    << ", max_window_s=" << max_window_s << ", device=" << device << ")";
  return s.str();
}

struct GenderModel::Impl {
  internal::LoadedModule loaded;
  ModelOptions opts;
  std::string path;
  // InferenceMode for a loaded model; a wrapped one may be trained afterwards, and tensors made
  // under InferenceMode cannot take part in autograd, so it runs under NoGradGuard only.
  bool inference_mode = true;
};

GenderModel::GenderModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GenderModel::GenderModel(GenderModel&&) noexcept = default;
GenderModel& GenderModel::operator=(GenderModel&&) noexcept = default;
GenderModel::~GenderModel() = default;

GenderModel GenderModel::Wrap(const internal::LoadedModule& loaded, const ModelOptions& opts,
                              const std::string& name) {
  opts.Validate();
  auto impl = std::make_unique<Impl>();
  impl->loaded = loaded;
  impl->opts = opts;
  impl->path = name;
  impl->inference_mode = false;
  return GenderModel(std::move(impl));
}

GenderModel GenderModel::Load(const std::string& path, const ModelOptions& opts) {
  opts.Validate();
  auto impl = std::make_unique<Impl>();
  impl->loaded = internal::LoadModule(path);
  impl->opts = opts;
  impl->path = path;
  internal::SetTorchThreads(opts.num_threads);
  if (opts.device == "cuda") {
    if (!torch::cuda::is_available()) {
      throw ConfigError(
          "CUDA is not available: this voxsex is built against a CPU-only LibTorch or no GPU is "
          "visible; use --device cpu");
    }
    try {
      impl->loaded.module.to(torch::kCUDA);
    } catch (const c10::Error& e) {
      throw ModelError("cannot move model '" + path + "' to CUDA: " + e.what_without_backtrace());
    }
  }
  return GenderModel(std::move(impl));
}

const ModelCard& GenderModel::card() const { return impl_->loaded.card; }
const MelOptions& GenderModel::mel_options() const { return impl_->loaded.card.front_end; }
const std::string& GenderModel::metadata_json() const { return impl_->loaded.metadata_json; }
const std::string& GenderModel::path() const { return impl_->path; }
double GenderModel::temperature() const { return impl_->loaded.card.temperature(); }

std::vector<Prediction> GenderModel::Predict(const std::vector<const LogMel*>& inputs) const {
  std::optional<c10::InferenceMode> guard;  // else PredictTensors' NoGradGuard
  if (impl_->inference_mode) guard.emplace();
  const auto& mel = impl_->loaded.card.front_end;
  const std::optional<VadOptions>& vad = impl_->loaded.card.vad;
  const double frame_s = mel.frame_s();
  std::vector<torch::Tensor> features;
  std::vector<double> speech_s(inputs.size(), 0.0);
  std::vector<bool> no_speech(inputs.size(), false);
  features.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const LogMel* m = inputs[i];
    if (m->num_mels != mel.num_mels) {
      throw ModelError("log-mel has " + std::to_string(m->num_mels) + " bands, model expects " +
                       std::to_string(mel.num_mels));
    }
    if (m->num_frames < 1) throw ModelError("input " + std::to_string(i) + " has no frames");
    if (vad) {
      const SpeechSelection sel = SelectSpeech(*m, *vad);
      speech_s[i] = sel.num_speech_frames * frame_s;
      no_speech[i] = sel.no_speech;
      features.push_back(sel.no_speech || !vad->drop_non_speech
                             ? internal::ToTensor(*m)
                             : internal::ToTensor(KeepFrames(*m, sel.frames)));
    } else {
      speech_s[i] = m->num_frames * frame_s;
      features.push_back(internal::ToTensor(*m));
    }
  }
  auto preds = internal::PredictTensors(
      impl_->loaded.module, features, impl_->opts.batch_size, impl_->opts.window_frames(mel),
      impl_->opts.device == "cuda" ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU),
      impl_->opts.max_batch_frames);
  const double t = impl_->loaded.card.temperature();
  for (std::size_t i = 0; i < preds.size(); ++i) {
    Prediction& p = preds[i];
    p.p_female = PFemale(p.logit_female - p.logit_male, t);
    p.speech_s = speech_s[i];
    p.no_speech = no_speech[i];
  }
  return preds;
}

std::string FindBundledModel(const std::string& file_name) {
  return FindInstalledFile(file_name, {{InstallBase::kExecutableDir, "../share/voxsex/models"},
                                       {InstallBase::kExecutableDir, "models"},
                                       {InstallBase::kExecutableDir, "../models"},
                                       {InstallBase::kInstallDataDir, "models"},
                                       {InstallBase::kSourceDir, "models"}})
      .path;
}

std::string DefaultModelPath() {
  if (const char* env = std::getenv("VOXSEX_MODEL"); env != nullptr && *env != '\0') return env;
  return FindBundledModel("voxsex.pt");
}

}  // namespace voxsex
