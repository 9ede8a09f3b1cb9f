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
#include <set>
#include <sstream>
#include <thread>

#include "model_internal.h"
#include "voxsex/audio.h"
#include "voxsex/augment.h"
#include "voxsex/error.h"
#include "voxsex/metrics.h"
#include "voxsex/tsv.h"
#include "voxsex/vad.h"

namespace voxsex {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// FNV-1a, 64-bit (http://www.isthe.com/chongo/tech/comp/fnv/), over n bytes.
std::uint64_t Fnv1a64(const void* data, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
  return h;
}

// One labelled file: log-mel [num_mels, num_frames] of its speech frames (every frame without
// VAD) and, for training files, the waveform and the indices of its speech frames.
struct Example {
  std::string id;
  int gender = 0;
  std::uint64_t audio_hash = 0;    // FNV-1a 64 of the decoded samples' bytes
  torch::Tensor features;
  std::vector<float> samples;      // training files only: mono, at the front end's rate
  std::vector<int> speech_frames;  // training files only: empty when VAD is off or found none
  float loss_weight = 1.0f;        // TrainOptions::child_weight for children, else 1
  bool child = false;              // age_group "child" in the groups table (read when needed)
};

// Maps id -> the audio files in `dir` with that id (file name without extension).
std::map<std::string, std::vector<std::string>> IndexAudioDir(const std::string& dir) {
  std::map<std::string, std::vector<std::string>> index;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw FormatError("cannot list audio directory '" + dir + "': " + ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) throw FormatError("cannot list audio directory '" + dir + "': " + ec.message());
    const std::string path = it->path().string();
    std::error_code type_ec;
    if (!HasAudioExtension(path) || it->is_directory(type_ec)) continue;
    index[it->path().stem().string()].push_back(path);
  }
  if (ec) throw FormatError("cannot list audio directory '" + dir + "': " + ec.message());
  return index;
}

// Examples read by LoadExamples, and how many of the targets' files were skipped.
struct LoadedExamples {
  std::vector<Example> examples;
  long num_skipped = 0;
};

// Computes log-mel of each target's file on `num_threads` threads, keeping only the speech frames
// when `vad` is given; with keep_samples the waveform and speech frame indices are kept too.
// `targets_path` names the targets in messages. A target whose id has no audio file, or two, is
// a FormatError naming the targets line. Files that cannot be read, or
// that CheckAudio refuses (too short, no signal), are skipped with a warning each and a count;
// with `strict` they are an AudioError instead, after all were tried.
LoadedExamples LoadExamples(const std::string& targets_path, const std::vector<Target>& targets,
                            std::string audio_dir, const MelOptions& mel, double max_file_s,
                            int num_threads, bool strict, const VadOptions* vad,
                            bool keep_samples) {
  if (audio_dir.empty()) audio_dir = fs::path(targets_path).parent_path().string();
  if (audio_dir.empty()) audio_dir = ".";
  if (targets.empty()) throw FormatError(targets_path + ": no targets");
  const auto index = IndexAudioDir(audio_dir);
  std::vector<std::string> paths;
  for (const auto& t : targets) {
    const std::string where = targets_path + ":" + std::to_string(t.line_number) + ": ";
    auto it = index.find(t.id);
    if (it == index.end()) {
      throw FormatError(where + "no audio file for id '" + t.id + "' in '" + audio_dir + "'");
    }
    if (it->second.size() > 1) {
      throw FormatError(where + "id '" + t.id + "' has " + std::to_string(it->second.size()) +
                        " audio files in '" + audio_dir + "': '" + it->second[0] + "' and '" +
                        it->second[1] + "'");
    }
    paths.push_back(it->second[0]);
  }
  std::vector<Example> examples(targets.size());
  std::vector<std::string> errors(targets.size());
  std::atomic<std::size_t> next{0};
  auto work = [&]() noexcept {
    try {
      MelFrontend frontend(mel);
      AudioReaderOptions ropts;
      ropts.target_sample_rate_hz = mel.sample_rate_hz;
      for (std::size_t i = next++; i < targets.size(); i = next++) {
        try {
          Audio audio = ReadAudio(paths[i], ropts);
          const AudioCheck check = CheckAudio(audio);
          if (!check.refusal.empty()) {
            errors[i] = "cannot use '" + paths[i] + "': " + check.refusal;
            continue;
          }
          const auto max_samples = static_cast<std::size_t>(max_file_s * audio.sample_rate_hz);
          if (audio.samples.size() > max_samples) audio.samples.resize(max_samples);
          LogMel lm = frontend.Compute(audio.samples);
          Example& ex = examples[i];
          ex.id = targets[i].id;
          ex.gender = targets[i].gender;
          ex.audio_hash = Fnv1a64(audio.samples.data(), audio.samples.size() * sizeof(float));
          if (vad != nullptr) {
            SpeechSelection sel = SelectSpeech(lm, *vad);
            if (!sel.no_speech) {
              lm = KeepFrames(lm, sel.frames);
              if (keep_samples) ex.speech_frames = std::move(sel.frames);
            }
          }
          ex.features = internal::ToTensor(lm);
          if (keep_samples) ex.samples = std::move(audio.samples);
        } catch (const std::exception& e) {  // voxsex::Error, or bad_alloc on a huge file
          errors[i] = e.what();
        }
      }
    } catch (const std::exception& e) {  // the front end could not be built: every file fails
      for (std::size_t i = next++; i < targets.size(); i = next++) errors[i] = e.what();
    }
  };
  std::vector<std::thread> threads;
  for (int k = 0; k < num_threads; ++k) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  LoadedExamples loaded;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    if (!errors[i].empty()) {
      if (strict) {
        spdlog::error("{}", errors[i]);
      } else {
        spdlog::warn("skipping {}", errors[i]);
      }
      ++loaded.num_skipped;
    } else {
      loaded.examples.push_back(std::move(examples[i]));
    }
  }
  if (loaded.num_skipped > 0) {
    if (strict) {
      throw AudioError(targets_path + ": " + std::to_string(loaded.num_skipped) + " of " +
                       std::to_string(targets.size()) +
                       " audio files cannot be used (--strict); nothing written");
    }
    spdlog::warn("{}: skipped {} of {} audio files that cannot be used", targets_path,
                 loaded.num_skipped, targets.size());
  }
  if (loaded.examples.empty()) throw FormatError(targets_path + ": no usable audio");
  return loaded;
}

// Maps each id of a groups table (a TSV with a header) to its value in `column`. Throws
// FormatError "<path>: <option> needs a header with 'id' and '<column>' columns" when either
// column is missing.
std::map<std::string, std::string> ReadGroupsColumn(const std::string& path, const char* column,
                                                    const char* option) {
  const Table table = ReadTable(path);
  for (const char* c : {"id", column}) {
    if (std::find(table.columns.begin(), table.columns.end(), c) == table.columns.end()) {
      throw FormatError(path + ": " + option + " needs a header with 'id' and '" + column +
                        "' columns");
    }
  }
  std::map<std::string, std::string> value_of;
  for (const auto& row : table.rows) value_of[row.at("id")] = row.at(column);
  return value_of;
}

// Splits `targets` by speaker into (training, validation): the speakers are ordered by the FNV-1a
// hash of "seed/speaker" and the first round(fraction * speakers) of them (at least one, never
// all) go to validation. A target without a speaker in `speaker_of` is a FormatError naming the
// targets line.
std::pair<std::vector<Target>, std::vector<Target>> SplitBySpeaker(
    const std::vector<Target>& targets, const std::map<std::string, std::string>& speaker_of,
    const std::string& targets_path, const std::string& groups_path, double fraction,
    std::uint64_t seed) {
  std::map<std::string, std::uint64_t> draw;
  for (const auto& t : targets) {
    auto it = speaker_of.find(t.id);
    if (it == speaker_of.end()) {
      throw FormatError(targets_path + ":" + std::to_string(t.line_number) + ": id '" + t.id +
                        "' has no speaker in --groups '" + groups_path + "'");
    }
    const std::string key = std::to_string(seed) + "/" + it->second;
    draw[it->second] = Fnv1a64(key.data(), key.size());
  }
  if (draw.size() < 2) {
    throw FormatError(targets_path + ": a speaker-disjoint validation set needs at least two speakers");
  }
  std::vector<std::pair<std::uint64_t, std::string>> order;
  for (const auto& [speaker, u] : draw) order.emplace_back(u, speaker);
  std::sort(order.begin(), order.end());
  const std::size_t n_val = std::clamp<std::size_t>(
      static_cast<std::size_t>(std::lround(fraction * static_cast<double>(order.size()))), 1,
      order.size() - 1);
  std::set<std::string> val_speakers;
  for (std::size_t i = 0; i < n_val; ++i) val_speakers.insert(order[i].second);
  std::pair<std::vector<Target>, std::vector<Target>> split;
  for (const auto& t : targets) {
    (val_speakers.count(speaker_of.at(t.id)) ? split.second : split.first).push_back(t);
  }
  spdlog::info("speaker-disjoint validation from --groups: {} of {} speakers ({} files) held out",
               n_val, order.size(), split.second.size());
  return split;
}

// Warns about validation files whose decoded audio also appears in training.
void WarnSharedAudio(const std::vector<Example>& train, const std::vector<Example>& val) {
  std::map<std::uint64_t, const Example*> by_hash;
  for (const auto& ex : train) by_hash.emplace(ex.audio_hash, &ex);
  std::vector<std::string> shared;
  for (const auto& ex : val) {
    auto it = by_hash.find(ex.audio_hash);
    if (it != by_hash.end()) shared.push_back("'" + ex.id + "' = training '" + it->second->id + "'");
  }
  if (shared.empty()) return;
  std::string list;
  for (std::size_t i = 0; i < shared.size() && i < 5; ++i) list += (i ? ", " : "") + shared[i];
  spdlog::warn("{} validation files have the same audio as a training file ({}{}): validation "
               "scores on them are not held-out scores",
               shared.size(), list, shared.size() > 5 ? ", ..." : "");
}

struct Batch {
  torch::Tensor x;        // [B, 1, M, T]
  torch::Tensor lengths;  // [B]
  torch::Tensor labels;   // [B] gender: 0 male, 1 female
  torch::Tensor fine_labels;  // [B] gender x age group: gender + 2 * child (head "gender_age")
  torch::Tensor weights;  // [B] float: each item's loss weight (Example::loss_weight)
};

// Makes training batches: a random crop of each waveform, centred on a speech frame, augmented
// (AugmentOptions), through the front end, its non-speech frames dropped (VAD), SpecAugment.
// Items are made on `threads` threads, each with its own front end and augmenter; every item draws
// from its own generator seeded from the caller's, so results do not depend on the thread count.
class BatchMaker {
 public:
  BatchMaker(const TrainOptions& opts, const MelOptions& mel, const AugmentOptions& augment,
             const std::vector<Example>& data, torch::Tensor band_mean, int threads)
      : opts_(opts), mel_(mel), data_(data), band_mean_(std::move(band_mean)) {
    std::vector<const std::vector<float>*> pool;
    for (const auto& ex : data) pool.push_back(&ex.samples);
    for (int k = 0; k < std::max(1, threads); ++k) {
      frontends_.push_back(std::make_unique<MelFrontend>(mel));
      augmenters_.push_back(std::make_unique<Augmenter>(augment, mel.sample_rate_hz, pool));
    }
  }

  Batch Make(const std::vector<std::size_t>& order, std::size_t begin, std::size_t end,
             std::mt19937_64& rng) {
    const double frames_per_s = static_cast<double>(mel_.sample_rate_hz) / mel_.hop_length;
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
      dst.copy_(internal::ToTensor(lm));
      batch.lengths[k] = lm.num_frames;
      batch.labels[k] = data_[order[begin + k]].gender;
      batch.fine_labels[k] = data_[order[begin + k]].gender + (data_[order[begin + k]].child ? 2 : 0);
      batch.weights[k] = data_[order[begin + k]].loss_weight;
    }
    return batch;
  }

 private:
  // One training item: log-mel [frames x num_mels] with at most `crop` frames.
  LogMel MakeItem(const Example& ex, int64_t crop, std::uint64_t seed, std::size_t worker) {
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
    const std::vector<float> augmented = augmenters_[worker]->Apply(piece, rng);
    LogMel lm = frontends_[worker]->Compute(augmented);
    if (opts_.vad) {
      const SpeechSelection sel = SelectSpeech(lm, opts_.vad_options);
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

  const TrainOptions& opts_;
  const MelOptions& mel_;
  const std::vector<Example>& data_;
  torch::Tensor band_mean_;
  std::vector<std::unique_ptr<MelFrontend>> frontends_;
  std::vector<std::unique_ptr<Augmenter>> augmenters_;
};

// Per-band mean and standard deviation over every frame of the training set.
// Two passes over the files in float64 (mean, then the unbiased variance about it), so memory
// stays at one file's features whatever the size of the training set.
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

// ema = decay * ema + (1 - decay) * current, for parameters; buffers (batch-norm statistics) copied.
void UpdateEma(Snapshot& ema, torch::jit::Module& m, double decay) {
  torch::NoGradGuard g;
  std::size_t i = 0;
  for (const auto& p : m.parameters()) ema.params[i++].mul_(decay).add_(p.detach(), 1.0 - decay);
  i = 0;
  for (const auto& b : m.buffers()) ema.buffers[i++].copy_(b.detach());
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

// <dir>/<stem>.training.tsv beside the model: models/voxsex.pt -> models/voxsex.training.tsv.
std::string TrainingLogPath(const std::string& out_path) {
  const fs::path out(out_path);
  return (out.parent_path() / (out.stem().string() + ".training.tsv")).string();
}

// The per-epoch log, one row per member and epoch, from each member's "history" array:
// member (1-based), epoch, loss, train_accuracy, val_accuracy, val_balanced_accuracy, seconds.
// Rates are fractions; the val columns are empty without a validation set. Other programs
// (eval --report) read it by column name.
std::string TrainingLogTsv(const nlohmann::json& members) {
  const auto field = [](const nlohmann::json& row, const char* key, int decimals) {
    auto it = row.find(key);
    if (it == row.end() || !it->is_number()) return std::string();
    return fmt::format("{:.{}f}", it->get<double>(), decimals);
  };
  std::string text =
      "member\tepoch\tloss\ttrain_accuracy\tval_accuracy\tval_balanced_accuracy\tseconds\n";
  for (std::size_t k = 0; k < members.size(); ++k) {
    for (const auto& row : members[k].at("history")) {
      text += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\n", k + 1, row.at("epoch").get<int>(),
                          field(row, "loss", 6), field(row, "train_accuracy", 6),
                          field(row, "val_accuracy", 6), field(row, "val_balanced_accuracy", 6),
                          field(row, "seconds", 3));
    }
  }
  return text;
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
  if (!(max_train_file_s >= crop_max_s)) {
    throw ConfigError("--crop-max must be <= " + std::to_string(max_train_file_s) +
                      " s (training clips are cut to that length)");
  }
  if (freq_masks < 0 || time_masks < 0) throw ConfigError("mask counts must be >= 0");
  if (freq_mask_bands < 0 || freq_mask_bands > 32) throw ConfigError("--freq-mask-bands must be in [0, 32]");
  if (!(time_mask_ratio >= 0 && time_mask_ratio <= 0.5)) throw ConfigError("--time-mask-ratio must be in [0, 0.5]");
  if (ensemble < 1 || ensemble > 16) throw ConfigError("--ensemble must be in [1, 16]");
  if (feature_norm != "global" && feature_norm != "none") {
    throw ConfigError("--feature-norm must be 'global' or 'none'");
  }
  if (!(ema_decay >= 0 && ema_decay < 1)) throw ConfigError("--ema-decay must be in [0, 1)");
  if (!(val_fraction > 0 && val_fraction <= 0.5)) throw ConfigError("--val-fraction must be in (0, 0.5]");
  if (!(child_weight > 0 && child_weight <= 100)) throw ConfigError("--child-weight must be in (0, 100]");
  if (child_weight != 1.0 && groups_path.empty()) {
    throw ConfigError("--child-weight needs --groups (a table with id and age_group columns)");
  }
  augment.Validate();
  vad_options.Validate();
}

std::string TrainOptions::ToString() const {
  std::ostringstream s;
  s << "TrainOptions(targets=" << targets_path << ", audio_dir=" << audio_dir
    << ", val_targets=" << val_targets_path << ", init=" << init_model_path << ", out=" << out_path
    << ", epochs=" << epochs << ", batch_size=" << batch_size << ", lr=" << lr
    << ", weight_decay=" << weight_decay << ", seed=" << seed << ", threads=" << num_threads
    << ", crop_s=[" << crop_min_s << ", " << crop_max_s << "], gain_db=" << gain_db
    << ", freq_masks=" << freq_masks << "x" << freq_mask_bands << ", time_masks=" << time_masks
    << "x" << time_mask_ratio << ", feature_norm=" << feature_norm << ", ema_decay=" << ema_decay
    << ", ensemble=" << ensemble << ", strict=" << strict << ", groups=" << groups_path
    << ", val_fraction=" << val_fraction << ", child_weight=" << child_weight << ", vad=" << vad << ", "
    << augment.ToString() << ")";
  return s.str();
}

namespace {

// What one ensemble member's training run produced.
struct MemberResult {
  int best_epoch = 0;
  BinaryMetrics best_val;
  double best_val_balanced_accuracy = -1.0;
  nlohmann::json history = nlohmann::json::array();
};

// Classifies the validation set with `module` and scores it.
BinaryMetrics Validate(torch::jit::Module& module, const std::vector<torch::Tensor>& features,
                       const std::vector<int>& truth, int max_window_frames) {
  auto preds = internal::PredictTensors(module, features, 64, max_window_frames);
  std::vector<int> predicted;
  for (const auto& p : preds) predicted.push_back(p.gender());
  return ComputeMetrics(truth, predicted);
}

// Temperature scaling (Guo et al., "On calibration of modern neural networks", ICML 2017): the T
// minimising the validation negative log-likelihood of softmax(logits / T), by golden-section search
// over log T in [log 0.05, log 20].
double FitTemperature(torch::jit::Module& module, const std::vector<torch::Tensor>& features,
                      const std::vector<int>& truth, int max_window_frames) {
  const auto preds = internal::PredictTensors(module, features, 64, max_window_frames);
  const auto nll = [&](double log_t) {
    const double t = std::exp(log_t);
    double sum = 0.0;
    for (std::size_t i = 0; i < preds.size(); ++i) {
      const double d = (preds[i].logit_female - preds[i].logit_male) / t;  // logit of p_female
      const double z = truth[i] == 1 ? d : -d;
      sum += z > 0 ? std::log1p(std::exp(-z)) : -z + std::log1p(std::exp(z));  // -log sigmoid(z)
    }
    return sum / static_cast<double>(preds.size());
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
  spdlog::info("calibration: temperature {:.3f} (validation NLL {:.4f} at T = 1, {:.4f} at T)", t,
               nll(0.0), nll(std::log(t)));
  return t;
}

nlohmann::json AugmentJson(const AugmentOptions& a) {
  return {{"noise_prob", a.noise_prob},         {"snr_db", {a.snr_min_db, a.snr_max_db}},
          {"babble_talkers", {a.babble_min_talkers, a.babble_max_talkers}},
          {"reverb_prob", a.reverb_prob},       {"rt60_s", {a.rt60_min_s, a.rt60_max_s}},
          {"telephone_prob", a.telephone_prob}, {"clip_prob", a.clip_prob},
          {"clip_db", {a.clip_min_db, a.clip_max_db}},
          {"speed_prob", a.speed_prob},         {"speed_range", a.speed_range},
          {"gain_db", a.gain_db}};
}

// True for a model whose head classifies gender x age group (export_model.py --head gender_age):
// it has fine_logits [batch, 4] and a true `age_classes` attribute.
bool HasGenderAgeHead(const torch::jit::Module& module) {
  return module.hasattr("age_classes") && module.attr("age_classes").isBool() &&
         module.attr("age_classes").toBool() && module.find_method("fine_logits").has_value();
}

// Trains `module` in place with seed `seed`; with a validation set, leaves it at the epoch with
// the best validation balanced accuracy.
MemberResult TrainMember(torch::jit::Module& module, const std::vector<Example>& train,
                         const std::vector<torch::Tensor>& val_features,
                         const std::vector<int>& val_truth, const TrainOptions& opts,
                         const MelOptions& mel, BatchMaker& batches,
                         const torch::Tensor& class_weight, std::uint64_t seed, int member,
                         const std::string& tag) {
  torch::manual_seed(seed);
  std::mt19937_64 rng(seed);
  const bool fine_head = HasGenderAgeHead(module);
  // The four fine classes (gender + 2 * child) each take their gender's class weight.
  const torch::Tensor loss_class_weight = fine_head ? class_weight.repeat({2}) : class_weight;
  std::vector<torch::Tensor> params;
  for (auto p : module.parameters()) {
    p.requires_grad_(true);
    params.push_back(p);
  }
  torch::optim::AdamW optimizer(
      params, torch::optim::AdamWOptions(opts.lr).weight_decay(opts.weight_decay));
  const std::size_t steps_per_epoch = (train.size() + opts.batch_size - 1) / opts.batch_size;
  const std::size_t total_steps = steps_per_epoch * opts.epochs;
  const std::size_t warmup = std::min<std::size_t>(steps_per_epoch, total_steps / 10 + 1);
  std::size_t step = 0;
  const int max_window_frames = 10 * mel.sample_rate_hz / mel.hop_length;

  MemberResult result;
  Snapshot best;
  Snapshot ema = Take(module);
  const bool use_ema = opts.ema_decay > 0;
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
      const double progress =
          static_cast<double>(step - std::min(step, warmup)) / std::max<double>(1, total_steps - warmup);
      const double lr = step < warmup ? opts.lr * (step + 1) / warmup
                                      : opts.lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(M_PI * progress)));
      for (auto& group : optimizer.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      }
      ++step;
      Batch batch = batches.Make(order, b, e, rng);
      // Class-weighted cross-entropy with label smoothing, each item also weighted by its loss
      // weight, normalised by the sum of the items' weights (torch's weighted mean when all
      // loss weights are 1). A gender x age head is trained on its four classes, each weighted by
      // its gender's class weight; its gender logits (forward) are logsumexp over the age groups.
      const auto out = fine_head ? module.run_method("fine_logits", batch.x, batch.lengths).toTensor()
                                 : module.forward({batch.x, batch.lengths}).toTensor();
      const auto logits = fine_head ? torch::logsumexp(out.view({-1, 2, 2}), 1) : out;
      auto per_item = torch::nn::functional::cross_entropy(
          out, fine_head ? batch.fine_labels : batch.labels,
          torch::nn::functional::CrossEntropyFuncOptions().weight(loss_class_weight).label_smoothing(0.05)
              .reduction(torch::kNone));
      const auto item_weight = class_weight.index_select(0, batch.labels) * batch.weights;
      auto loss = (per_item * batch.weights).sum() / item_weight.sum();
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      if (use_ema) UpdateEma(ema, module, std::min(opts.ema_decay, (1.0 + step) / (10.0 + step)));
      loss_sum += loss.item<double>() * (e - b);
      correct += (logits.argmax(1) == batch.labels).sum().item<long>();
      seen += static_cast<long>(e - b);
      if (opts.on_progress) opts.on_progress(member, epoch, e, train.size());
    }
    if (opts.on_progress && static_cast<std::size_t>(seen) < train.size()) {
      opts.on_progress(member, epoch, train.size(), train.size());  // a dropped last batch of one
    }
    module.eval();
    Snapshot raw;
    if (use_ema) {  // evaluate (and keep) the averaged weights
      raw = Take(module);
      Restore(module, ema);
    }
    nlohmann::json row = {{"epoch", epoch},
                          {"loss", loss_sum / seen},
                          {"train_accuracy", static_cast<double>(correct) / seen}};
    if (!val_features.empty()) {
      const BinaryMetrics m = Validate(module, val_features, val_truth, max_window_frames);
      row["val_accuracy"] = m.accuracy;
      row["val_balanced_accuracy"] = m.balanced_accuracy;
      if (m.balanced_accuracy > result.best_val_balanced_accuracy) {
        result.best_val_balanced_accuracy = m.balanced_accuracy;
        result.best_epoch = epoch;
        result.best_val = m;
        best = Take(module);
      }
      spdlog::info("{}epoch {:3d}/{}  loss {:.4f}  train acc {:.2f}%  val acc {:.2f}%  val bal acc {:.2f}%  {:.1f} s",
                   tag, epoch, opts.epochs, loss_sum / seen, 100.0 * correct / seen,
                   100 * m.accuracy, 100 * m.balanced_accuracy, Seconds(te));
    } else {
      result.best_epoch = epoch;
      spdlog::info("{}epoch {:3d}/{}  loss {:.4f}  train acc {:.2f}%  {:.1f} s", tag, epoch,
                   opts.epochs, loss_sum / seen, 100.0 * correct / seen, Seconds(te));
    }
    row["seconds"] = Seconds(te);
    result.history.push_back(row);
    if (use_ema && epoch < opts.epochs) Restore(module, raw);
  }
  if (!val_features.empty()) {
    Restore(module, best);
    spdlog::info("{}best epoch {} (val bal acc {:.2f}%)", tag, result.best_epoch,
                 100 * result.best_val_balanced_accuracy);
  }
  module.eval();
  for (auto p : module.parameters()) p.requires_grad_(false);
  return result;
}

// One TorchScript module whose forward averages the logits of `members` (same signature).
torch::jit::Module MakeEnsemble(const std::vector<torch::jit::Module>& members) {
  torch::jit::Module ensemble("voxsex.Ensemble");
  std::string sum;
  for (std::size_t k = 0; k < members.size(); ++k) {
    const std::string name = "member" + std::to_string(k);
    ensemble.register_module(name, members[k]);
    sum += (k ? " + " : "") + std::string("self.") + name + ".forward(log_mel, lengths)";
  }
  ensemble.define("def forward(self, log_mel: Tensor, lengths: Tensor) -> Tensor:\n    return (" +
                  sum + ") / " + std::to_string(members.size()) + ".0\n");
  ensemble.eval();
  return ensemble;
}

TrainResult TrainImpl(const TrainOptions& opts) {
  const auto t0 = Clock::now();
  {  // Fail now, not after hours of training, when the output directory is missing.
    std::error_code ec;
    const fs::path dir = fs::path(opts.out_path).parent_path();
    if (!dir.empty() && !fs::is_directory(dir, ec)) {
      throw ConfigError("--out '" + opts.out_path + "': directory '" + dir.string() +
                        "' does not exist");
    }
  }
  const int threads = internal::SetTorchThreads(opts.num_threads);
  spdlog::info("{}", opts.ToString());

  internal::LoadedModule loaded = internal::LoadModule(opts.init_model_path);
  if (!loaded.module.hasattr("band_mean") || !loaded.module.hasattr("band_std")) {
    throw ModelError("initial model '" + opts.init_model_path +
                     "' has no band_mean/band_std buffers: not a trainable voxsex architecture");
  }
  const bool fine_head = HasGenderAgeHead(loaded.module);
  if (fine_head && opts.groups_path.empty()) {
    throw ConfigError("initial model '" + opts.init_model_path +
                      "' classifies gender x age group: it needs --groups (a table with id and "
                      "age_group columns)");
  }
  const MelOptions& mel = loaded.mel;
  spdlog::info("front end: {}", mel.ToString());

  // The detector as stored in the model: it drops non-speech frames only with opts.vad.
  VadOptions stored_vad = opts.vad_options;
  stored_vad.drop_non_speech = opts.vad;
  const VadOptions* vad = opts.vad ? &stored_vad : nullptr;
  std::vector<Target> train_targets = ReadTargets(opts.targets_path);
  std::vector<Target> val_targets;
  std::string val_targets_path = opts.val_targets_path, val_audio_dir = opts.val_audio_dir;
  if (!opts.val_targets_path.empty()) val_targets = ReadTargets(opts.val_targets_path);
  if (!opts.groups_path.empty()) {
    const auto speaker_of = ReadGroupsColumn(opts.groups_path, "speaker", "--groups");
    if (opts.val_targets_path.empty()) {
      auto split = SplitBySpeaker(train_targets, speaker_of, opts.targets_path, opts.groups_path,
                                  opts.val_fraction, opts.seed);
      train_targets = std::move(split.first);
      val_targets = std::move(split.second);
      val_targets_path = opts.targets_path;  // same file, same audio directory
      val_audio_dir = opts.audio_dir;
    } else {
      std::set<std::string> train_speakers, both;
      for (const auto& t : train_targets) {
        if (auto it = speaker_of.find(t.id); it != speaker_of.end()) train_speakers.insert(it->second);
      }
      for (const auto& t : val_targets) {
        auto it = speaker_of.find(t.id);
        if (it != speaker_of.end() && train_speakers.count(it->second)) both.insert(it->second);
      }
      if (!both.empty()) {
        spdlog::warn("{} speakers are in both training and validation (e.g. '{}'): validation is "
                     "not speaker-disjoint",
                     both.size(), *both.begin());
      }
    }
  }
  LoadedExamples train_loaded =
      LoadExamples(opts.targets_path, train_targets, opts.audio_dir, mel, opts.max_train_file_s,
                   threads, opts.strict, vad, /*keep_samples=*/true);
  std::vector<Example>& train = train_loaded.examples;
  long num_skipped = train_loaded.num_skipped;
  std::vector<Example> val;
  if (!val_targets.empty()) {
    LoadedExamples val_loaded = LoadExamples(val_targets_path, val_targets, val_audio_dir, mel,
                                             1e9, threads, opts.strict, vad,
                                             /*keep_samples=*/false);
    val = std::move(val_loaded.examples);
    num_skipped += val_loaded.num_skipped;
    WarnSharedAudio(train, val);
  }
  if (fine_head || opts.child_weight != 1.0) {
    // One read of the age groups serves both the gender x age head (which needs every training
    // file's) and --child-weight (files without one weigh 1).
    const auto age_of =
        ReadGroupsColumn(opts.groups_path, "age_group", fine_head ? "--groups" : "--child-weight");
    long children = 0;
    for (auto& ex : train) {
      const auto it = age_of.find(ex.id);
      if (fine_head && (it == age_of.end() || (it->second != "child" && it->second != "adult"))) {
        throw FormatError(opts.groups_path + ": training file '" + ex.id +
                          "' needs an age_group of 'child' or 'adult' (the initial model "
                          "classifies gender x age group)");
      }
      ex.child = it != age_of.end() && it->second == "child";
      if (ex.child) ex.loss_weight = static_cast<float>(opts.child_weight);
      children += ex.child;
    }
    if (fine_head) {
      spdlog::info("gender x age head: {} of {} training files are children", children, train.size());
    }
    if (opts.child_weight != 1.0) {
      spdlog::info("child weight {}: {} of {} training files are children", opts.child_weight,
                   children, train.size());
      if (children == 0) {
        spdlog::warn("--child-weight {}: no training file has age_group 'child' in '{}'",
                     opts.child_weight, opts.groups_path);
      }
    }
  }
  long counts[2] = {0, 0};
  for (const auto& ex : train) counts[ex.gender]++;
  spdlog::info("loaded {} training files ({} male, {} female), {} validation files in {:.1f} s",
               train.size(), counts[0], counts[1], val.size(), Seconds(t0));
  if (counts[0] == 0 || counts[1] == 0) {
    throw ConfigError(opts.targets_path + ": training needs files of both classes");
  }
  std::vector<torch::Tensor> val_features;
  std::vector<int> val_truth;
  for (const auto& ex : val) {
    val_features.push_back(ex.features);
    val_truth.push_back(ex.gender);
  }

  // band_mean also fills SpecAugment's masks, in every normalisation mode; the model's buffers
  // get the statistics only with feature_norm "global" (identity otherwise).
  const auto [band_mean, train_std] = BandStatistics(train);
  const torch::Tensor model_mean =
      opts.feature_norm == "none" ? torch::zeros_like(band_mean) : band_mean;
  const torch::Tensor model_std = opts.feature_norm == "none" ? torch::ones_like(train_std) : train_std;
  // Inverse-frequency class weights: the loss treats both classes equally (balanced accuracy).
  const double n = static_cast<double>(train.size());
  const auto class_weight =
      torch::tensor({n / (2.0 * counts[0]), n / (2.0 * counts[1])}, torch::kFloat32);

  AugmentOptions augment = opts.augment;
  augment.gain_db = opts.gain_db;
  spdlog::info("{}", augment.ToString());
  spdlog::info("{}", stored_vad.ToString());
  BatchMaker batches(opts, mel, augment, train, band_mean, threads);

  std::vector<torch::jit::Module> members;
  nlohmann::json members_json = nlohmann::json::array();
  TrainResult result;
  result.num_train_files = static_cast<long>(train.size());
  result.num_val_files = static_cast<long>(val.size());
  result.num_skipped_files = num_skipped;
  for (int k = 0; k < opts.ensemble; ++k) {
    // A fresh load rather than Module::clone(): cloned parameters are not leaves of the graph.
    torch::jit::Module member = internal::LoadModule(opts.init_model_path).module;
    {
      torch::NoGradGuard g;
      member.attr("band_mean").toTensor().copy_(model_mean);
      member.attr("band_std").toTensor().copy_(model_std);
    }
    const std::uint64_t seed = opts.seed + static_cast<std::uint64_t>(k);
    const std::string tag =
        opts.ensemble > 1 ? fmt::format("member {}/{} (seed {}): ", k + 1, opts.ensemble, seed) : "";
    MemberResult r = TrainMember(member, train, val_features, val_truth, opts, mel, batches,
                                 class_weight, seed, k + 1, tag);
    nlohmann::json mj = {{"seed", seed}, {"best_epoch", r.best_epoch}, {"history", r.history}};
    if (!val.empty()) mj["validation"] = MetricsJson(r.best_val);
    members_json.push_back(mj);
    result.best_epoch = r.best_epoch;
    result.best_val_balanced_accuracy = r.best_val.balanced_accuracy;
    result.best_val_accuracy = r.best_val.accuracy;
    members.push_back(member);
  }
  torch::jit::Module model = members.size() == 1 ? members[0] : MakeEnsemble(members);
  BinaryMetrics val_metrics;
  if (!val.empty()) {
    val_metrics = Validate(model, val_features, val_truth, 10 * mel.sample_rate_hz / mel.hop_length);
    result.best_val_balanced_accuracy = val_metrics.balanced_accuracy;
    result.best_val_accuracy = val_metrics.accuracy;
    result.temperature = FitTemperature(model, val_features, val_truth,
                                        10 * mel.sample_rate_hz / mel.hop_length);
    if (members.size() > 1) {
      spdlog::info("ensemble of {}: val acc {:.2f}%  val bal acc {:.2f}%", members.size(),
                   100 * val_metrics.accuracy, 100 * val_metrics.balanced_accuracy);
    }
  }
  result.seconds = Seconds(t0);

  nlohmann::json meta = loaded.metadata;
  meta["trained"] = true;
  meta["front_end"] = internal::MelOptionsToJson(mel);
  meta["voxsex_version"] = VOXSEX_VERSION;
  if (members.size() > 1) {
    meta["architecture"] = fmt::format("ensemble of {} x {}", members.size(),
                                       loaded.metadata.value("architecture", "unknown"));
    if (meta.contains("parameters") && meta["parameters"].is_number_integer()) {
      meta["parameters"] = meta["parameters"].get<long>() * static_cast<long>(members.size());
    }
  }
  meta["training"] = {
      {"date_utc", UtcNow()},
      {"targets", opts.targets_path},
      {"val_targets", val_targets_path},
      {"groups", opts.groups_path},
      {"child_weight", opts.child_weight},
      {"train_files", result.num_train_files},
      {"train_male", counts[0]},
      {"train_female", counts[1]},
      {"val_files", result.num_val_files},
      {"epochs", opts.epochs},
      {"batch_size", opts.batch_size},
      {"lr", opts.lr},
      {"weight_decay", opts.weight_decay},
      {"seed", opts.seed},
      {"ensemble", opts.ensemble},
      {"threads", threads},
      {"crop_s", {opts.crop_min_s, opts.crop_max_s}},
      {"gain_db", opts.gain_db},
      {"augment", AugmentJson(augment)},
      {"vad", opts.vad},
      {"spec_augment", {{"freq_masks", opts.freq_masks}, {"freq_mask_bands", opts.freq_mask_bands},
                        {"time_masks", opts.time_masks}, {"time_mask_ratio", opts.time_mask_ratio}}},
      {"ema_decay", opts.ema_decay},
      {"feature_norm", opts.feature_norm},
      {"seconds", result.seconds},
      {"members", members_json}};
  if (!val.empty()) meta["metrics"] = {{"validation", MetricsJson(val_metrics)}};
  // Stored either way: predict measures speech (speech_s, no_speech) with it, and drops the
  // non-speech frames only when training did (drop_non_speech).
  meta["vad"] = internal::VadOptionsToJson(stored_vad);
  // Predict divides the logits by this temperature (Guo et al., ICML 2017), fitted on validation.
  meta["calibration"] = {{"temperature", result.temperature},
                         {"fitted_on", val.empty() ? "" : val_targets_path}};
  // The model and its log replace the old ones together, atomically: a run killed at any moment
  // leaves both as they were or both whole.
  const std::string log_path = TrainingLogPath(opts.out_path);
  WriteFilesAtomic({{log_path, TrainingLogTsv(members_json)},
                    {opts.out_path, internal::SerializeModule(model, meta, opts.out_path)}});
  spdlog::info("wrote per-epoch log {}", log_path);
  if (val.empty()) {
    spdlog::info("wrote {} (no validation set: last epoch kept) in {:.1f} s", opts.out_path,
                 result.seconds);
  } else {
    spdlog::info("wrote {} (validation balanced accuracy {:.2f}%) in {:.1f} s", opts.out_path,
                 100 * result.best_val_balanced_accuracy, result.seconds);
  }
  return result;
}

}  // namespace

void CalibrateOptions::Validate() const {
  if (model_path.empty()) throw ConfigError("--model is required");
  if (targets_path.empty()) throw ConfigError("--targets is required");
  if (out_path.empty()) throw ConfigError("--out is required");
  if (num_threads < 0) throw ConfigError("--threads must be >= 0");
}

double Calibrate(const CalibrateOptions& opts) {
  opts.Validate();
  try {
    const int threads = internal::SetTorchThreads(opts.num_threads);
    internal::LoadedModule loaded = internal::LoadModule(opts.model_path);
    VadOptions vad;
    vad.drop_non_speech = false;
    if (loaded.vad) vad = *loaded.vad;
    const LoadedExamples examples =
        LoadExamples(opts.targets_path, ReadTargets(opts.targets_path), opts.audio_dir,
                     loaded.mel, 1e9, threads, /*strict=*/false,
                     vad.drop_non_speech ? &vad : nullptr, /*keep_samples=*/false);
    std::vector<torch::Tensor> features;
    std::vector<int> truth;
    for (const auto& ex : examples.examples) {
      features.push_back(ex.features);
      truth.push_back(ex.gender);
    }
    const double t = FitTemperature(loaded.module, features, truth,
                                    10 * loaded.mel.sample_rate_hz / loaded.mel.hop_length);
    nlohmann::json meta = loaded.metadata;
    meta["calibration"] = {{"temperature", t}, {"fitted_on", opts.targets_path}};
    if (!meta.contains("vad")) meta["vad"] = internal::VadOptionsToJson(vad);
    WriteFilesAtomic({{opts.out_path, internal::SerializeModule(loaded.module, meta, opts.out_path)}});
    spdlog::info("wrote {} (temperature {:.3f} from {} files)", opts.out_path, t, truth.size());
    return t;
  } catch (const c10::Error& e) {
    throw ModelError("calibration failed in LibTorch: " + std::string(e.what_without_backtrace()));
  }
}

TrainResult Train(const TrainOptions& opts) {
  opts.Validate();
  try {
    return TrainImpl(opts);
  } catch (const c10::Error& e) {
    throw ModelError("training failed in LibTorch: " + std::string(e.what_without_backtrace()));
  }
}

}  // namespace voxsex
