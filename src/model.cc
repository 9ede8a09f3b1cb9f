#include "voxsex/model.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <thread>

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include "model_internal.h"
#include "voxsex/error.h"
#include "voxsex/vad.h"

namespace voxsex {
namespace internal {
namespace {

template <typename T>
T Require(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) throw ModelError(std::string("metadata front_end lacks '") + key + "'");
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(std::string("metadata front_end field '") + key + "': " + e.what());
  }
}

}  // namespace

MelOptions MelOptionsFromJson(const nlohmann::json& j) {
  MelOptions o;
  o.sample_rate_hz = Require<int>(j, "sample_rate_hz");
  o.n_fft = Require<int>(j, "n_fft");
  o.win_length = Require<int>(j, "win_length");
  o.hop_length = Require<int>(j, "hop_length");
  o.num_mels = Require<int>(j, "num_mels");
  o.f_min_hz = Require<float>(j, "f_min_hz");
  o.f_max_hz = Require<float>(j, "f_max_hz");
  o.log_offset = Require<float>(j, "log_offset");
  try {
    o.Validate();
  } catch (const ConfigError& e) {
    throw ModelError(std::string("metadata front_end is invalid: ") + e.what());
  }
  return o;
}

nlohmann::json MelOptionsToJson(const MelOptions& o) {
  return {{"type", "log-mel"},          {"sample_rate_hz", o.sample_rate_hz},
          {"n_fft", o.n_fft},           {"win_length", o.win_length},
          {"hop_length", o.hop_length}, {"num_mels", o.num_mels},
          {"f_min_hz", o.f_min_hz},     {"f_max_hz", o.f_max_hz},
          {"log_offset", o.log_offset}, {"window", "hann-periodic"},
          {"center", true},             {"pad_mode", "reflect"},
          {"mel_scale", "slaney"},      {"norm", "slaney"},
          {"power", 2.0}};
}

VadOptions VadOptionsFromJson(const nlohmann::json& j) {
  if (!j.is_object()) throw ModelError("metadata vad is not an object");
  VadOptions o;
  try {
    o.first_band = j.at("first_band").get<int>();
    o.dynamic_range_db = j.at("dynamic_range_db").get<double>();
    o.background_percentile = j.at("background_percentile").get<double>();
    o.background_margin_db = j.at("background_margin_db").get<double>();
    o.min_speech_frames = j.at("min_speech_frames").get<int>();
    o.drop_non_speech = j.at("drop_non_speech").get<bool>();
    o.Validate();
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(std::string("metadata vad: ") + e.what());
  } catch (const ConfigError& e) {
    throw ModelError(std::string("metadata vad is invalid: ") + e.what());
  }
  return o;
}

nlohmann::json VadOptionsToJson(const VadOptions& o) {
  return {{"type", "energy"},
          {"first_band", o.first_band},
          {"dynamic_range_db", o.dynamic_range_db},
          {"background_percentile", o.background_percentile},
          {"background_margin_db", o.background_margin_db},
          {"min_speech_frames", o.min_speech_frames},
          {"drop_non_speech", o.drop_non_speech}};
}

LoadedModule LoadModule(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw ModelError("model '" + path + "': no such file");
  }
  LoadedModule out;
  torch::jit::ExtraFilesMap extra{{kModelMetadataName, ""}};
  try {
    out.module = torch::jit::load(path, torch::kCPU, extra);
  } catch (const c10::Error& e) {
    throw ModelError("model '" + path + "' is not a TorchScript file: " +
                     e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw ModelError("model '" + path + "' could not be loaded: " + e.what());
  }
  out.metadata_json = extra[kModelMetadataName];
  if (out.metadata_json.empty()) {
    throw ModelError("model '" + path + "' has no voxsex metadata (extra file '" +
                     std::string(kModelMetadataName) + "'): not a voxsex model");
  }
  try {
    out.metadata = nlohmann::json::parse(out.metadata_json);
  } catch (const nlohmann::json::exception& e) {
    throw ModelError("model '" + path + "': metadata is not valid JSON: " + e.what());
  }
  const auto& m = out.metadata;
  if (!m.is_object() || !m.contains("format_version") || !m["format_version"].is_number_integer()) {
    throw ModelError("model '" + path + "': metadata lacks an integer format_version");
  }
  if (m["format_version"].get<int>() != kModelFormatVersion) {
    throw ModelError("model '" + path + "': metadata format_version " +
                     std::to_string(m["format_version"].get<int>()) + ", this voxsex reads " +
                     std::to_string(kModelFormatVersion));
  }
  if (!m.contains("labels") || m["labels"] != nlohmann::json({"male", "female"})) {
    throw ModelError("model '" + path + "': metadata labels must be [\"male\", \"female\"]");
  }
  if (!m.contains("front_end") || !m["front_end"].is_object()) {
    throw ModelError("model '" + path + "': metadata lacks front_end");
  }
  try {
    out.mel = MelOptionsFromJson(m["front_end"]);
  } catch (const ModelError& e) {
    throw ModelError("model '" + path + "': " + e.what());
  }
  try {
    if (m.contains("vad")) out.vad = VadOptionsFromJson(m["vad"]);
  } catch (const ModelError& e) {
    throw ModelError("model '" + path + "': " + e.what());
  }
  if (m.contains("calibration")) {
    const auto& c = m["calibration"];
    if (!c.is_object() || !c.contains("temperature") || !c["temperature"].is_number() ||
        !(c["temperature"].get<double>() > 0.0 && c["temperature"].get<double>() < 1e3)) {
      throw ModelError("model '" + path +
                       "': metadata calibration needs a temperature in (0, 1000)");
    }
    out.temperature = c["temperature"].get<double>();
  }
  if (out.module.find_method("forward") == c10::nullopt) {
    throw ModelError("model '" + path + "' has no forward method");
  }
  out.module.eval();
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

  std::vector<double> sum0(features.size(), 0.0), sum1(features.size(), 0.0),
      weight(features.size(), 0.0);
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
        sum0[w.input] += acc[k - b][0] * w.length;
        sum1[w.input] += acc[k - b][1] * w.length;
        weight[w.input] += w.length;
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
    p.logit_male = static_cast<float>(sum0[i] / weight[i]);
    p.logit_female = static_cast<float>(sum1[i] / weight[i]);
    p.p_female = 1.0f / (1.0f + std::exp(p.logit_male - p.logit_female));
  }
  return out;
}

std::string SerializeModule(torch::jit::Module& module, const nlohmann::json& metadata,
                            const std::string& path) {
  std::ostringstream out;
  try {
    torch::jit::ExtraFilesMap extra{{kModelMetadataName, metadata.dump(1)}};
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
};

GenderModel::GenderModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GenderModel::GenderModel(GenderModel&&) noexcept = default;
GenderModel& GenderModel::operator=(GenderModel&&) noexcept = default;
GenderModel::~GenderModel() = default;

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

const MelOptions& GenderModel::mel_options() const { return impl_->loaded.mel; }
const std::string& GenderModel::metadata_json() const { return impl_->loaded.metadata_json; }
const std::string& GenderModel::path() const { return impl_->path; }
double GenderModel::temperature() const { return impl_->loaded.temperature; }

std::vector<Prediction> GenderModel::Predict(const std::vector<const LogMel*>& inputs) const {
  c10::InferenceMode guard;
  const auto& mel = impl_->loaded.mel;
  const double frame_s = static_cast<double>(mel.hop_length) / mel.sample_rate_hz;
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
    if (impl_->loaded.vad) {
      const SpeechSelection sel = SelectSpeech(*m, *impl_->loaded.vad);
      speech_s[i] = sel.num_speech_frames * frame_s;
      no_speech[i] = sel.no_speech;
      features.push_back(sel.no_speech || !impl_->loaded.vad->drop_non_speech
                             ? internal::ToTensor(*m)
                             : internal::ToTensor(KeepFrames(*m, sel.frames)));
    } else {
      speech_s[i] = m->num_frames * frame_s;
      features.push_back(internal::ToTensor(*m));
    }
  }
  const int max_frames = std::max(
      1, static_cast<int>(impl_->opts.max_window_s * mel.sample_rate_hz / mel.hop_length));
  auto preds = internal::PredictTensors(
      impl_->loaded.module, features, impl_->opts.batch_size, max_frames,
      impl_->opts.device == "cuda" ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU),
      impl_->opts.max_batch_frames);
  const double t = impl_->loaded.temperature;
  for (std::size_t i = 0; i < preds.size(); ++i) {
    Prediction& p = preds[i];
    p.p_female = static_cast<float>(1.0 / (1.0 + std::exp((p.logit_male - p.logit_female) / t)));
    p.speech_s = speech_s[i];
    p.no_speech = no_speech[i];
  }
  return preds;
}

std::string FindBundledModel(const std::string& file_name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> dirs;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path();
    dirs.push_back(dir / ".." / "share" / "voxsex" / "models");
    dirs.push_back(dir / "models");
    dirs.push_back(dir / ".." / "models");
  }
#ifdef VOXSEX_INSTALL_DATADIR
  dirs.push_back(fs::path(VOXSEX_INSTALL_DATADIR) / "models");
#endif
#ifdef VOXSEX_SOURCE_MODELS_DIR
  dirs.push_back(VOXSEX_SOURCE_MODELS_DIR);
#endif
  for (const auto& d : dirs) {
    const fs::path c = d / file_name;
    if (fs::is_regular_file(c, ec)) return fs::weakly_canonical(c, ec).string();
  }
  return "";
}

std::string DefaultModelPath() {
  if (const char* env = std::getenv("VOXSEX_MODEL"); env != nullptr && *env != '\0') return env;
  return FindBundledModel("voxsex.pt");
}

}  // namespace voxsex
