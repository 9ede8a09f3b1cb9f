// TrainSpeechDetector (include/voxsex/train_vad.h): the training loop of segment's learned speech
// detector. The recipe it replaces, scripts/model/train_vad.py's loop, drew crops and noise the same
// way (Python's random module instead of std::mt19937_64, torchaudio's MelSpectrogram instead of
// MelFrontend, which tests/test_mel.cc checks against it).
#include "voxsex/train_vad.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "model_internal.h"
#include "train/data.h"
#include "voxsex/audio.h"
#include "voxsex/error.h"
#include "voxsex/mel.h"
#include "voxsex/model_card.h"
#include "voxsex/segment.h"
#include "voxsex/tsv.h"

namespace voxsex {
namespace {

namespace fs = std::filesystem;

constexpr double kPi = 3.14159265358979323846;

struct Recording {
  std::vector<float> samples;
  std::vector<float> speech;  // 1 per speech frame, 0 otherwise; NumFrames(samples) of them
};

double ParseSeconds(const std::string& text, const std::string& path, std::size_t row,
                    const char* column) {
  std::size_t used = 0;
  double v = 0.0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(v) || v < 0.0) {
    throw FormatError(path + ": row " + std::to_string(row + 2) + ": " + column + " '" + text +
                      "' is not a time in seconds >= 0");
  }
  return v;
}

// truth.tsv -> id -> [start_s, end_s) stretches of speech.
std::map<std::string, std::vector<std::pair<double, double>>> ReadTruth(const std::string& path) {
  const Table table = ReadTable(path);
  for (const char* c : {"id", "start_s", "end_s"}) {
    if (std::find(table.columns.begin(), table.columns.end(), c) == table.columns.end()) {
      throw FormatError(path + ": no '" + c + "' column in the header");
    }
  }
  std::map<std::string, std::vector<std::pair<double, double>>> truth;
  for (std::size_t i = 0; i < table.rows.size(); ++i) {
    const auto& row = table.rows[i];
    const double s = ParseSeconds(row.at("start_s"), path, i, "start_s");
    const double e = ParseSeconds(row.at("end_s"), path, i, "end_s");
    if (e < s) {
      throw FormatError(path + ": row " + std::to_string(i + 2) + ": end_s before start_s");
    }
    truth[row.at("id")].emplace_back(s, e);
  }
  return truth;
}

// Every audio file below `dir` whose stem is a truth id, read at the front end's rate and
// labelled per frame; an id with no file is a FormatError.
std::vector<Recording> ReadConversations(const std::string& dir, const MelOptions& mel) {
  const std::string truth_path = (fs::path(dir) / "truth.tsv").string();
  std::error_code ec;
  if (!fs::is_regular_file(truth_path, ec)) {
    throw FormatError("conversations '" + dir + "': no truth.tsv");
  }
  const auto truth = ReadTruth(truth_path);
  std::vector<std::string> paths;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && HasAudioExtension(entry.path().string()) &&
        truth.count(entry.path().stem().string()) > 0) {
      paths.push_back(entry.path().string());
    }
  }
  std::sort(paths.begin(), paths.end());  // directory order is not deterministic
  std::map<std::string, int> found;
  std::vector<Recording> out;
  AudioReaderOptions reader;
  reader.target_sample_rate_hz = mel.sample_rate_hz;
  const double frames_per_s = 1.0 / mel.frame_s();
  for (const std::string& p : paths) {
    Recording r;
    r.samples = ReadAudio(p, reader).samples;
    const int n = NumFrames(r.samples.size(), mel);
    r.speech.assign(static_cast<std::size_t>(n), 0.0f);
    for (const auto& [s, e] : truth.at(fs::path(p).stem().string())) {
      // The frame counting of scripts/eval/score_segments.py.
      const int a = std::max(0, static_cast<int>(std::ceil(s * frames_per_s - 0.5)));
      const int b = std::min(n, static_cast<int>(std::ceil(e * frames_per_s - 0.5)));
      for (int t = a; t < b; ++t) r.speech[static_cast<std::size_t>(t)] = 1.0f;
    }
    ++found[fs::path(p).stem().string()];
    out.push_back(std::move(r));
  }
  for (const auto& [id, stretches] : truth) {
    if (found.count(id) == 0) {
      throw FormatError(truth_path + ": id '" + id + "' has no audio file under '" + dir + "'");
    }
  }
  return out;
}

// Recorded noise clips (LoadNoise, as train's) of 0.5 s or more, each scaled to unit RMS.
std::vector<std::vector<float>> ReadNoise(const std::string& dir, const MelOptions& mel) {
  std::vector<std::vector<float>> out;
  if (dir.empty()) return out;
  for (std::vector<float>& z : internal::LoadNoise(dir, mel)) {
    if (z.size() <= static_cast<std::size_t>(mel.sample_rate_hz / 2)) continue;
    double power = 0.0;
    for (float v : z) power += static_cast<double>(v) * v;
    const double rms = std::max(std::sqrt(power / static_cast<double>(z.size())), 1e-8);
    for (float& v : z) v = static_cast<float>(v / rms);
    out.push_back(std::move(z));
  }
  return out;
}

// torch.optim.lr_scheduler.OneCycleLR (PyTorch 1.13, defaults: pct_start 0.1, cosine annealing,
// div_factor 25, final_div_factor 1e4, beta1 cycled between 0.85 and 0.95): the learning rate
// and beta1 of step `step` (0-based) of `total`.
std::pair<double, double> OneCycle(int step, int total, double max_lr) {
  const double initial = max_lr / 25.0, final_lr = initial / 1e4;
  const double warm_end = 0.1 * total - 1.0, last = total - 1.0;
  auto cos_anneal = [](double from, double to, double pct) {
    return to + (from - to) / 2.0 * (std::cos(kPi * pct) + 1.0);
  };
  if (step <= warm_end) {
    const double pct = warm_end > 0.0 ? step / warm_end : 1.0;
    return {cos_anneal(initial, max_lr, pct), cos_anneal(0.95, 0.85, pct)};
  }
  const double pct = last > warm_end ? (step - warm_end) / (last - warm_end) : 1.0;
  return {cos_anneal(max_lr, final_lr, pct), cos_anneal(0.85, 0.95, pct)};
}

}  // namespace

void SpeechDetectorTrainOptions::Validate() const {
  if (conversation_dirs.empty()) throw ConfigError("no conversation directory given");
  if (init_path.empty()) throw ConfigError("no initial detector given (--init)");
  if (out_path.empty()) throw ConfigError("no output path given (--out)");
  if (steps < 1) throw ConfigError("steps must be >= 1");
  if (batch_size < 1) throw ConfigError("batch size must be >= 1");
  if (!(crop_s >= 0.1 && crop_s <= 600.0)) throw ConfigError("crop must be in [0.1, 600] s");
  if (!(lr > 0.0 && lr < 1.0)) throw ConfigError("learning rate must be in (0, 1)");
  if (!(weight_decay >= 0.0 && weight_decay < 1.0)) throw ConfigError("weight decay must be in [0, 1)");
  if (num_threads < 0) throw ConfigError("threads must be >= 0 (0 = all cores)");
  if (!std::isfinite(threshold)) throw ConfigError("threshold must be finite");
  if (!(recorded_noise_prob >= 0.0 && white_noise_prob >= 0.0 &&
        recorded_noise_prob + white_noise_prob <= 1.0)) {
    throw ConfigError("noise probabilities must be >= 0 and sum to at most 1");
  }
  if (!(noise_min_db <= noise_max_db) || !std::isfinite(noise_min_db) || !std::isfinite(noise_max_db)) {
    throw ConfigError("noise level range must be finite with min <= max");
  }
  if (!(gain_min_db <= gain_max_db) || !std::isfinite(gain_min_db) || !std::isfinite(gain_max_db)) {
    throw ConfigError("gain range must be finite with min <= max");
  }
  if (!std::isfinite(speech_level_dbfs)) throw ConfigError("speech level must be finite");
}

std::string SpeechDetectorTrainOptions::ToString() const {
  std::ostringstream s;
  s << "SpeechDetectorTrainOptions(steps=" << steps << ", batch_size=" << batch_size
    << ", crop_s=" << crop_s << ", lr=" << lr << ", weight_decay=" << weight_decay
    << ", seed=" << seed << ", threshold=" << threshold
    << ", recorded_noise_prob=" << recorded_noise_prob << ", white_noise_prob=" << white_noise_prob
    << ", noise_db_under=[" << noise_min_db << ", " << noise_max_db << "] under "
    << speech_level_dbfs << " dBFS, gain_db=[" << gain_min_db << ", " << gain_max_db << "])";
  return s.str();
}

SpeechDetectorTrainResult TrainSpeechDetector(const SpeechDetectorTrainOptions& opts) {
  opts.Validate();
  const auto started = std::chrono::steady_clock::now();
  internal::SetTorchThreads(opts.num_threads);

  internal::TorchScriptFile init = internal::LoadTorchScript(
      opts.init_path, "initial speech detector", kSpeechDetectorMetadataName, "voxsex speech detector");
  torch::jit::Module module = init.module;
  if (!module.find_method("logits").has_value()) {
    throw ModelError("initial speech detector '" + opts.init_path +
                     "' has no logits method (log-mel [batch, mels, frames] -> [batch, frames])");
  }
  // Its front end; then the checks segment makes (SpeechDetector::Load against it).
  MelOptions mel;
  try {
    mel = MelOptionsFromJson(nlohmann::json::parse(init.extra).at("front_end"));
  } catch (const std::exception& e) {  // ModelError or nlohmann::json's (one line each)
    throw ModelError("initial speech detector '" + opts.init_path + "' metadata: " + e.what());
  }
  SpeechDetector::Load(opts.init_path, mel);  // the same checks segment makes

  SpeechDetectorTrainResult result;
  std::vector<Recording> items;
  for (const std::string& dir : opts.conversation_dirs) {
    std::vector<Recording> r = ReadConversations(dir, mel);
    for (auto& x : r) items.push_back(std::move(x));
  }
  if (items.empty()) throw FormatError("no recording found in the conversation directories");
  const std::vector<std::vector<float>> noises = ReadNoise(opts.noise_dir, mel);
  double samples = 0.0, speech = 0.0, frames = 0.0;
  for (const Recording& r : items) {
    samples += static_cast<double>(r.samples.size());
    for (float v : r.speech) speech += v;
    frames += static_cast<double>(r.speech.size());
  }
  result.num_recordings = static_cast<int>(items.size());
  result.hours = samples / mel.sample_rate_hz / 3600.0;
  result.num_noise_clips = static_cast<int>(noises.size());
  result.speech_fraction = frames > 0.0 ? speech / frames : 0.0;
  spdlog::info("{} recordings, {:.2f} h, {:.1f}% speech frames, {} noise clips", items.size(),
               result.hours, 100.0 * result.speech_fraction, noises.size());
  spdlog::info("{}", opts.ToString());

  std::vector<torch::Tensor> params;
  for (const auto& p : module.parameters()) params.push_back(p);
  torch::optim::AdamW optimizer(
      params, torch::optim::AdamWOptions(opts.lr).weight_decay(opts.weight_decay));
  module.train(true);

  std::mt19937_64 rng(opts.seed);
  auto uniform = [&rng](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto index = [&rng](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  MelFrontend front_end(mel);
  const std::size_t crop = static_cast<std::size_t>(std::lround(opts.crop_s * mel.sample_rate_hz));
  const int crop_frames = NumFrames(crop, mel);
  const int num_mels = mel.num_mels;

  for (int step = 0; step < opts.steps; ++step) {
    torch::Tensor x = torch::empty({opts.batch_size, num_mels, crop_frames});
    torch::Tensor y = torch::zeros({opts.batch_size, crop_frames});
    for (int b = 0; b < opts.batch_size; ++b) {
      const Recording& r = items[index(items.size())];
      const std::size_t start = r.samples.size() > crop ? index(r.samples.size() - crop) : 0;
      std::vector<float> w(crop, 0.0f);
      std::copy_n(r.samples.begin() + static_cast<std::ptrdiff_t>(start),
                  std::min(crop, r.samples.size() - start), w.begin());
      const double kind = uniform(0.0, 1.0);
      if (kind < opts.recorded_noise_prob + opts.white_noise_prob) {
        const double amp = std::pow(
            10.0, (opts.speech_level_dbfs - uniform(opts.noise_min_db, opts.noise_max_db)) / 20.0);
        if (kind < opts.recorded_noise_prob && !noises.empty()) {
          const std::vector<float>& z = noises[index(noises.size())];
          std::size_t o = index(z.size());
          for (float& v : w) {
            v += static_cast<float>(amp * z[o]);
            if (++o == z.size()) o = 0;
          }
        } else {
          for (float& v : w) v += static_cast<float>(amp * gauss(rng));
        }
      }
      const float gain = static_cast<float>(std::pow(10.0, uniform(opts.gain_min_db, opts.gain_max_db) / 20.0));
      for (float& v : w) v = std::clamp(v * gain, -1.0f, 1.0f);

      const LogMel lm = front_end.Compute(w);
      x[b].copy_(torch::from_blob(const_cast<float*>(lm.data.data()), {lm.num_frames, num_mels},
                                  torch::kFloat)
                     .t());
      const std::size_t f0 = start / static_cast<std::size_t>(mel.hop_length);
      const std::size_t n = std::min<std::size_t>(crop_frames, r.speech.size() > f0 ? r.speech.size() - f0 : 0);
      if (n > 0) {
        y[b].narrow(0, 0, static_cast<std::int64_t>(n))
            .copy_(torch::from_blob(const_cast<float*>(r.speech.data() + f0),
                                    {static_cast<std::int64_t>(n)}, torch::kFloat));
      }
    }
    const auto [lr, beta1] = OneCycle(step, opts.steps, opts.lr);
    for (auto& group : optimizer.param_groups()) {
      auto& o = static_cast<torch::optim::AdamWOptions&>(group.options());
      o.lr(lr);
      o.betas({beta1, 0.999});
    }
    torch::Tensor logits;
    try {
      logits = module.run_method("logits", x).toTensor();
    } catch (const c10::Error& e) {
      throw ModelError("speech detector '" + opts.init_path + "' failed: " + e.what_without_backtrace());
    }
    if (logits.sizes() != y.sizes()) {
      throw ModelError("speech detector '" + opts.init_path + "': logits of another shape than [batch, frames]");
    }
    const torch::Tensor loss = torch::binary_cross_entropy_with_logits(logits, y);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    result.last_loss = loss.item<double>();
    if (step % 100 == 0 || step == opts.steps - 1) {
      spdlog::info("step {} loss {:.4f} lr {:.6f}", step, result.last_loss, lr);
    }
  }
  module.train(false);

  long num_params = 0;
  for (const auto& p : module.parameters()) num_params += p.numel();
  nlohmann::json training = {{"trainer", "voxsex train-vad"},
                             {"conversations", opts.conversation_dirs},
                             {"noise_dir", opts.noise_dir},
                             {"init", opts.init_path},
                             {"steps", opts.steps},
                             {"batch_size", opts.batch_size},
                             {"crop_s", opts.crop_s},
                             {"lr", opts.lr},
                             {"weight_decay", opts.weight_decay},
                             {"seed", opts.seed},
                             {"recorded_noise_prob", opts.recorded_noise_prob},
                             {"white_noise_prob", opts.white_noise_prob},
                             {"speech_level_dbfs", opts.speech_level_dbfs},
                             {"noise_db_under", {opts.noise_min_db, opts.noise_max_db}},
                             {"gain_db", {opts.gain_min_db, opts.gain_max_db}},
                             {"recordings", result.num_recordings},
                             {"hours", result.hours},
                             {"last_loss", result.last_loss}};
  const nlohmann::json meta = {{"format", "voxsex-speech-detector"},
                               {"version", 1},
                               {"front_end", MelOptionsToJson(mel)},
                               {"threshold", opts.threshold},
                               {"parameters", num_params},
                               {"training", training},
                               {"torch", TORCH_VERSION}};
  std::ostringstream bytes;
  try {
    torch::jit::ExtraFilesMap extra{{kSpeechDetectorMetadataName, meta.dump(1)}};
    module.save(bytes, extra);
  } catch (const c10::Error& e) {
    throw ModelError("cannot write speech detector '" + opts.out_path + "': " + e.what_without_backtrace());
  }
  WriteFileAtomic(opts.out_path, std::move(bytes).str());
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  spdlog::info("wrote {}: {} parameters, {:.0f} s", opts.out_path, num_params, result.seconds);
  return result;
}

}  // namespace voxsex
