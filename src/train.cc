#include "voxsex/train.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "model_internal.h"
#include "voxsex/audio.h"
#include "voxsex/error.h"
#include "voxsex/metrics.h"
#include "voxsex/tsv.h"

namespace voxsex {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// One labelled file, as log-mel [num_mels, num_frames].
struct Example {
  std::string id;
  int gender = 0;
  torch::Tensor features;
};

// Maps id -> audio path for every audio file in `dir`. Two files with one id: FormatError.
std::map<std::string, std::string> IndexAudioDir(const std::string& dir) {
  std::map<std::string, std::string> index;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw FormatError("cannot list audio directory '" + dir + "': " + ec.message());
  for (const auto& entry : it) {
    const std::string path = entry.path().string();
    if (!HasAudioExtension(path) || !entry.is_regular_file(ec)) continue;
    const std::string id = entry.path().stem().string();
    auto [pos, inserted] = index.emplace(id, path);
    if (!inserted) {
      throw FormatError("two audio files have id '" + id + "': '" + pos->second + "' and '" +
                        path + "'");
    }
  }
  return index;
}

// Reads targets and computes log-mel of each file on `num_threads` threads. Files that cannot be
// read are skipped with a warning; a target without an audio file is a FormatError.
std::vector<Example> LoadExamples(const std::string& targets_path, std::string audio_dir,
                                  const MelOptions& mel, double max_file_s, int num_threads) {
  if (audio_dir.empty()) audio_dir = fs::path(targets_path).parent_path().string();
  if (audio_dir.empty()) audio_dir = ".";
  const auto targets = ReadTargets(targets_path);
  const auto index = IndexAudioDir(audio_dir);
  std::vector<std::string> paths;
  for (const auto& t : targets) {
    auto it = index.find(t.id);
    if (it == index.end()) {
      throw FormatError(targets_path + ": no audio file for id '" + t.id + "' in '" + audio_dir +
                        "'");
    }
    paths.push_back(it->second);
  }
  std::vector<Example> examples(targets.size());
  std::vector<std::string> errors(targets.size());
  std::atomic<std::size_t> next{0};
  auto work = [&]() {
    MelFrontend frontend(mel);
    AudioReaderOptions ropts;
    ropts.target_sample_rate_hz = mel.sample_rate_hz;
    for (std::size_t i = next++; i < targets.size(); i = next++) {
      try {
        Audio audio = ReadAudio(paths[i], ropts);
        const auto max_samples = static_cast<std::size_t>(max_file_s * audio.sample_rate_hz);
        if (audio.samples.size() > max_samples) audio.samples.resize(max_samples);
        LogMel lm = frontend.Compute(audio.samples);
        examples[i] = {targets[i].id, targets[i].gender, internal::ToTensor(lm)};
      } catch (const Error& e) {
        errors[i] = e.what();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int k = 0; k < num_threads; ++k) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  std::vector<Example> ok;
  long skipped = 0;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    if (!errors[i].empty()) {
      spdlog::warn("skipping {}", errors[i]);
      ++skipped;
    } else {
      ok.push_back(std::move(examples[i]));
    }
  }
  if (skipped > 0) spdlog::warn("{}: skipped {} unreadable files", targets_path, skipped);
  if (ok.empty()) throw FormatError(targets_path + ": no readable audio");
  return ok;
}

// Converts log(mel + eps) to log(gain * mel + eps): an exact gain change in the power domain.
torch::Tensor ApplyGain(const torch::Tensor& log_mel, double gain_power, double eps) {
  return torch::log((torch::exp(log_mel) - eps).clamp_min(0.0) * gain_power + eps);
}

struct Batch {
  torch::Tensor x;        // [B, 1, M, T]
  torch::Tensor lengths;  // [B]
  torch::Tensor labels;   // [B]
};

Batch MakeTrainBatch(const std::vector<Example>& data, const std::vector<std::size_t>& order,
                     std::size_t begin, std::size_t end, const TrainOptions& opts,
                     const MelOptions& mel, std::mt19937_64& rng) {
  const double frames_per_s = static_cast<double>(mel.sample_rate_hz) / mel.hop_length;
  std::uniform_real_distribution<double> crop_s(opts.crop_min_s, opts.crop_max_s);
  // Crop lengths are multiples of 16 frames: a bounded set of input shapes for LibTorch's kernels.
  const int64_t crop = std::max<int64_t>(16, std::lround(crop_s(rng) * frames_per_s / 16) * 16);
  std::uniform_real_distribution<double> gain_db(-opts.gain_db, opts.gain_db);
  const int64_t b = static_cast<int64_t>(end - begin);
  Batch batch;
  batch.x = torch::zeros({b, 1, mel.num_mels, crop});
  batch.lengths = torch::empty({b}, torch::kInt64);
  batch.labels = torch::empty({b}, torch::kInt64);
  for (int64_t k = 0; k < b; ++k) {
    const Example& ex = data[order[begin + k]];
    const int64_t t = ex.features.size(1);
    const int64_t len = std::min(t, crop);
    std::uniform_int_distribution<int64_t> start_dist(0, t - len);
    const int64_t start = start_dist(rng);
    auto piece = ex.features.narrow(1, start, len);
    const double g = std::pow(10.0, gain_db(rng) / 10.0);
    if (opts.gain_db > 0) piece = ApplyGain(piece, g, mel.log_offset);
    batch.x[k][0].narrow(1, 0, len).copy_(piece);
    batch.lengths[k] = len;
    batch.labels[k] = ex.gender;
  }
  return batch;
}

// Per-band mean and standard deviation over every frame of the training set.
std::pair<torch::Tensor, torch::Tensor> BandStatistics(const std::vector<Example>& data) {
  std::vector<torch::Tensor> all;
  all.reserve(data.size());
  for (const auto& ex : data) all.push_back(ex.features);
  auto cat = torch::cat(all, 1).to(torch::kFloat64);  // [M, total_frames]
  auto mean = cat.mean(1);
  auto std = cat.std(1).clamp_min(1e-3);
  return {mean.to(torch::kFloat32), std.to(torch::kFloat32)};
}

struct Snapshot {
  std::vector<torch::Tensor> params;
  std::vector<torch::Tensor> buffers;
};

Snapshot Take(torch::jit::Module& m) {
  Snapshot s;
  torch::NoGradGuard g;
  for (const auto& p : m.parameters()) s.params.push_back(p.detach().clone());
  for (const auto& b : m.buffers()) s.buffers.push_back(b.detach().clone());
  return s;
}

void Restore(torch::jit::Module& m, const Snapshot& s) {
  torch::NoGradGuard g;
  std::size_t i = 0;
  for (auto p : m.parameters()) p.copy_(s.params[i++]);
  i = 0;
  for (auto b : m.buffers()) b.copy_(s.buffers[i++]);
}

nlohmann::json MetricsJson(const BinaryMetrics& m) {
  return {{"files", m.num_files},
          {"accuracy", m.accuracy},
          {"accuracy_ci95", {m.accuracy_lo, m.accuracy_hi}},
          {"balanced_accuracy", m.balanced_accuracy},
          {"recall_male", m.recall[0]},
          {"recall_female", m.recall[1]}};
}

std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

void TrainOptions::Validate() const {
  if (targets_path.empty()) throw ConfigError("--targets is required");
  if (out_path.empty()) throw ConfigError("--out is required");
  if (init_model_path.empty()) throw ConfigError("no initial model (--init)");
  if (epochs < 1) throw ConfigError("--epochs must be >= 1");
  if (batch_size < 2) throw ConfigError("--batch-size must be >= 2 (batch normalisation)");
  if (!(lr > 0 && lr < 1)) throw ConfigError("--lr must be in (0, 1)");
  if (!(weight_decay >= 0)) throw ConfigError("--weight-decay must be >= 0");
  if (num_threads < 0) throw ConfigError("--threads must be >= 0");
  if (!(crop_min_s > 0 && crop_max_s >= crop_min_s)) {
    throw ConfigError("crop lengths must satisfy 0 < crop_min_s <= crop_max_s");
  }
  if (!(gain_db >= 0 && gain_db <= 60)) throw ConfigError("--gain-db must be in [0, 60]");
  if (!(max_train_file_s >= crop_max_s)) throw ConfigError("max_train_file_s must be >= crop_max_s");
}

std::string TrainOptions::ToString() const {
  std::ostringstream s;
  s << "TrainOptions(targets=" << targets_path << ", audio_dir=" << audio_dir
    << ", val_targets=" << val_targets_path << ", init=" << init_model_path << ", out=" << out_path
    << ", epochs=" << epochs << ", batch_size=" << batch_size << ", lr=" << lr
    << ", weight_decay=" << weight_decay << ", seed=" << seed << ", threads=" << num_threads
    << ", crop_s=[" << crop_min_s << ", " << crop_max_s << "], gain_db=" << gain_db << ")";
  return s.str();
}

TrainResult Train(const TrainOptions& opts) {
  opts.Validate();
  const auto t0 = Clock::now();
  const int threads = internal::SetTorchThreads(opts.num_threads);
  torch::manual_seed(opts.seed);
  std::mt19937_64 rng(opts.seed);
  spdlog::info("{}", opts.ToString());

  internal::LoadedModule loaded = internal::LoadModule(opts.init_model_path);
  torch::jit::Module& module = loaded.module;
  const MelOptions& mel = loaded.mel;
  spdlog::info("front end: {}", mel.ToString());

  auto train = LoadExamples(opts.targets_path, opts.audio_dir, mel, opts.max_train_file_s, threads);
  std::vector<Example> val;
  if (!opts.val_targets_path.empty()) {
    val = LoadExamples(opts.val_targets_path, opts.val_audio_dir, mel, 1e9, threads);
  }
  long counts[2] = {0, 0};
  for (const auto& ex : train) counts[ex.gender]++;
  spdlog::info("loaded {} training files ({} male, {} female), {} validation files in {:.1f} s",
               train.size(), counts[0], counts[1], val.size(), Seconds(t0));
  if (counts[0] == 0 || counts[1] == 0) {
    throw ConfigError(opts.targets_path + ": training needs files of both classes");
  }

  {
    torch::NoGradGuard g;
    auto [mean, std] = BandStatistics(train);
    module.attr("band_mean").toTensor().copy_(mean);
    module.attr("band_std").toTensor().copy_(std);
  }

  std::vector<torch::Tensor> params;
  for (auto p : module.parameters()) {
    p.requires_grad_(true);
    params.push_back(p);
  }
  torch::optim::AdamW optimizer(
      params, torch::optim::AdamWOptions(opts.lr).weight_decay(opts.weight_decay));
  // Inverse-frequency class weights: the loss treats both classes equally (balanced accuracy).
  const double n = static_cast<double>(train.size());
  auto class_weight = torch::tensor({n / (2.0 * counts[0]), n / (2.0 * counts[1])}, torch::kFloat32);

  const std::size_t steps_per_epoch = (train.size() + opts.batch_size - 1) / opts.batch_size;
  const std::size_t total_steps = steps_per_epoch * opts.epochs;
  const std::size_t warmup = std::min<std::size_t>(steps_per_epoch, total_steps / 10 + 1);
  std::size_t step = 0;

  std::vector<torch::Tensor> val_features;
  std::vector<int> val_truth;
  for (const auto& ex : val) {
    val_features.push_back(ex.features);
    val_truth.push_back(ex.gender);
  }
  const int max_window_frames = 10 * mel.sample_rate_hz / mel.hop_length;

  TrainResult result;
  result.num_train_files = static_cast<long>(train.size());
  result.num_val_files = static_cast<long>(val.size());
  result.best_val_balanced_accuracy = -1.0;
  Snapshot best;
  nlohmann::json history = nlohmann::json::array();
  BinaryMetrics best_val;

  std::vector<std::size_t> order(train.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (int epoch = 1; epoch <= opts.epochs; ++epoch) {
    const auto te = Clock::now();
    std::shuffle(order.begin(), order.end(), rng);
    module.train(true);
    double loss_sum = 0.0;
    long correct = 0, seen = 0;
    for (std::size_t b = 0; b < train.size(); b += opts.batch_size) {
      const std::size_t e = std::min(train.size(), b + opts.batch_size);
      if (e - b < 2) break;  // batch normalisation needs two items
      // Learning rate: linear warm-up, then cosine decay to 1% of the peak.
      const double lr =
          step < warmup ? opts.lr * (step + 1) / warmup
                        : opts.lr * (0.01 + 0.99 * 0.5 *
                                                (1 + std::cos(M_PI * (step - warmup) /
                                                              std::max<double>(1, total_steps - warmup))));
      for (auto& group : optimizer.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      }
      ++step;
      Batch batch = MakeTrainBatch(train, order, b, e, opts, mel, rng);
      auto logits = module.forward({batch.x, batch.lengths}).toTensor();
      auto loss = torch::nn::functional::cross_entropy(
          logits, batch.labels,
          torch::nn::functional::CrossEntropyFuncOptions().weight(class_weight).label_smoothing(0.05));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>() * (e - b);
      correct += (logits.argmax(1) == batch.labels).sum().item<long>();
      seen += static_cast<long>(e - b);
    }
    module.eval();
    nlohmann::json row = {{"epoch", epoch},
                          {"loss", loss_sum / seen},
                          {"train_accuracy", static_cast<double>(correct) / seen}};
    if (!val.empty()) {
      auto preds = internal::PredictTensors(module, val_features, 64, max_window_frames);
      std::vector<int> predicted;
      for (const auto& p : preds) predicted.push_back(p.gender());
      BinaryMetrics m = ComputeMetrics(val_truth, predicted);
      row["val_accuracy"] = m.accuracy;
      row["val_balanced_accuracy"] = m.balanced_accuracy;
      if (m.balanced_accuracy > result.best_val_balanced_accuracy) {
        result.best_val_balanced_accuracy = m.balanced_accuracy;
        result.best_val_accuracy = m.accuracy;
        result.best_epoch = epoch;
        best = Take(module);
        best_val = m;
      }
      spdlog::info("epoch {:3d}/{}  loss {:.4f}  train acc {:.2f}%  val acc {:.2f}%  val bal acc {:.2f}%  {:.1f} s",
                   epoch, opts.epochs, loss_sum / seen, 100.0 * correct / seen, 100 * m.accuracy,
                   100 * m.balanced_accuracy, Seconds(te));
    } else {
      result.best_epoch = epoch;
      spdlog::info("epoch {:3d}/{}  loss {:.4f}  train acc {:.2f}%  {:.1f} s", epoch, opts.epochs,
                   loss_sum / seen, 100.0 * correct / seen, Seconds(te));
    }
    row["seconds"] = Seconds(te);
    history.push_back(row);
  }
  if (!val.empty()) Restore(module, best);
  module.eval();
  result.seconds = Seconds(t0);

  nlohmann::json meta = loaded.metadata;
  meta["trained"] = true;
  meta["front_end"] = internal::MelOptionsToJson(mel);
  meta["voxsex_version"] = VOXSEX_VERSION;
  meta["training"] = {
      {"date_utc", UtcNow()},
      {"targets", opts.targets_path},
      {"val_targets", opts.val_targets_path},
      {"train_files", result.num_train_files},
      {"train_male", counts[0]},
      {"train_female", counts[1]},
      {"val_files", result.num_val_files},
      {"epochs", opts.epochs},
      {"best_epoch", result.best_epoch},
      {"batch_size", opts.batch_size},
      {"lr", opts.lr},
      {"weight_decay", opts.weight_decay},
      {"seed", opts.seed},
      {"threads", threads},
      {"crop_s", {opts.crop_min_s, opts.crop_max_s}},
      {"gain_db", opts.gain_db},
      {"seconds", result.seconds},
      {"history", history}};
  if (!val.empty()) meta["metrics"] = {{"validation", MetricsJson(best_val)}};
  internal::SaveModule(module, meta, opts.out_path);
  spdlog::info("wrote {} (best epoch {}, val balanced accuracy {:.2f}%) in {:.1f} s", opts.out_path,
               result.best_epoch, 100 * result.best_val_balanced_accuracy, result.seconds);
  return result;
}

}  // namespace voxsex
