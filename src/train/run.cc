// Train(): the phases of a training run in order: read the targets and split off validation,
// load the examples, normalisation and class weights, train each network, combine, calibrate,
// write the model with its card and the per-epoch log.
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <sstream>

#include "metrics_json.h"
#include "model_internal.h"
#include "train/batches.h"
#include "train/calibration.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/ensemble.h"
#include "train/trainer.h"
#include "voxsex/error.h"
#include "voxsex/metrics.h"
#include "voxsex/train.h"
#include "voxsex/tsv.h"

namespace voxsex {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

json AugmentJson(const AugmentOptions& a) {
  return {{"noise_prob", a.noise_prob},         {"snr_db", {a.snr_min_db, a.snr_max_db}},
          {"babble_talkers", {a.babble_min_talkers, a.babble_max_talkers}},
          {"reverb_prob", a.reverb_prob},       {"rt60_s", {a.rt60_min_s, a.rt60_max_s}},
          {"telephone_prob", a.telephone_prob}, {"codec_prob", a.codec_prob},
          {"codec_level", {a.codec_min_level, a.codec_max_level}},
          {"clip_prob", a.clip_prob},
          {"clip_db", {a.clip_min_db, a.clip_max_db}},
          {"speed_prob", a.speed_prob},         {"speed_range", a.speed_range},
          {"pitch_prob", a.pitch_prob},         {"pitch_semitones", a.pitch_semitones},
          {"tilt_prob", a.tilt_prob},           {"tilt_max", a.tilt_max},
          {"gain_db", a.gain_db}};
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
std::string TrainingLogTsv(const json& members) {
  const auto field = [](const json& row, const char* key, int decimals) {
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

// The training and validation targets: with groups and no validation targets, a
// speaker-disjoint split of the training targets. Returns the validation targets' path (the
// training one for a split) and audio directory through the pointers.
std::pair<std::vector<Target>, std::vector<Target>> ReadSplits(const TrainDataOptions& d,
                                                               std::uint64_t seed,
                                                               std::string* val_targets_path,
                                                               std::string* val_audio_dir) {
  std::vector<Target> train = ReadTargets(d.targets_path);
  std::vector<Target> val;
  *val_targets_path = d.val_targets_path;
  *val_audio_dir = d.val_audio_dir;
  if (!d.val_targets_path.empty()) val = ReadTargets(d.val_targets_path);
  if (d.groups_path.empty()) return {train, val};
  const auto speaker_of = internal::ReadGroupsColumn(d.groups_path, "speaker", "--groups");
  if (!d.val_targets_path.empty()) {
    internal::WarnSharedSpeakers(train, val, speaker_of);
    return {train, val};
  }
  *val_targets_path = d.targets_path;  // same file, same audio directory
  *val_audio_dir = d.audio_dir;
  return internal::SplitBySpeaker(train, speaker_of, d.targets_path, d.groups_path,
                                  d.val_fraction, seed);
}

// Marks children (age_group in the groups table) and their loss weight; a gender x age head needs
// every training file's age group.
void ReadAgeGroups(std::vector<internal::Example>& train, const TrainDataOptions& d,
                   bool fine_head) {
  const char* needed_by = fine_head                ? "--groups"
                          : d.child_weight != 1.0 ? "--child-weight"
                                                  : "--child-augment-scale";
  const auto age_of = internal::ReadGroupsColumn(d.groups_path, "age_group", needed_by);
  long children = 0;
  for (auto& ex : train) {
    const auto it = age_of.find(ex.id);
    if (fine_head && (it == age_of.end() || (it->second != "child" && it->second != "adult"))) {
      throw FormatError(d.groups_path + ": training file '" + ex.id +
                        "' needs an age_group of 'child' or 'adult' (the initial model classifies "
                        "gender x age group)");
    }
    ex.child = it != age_of.end() && it->second == "child";
    if (ex.child) ex.loss_weight = static_cast<float>(d.child_weight);
    children += ex.child;
  }
  if (fine_head) {
    spdlog::info("gender x age head: {} of {} training files are children", children, train.size());
  }
  if (d.child_weight != 1.0) {
    spdlog::info("child weight {}: {} of {} training files are children", d.child_weight, children,
                 train.size());
    if (children == 0) {
      spdlog::warn("--child-weight {}: no training file has age_group 'child' in '{}'",
                   d.child_weight, d.groups_path);
    }
  }
}

TrainResult TrainImpl(const TrainOptions& opts) {
  const auto t0 = Clock::now();
  const TrainDataOptions& d = opts.data;
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

  // 1. The initial model and its card, with the speech detector this run stores.
  internal::LoadedModule init = internal::LoadModule(opts.init_model_path);
  if (!init.module.hasattr("band_mean") || !init.module.hasattr("band_std")) {
    throw ModelError("initial model '" + opts.init_model_path +
                     "' has no band_mean/band_std buffers: not a trainable voxsex architecture");
  }
  const bool fine_head = internal::HasGenderAgeHead(init.module);
  if (fine_head && d.groups_path.empty()) {
    throw ConfigError("initial model '" + opts.init_model_path +
                      "' classifies gender x age group: it needs --groups (a table with id and "
                      "age_group columns)");
  }
  const MelOptions mel = init.card.front_end;
  spdlog::info("front end: {}", mel.ToString());
  init.card.vad = opts.vad;
  init.card.calibration.reset();

  // 2. Targets, the validation split, and the examples.
  std::string val_targets_path, val_audio_dir;
  const auto [train_targets, val_targets] =
      ReadSplits(d, opts.optimiser.seed, &val_targets_path, &val_audio_dir);
  const VadOptions* dropping = opts.vad.drop_non_speech ? &opts.vad : nullptr;
  internal::Loaded<internal::Example> train_loaded =
      internal::LoadExamples(d.targets_path, train_targets, d.audio_dir, mel, d.max_train_file_s,
                             threads, d.strict, dropping);
  std::vector<internal::Example>& train = train_loaded.items;
  long num_skipped = train_loaded.num_skipped;
  ModelOptions val_model;
  val_model.num_threads = opts.num_threads;
  const Classifier reader(GenderModel::Wrap(init, val_model, opts.init_model_path),
                          ClassifierOptions{val_model});
  std::vector<internal::ValidationFile> val;
  if (!val_targets.empty()) {
    auto loaded = internal::LoadValidation(val_targets_path, val_targets, val_audio_dir, reader,
                                           threads, d.strict);
    val = std::move(loaded.items);
    num_skipped += loaded.num_skipped;
    internal::WarnSharedAudio(train, val);
  }
  if (fine_head || d.child_weight != 1.0 || opts.examples.child_augment_scale != 1.0 ||
      opts.examples.child_speed_scale != 1.0) {
    ReadAgeGroups(train, d, fine_head);
  }
  if (d.max_files_per_speaker > 0) {
    const auto speaker_of = internal::ReadGroupsColumn(d.groups_path, "speaker", "--groups");
    for (auto& ex : train) {
      const auto it = speaker_of.find(ex.id);
      if (it == speaker_of.end()) {
        throw FormatError(d.groups_path + ": training file '" + ex.id +
                          "' has no speaker (--max-files-per-speaker)");
      }
      ex.speaker = it->second;
    }
  }
  long counts[2] = {0, 0};
  for (const auto& ex : train) counts[ex.gender]++;
  spdlog::info("loaded {} training files ({} male, {} female), {} validation files in {:.1f} s",
               train.size(), counts[0], counts[1], val.size(), Seconds(t0));
  if (counts[0] == 0 || counts[1] == 0) {
    throw ConfigError(d.targets_path + ": training needs files of both classes");
  }

  // 3. Normalisation and class weights. band_mean also fills SpecAugment's masks, in every
  // normalisation mode; the model's buffers get the statistics only with feature_norm "global".
  const auto [band_mean, band_std] = internal::BandStatistics(train);
  const bool norm = opts.feature_norm != "none";
  const torch::Tensor model_mean = norm ? band_mean : torch::zeros_like(band_mean);
  const torch::Tensor model_std = norm ? band_std : torch::ones_like(band_std);
  // Inverse-frequency class weights: the loss treats both classes equally (balanced accuracy).
  const double n = static_cast<double>(train.size());
  const auto class_weight =
      torch::tensor({n / (2.0 * counts[0]), n / (2.0 * counts[1])}, torch::kFloat32);
  spdlog::info("{}", opts.examples.augment.ToString());
  spdlog::info("{}", opts.vad.ToString());
  std::vector<std::vector<float>> noise;
  if (!d.noise_dir.empty()) {
    noise = internal::LoadNoise(d.noise_dir, mel);
    spdlog::info("recorded noise: {} clips from '{}'", noise.size(), d.noise_dir);
  }
  internal::BatchMaker batches(opts.examples, opts.vad, mel, train, band_mean, threads, noise);

  // 4. Each network, validated as predict scores it.
  std::vector<torch::jit::Module> networks;
  json members_json = json::array();
  TrainResult result;
  result.num_train_files = static_cast<long>(train.size());
  result.num_val_files = static_cast<long>(val.size());
  result.num_skipped_files = num_skipped;
  for (int k = 0; k < opts.ensemble; ++k) {
    // A fresh load rather than Module::clone(): cloned parameters are not leaves of the graph.
    internal::LoadedModule member = internal::LoadModule(opts.init_model_path);
    member.card = init.card;
    {
      torch::NoGradGuard g;
      member.module.attr("band_mean").toTensor().copy_(model_mean);
      member.module.attr("band_std").toTensor().copy_(model_std);
    }
    const std::uint64_t seed = opts.optimiser.seed + static_cast<std::uint64_t>(k);
    const std::string tag =
        opts.ensemble > 1 ? fmt::format("member {}/{} (seed {}): ", k + 1, opts.ensemble, seed) : "";
    const internal::Validator validator(member, val, val_model);
    const internal::MemberResult r =
        internal::TrainMember(member.module, train, validator, opts, batches, class_weight, seed,
                              k + 1, tag, internal::CheckpointDir(opts.out_path), opts.ToString());
    json mj = {{"seed", seed}, {"best_epoch", r.best_epoch}, {"history", r.history}};
    if (!val.empty()) mj["validation"] = MetricsJson(r.best_val);
    members_json.push_back(mj);
    result.best_epoch = r.best_epoch;
    result.best_val_balanced_accuracy = r.best_val.balanced_accuracy;
    result.best_val_accuracy = r.best_val.accuracy;
    networks.push_back(member.module);
  }

  // 5. The model, scored and calibrated on validation as predict will run it.
  internal::LoadedModule model{networks.size() == 1 ? networks[0] : internal::EnsembleOf(networks),
                               init.card, ""};
  BinaryMetrics val_metrics;
  if (!val.empty()) {
    const internal::Validator validator(model, val, val_model);
    const std::vector<Prediction> preds = validator.Predict();
    std::vector<int> predicted;
    for (const auto& p : preds) predicted.push_back(p.gender());
    val_metrics = ComputeMetrics(validator.Truth(), predicted);
    result.best_val_balanced_accuracy = val_metrics.balanced_accuracy;
    result.best_val_accuracy = val_metrics.accuracy;
    result.temperature = internal::FitTemperature(preds, validator.Truth());
    if (networks.size() > 1) {
      spdlog::info("ensemble of {}: val acc {:.2f}%  val bal acc {:.2f}%", networks.size(),
                   100 * val_metrics.accuracy, 100 * val_metrics.balanced_accuracy);
    }
  }
  result.seconds = Seconds(t0);

  // 6. The card and the files.
  ModelCard& card = model.card;
  card.trained = true;
  card.voxsex_version = VOXSEX_VERSION;
  if (networks.size() > 1) {
    card.architecture = fmt::format("ensemble of {} x {}", networks.size(),
                                    init.card.architecture.empty() ? "unknown" : init.card.architecture);
    card.parameters = internal::CountParameters(model.module);
  }
  const ExampleOptions& ex = opts.examples;
  const OptimiserOptions& o = opts.optimiser;
  card.training = {
      {"date_utc", UtcNow()},
      {"targets", d.targets_path},
      {"val_targets", val_targets_path},
      {"groups", d.groups_path},
      {"noise_dir", d.noise_dir},
      {"max_files_per_speaker", d.max_files_per_speaker},
      {"child_weight", d.child_weight},
      {"train_files", result.num_train_files},
      {"train_male", counts[0]},
      {"train_female", counts[1]},
      {"val_files", result.num_val_files},
      {"epochs", o.epochs},
      {"batch_size", o.batch_size},
      {"lr", o.lr},
      {"weight_decay", o.weight_decay},
      {"seed", o.seed},
      {"ensemble", opts.ensemble},
      {"threads", threads},
      {"crop_s", {ex.crop_min_s, ex.crop_max_s}},
      {"gain_db", ex.augment.gain_db},
      {"augment", AugmentJson(ex.augment)},
      {"child_augment_scale", ex.child_augment_scale},
      {"child_speed_scale", ex.child_speed_scale},
      {"vad", opts.vad.drop_non_speech},
      {"spec_augment", {{"freq_masks", ex.freq_masks}, {"freq_mask_bands", ex.freq_mask_bands},
                        {"time_masks", ex.time_masks}, {"time_mask_ratio", ex.time_mask_ratio}}},
      {"ema_decay", o.ema_decay},
      {"feature_norm", opts.feature_norm},
      {"seconds", result.seconds},
      {"members", members_json}};
  if (!val.empty()) card.metrics = {{"validation", MetricsJson(val_metrics)}};
  // Predict divides the logits by this temperature (Guo et al., ICML 2017), fitted on validation.
  card.calibration = ModelCalibration{result.temperature, val.empty() ? "" : val_targets_path};
  // The model and its log replace the old ones together, atomically: a run killed at any moment
  // leaves both as they were or both whole.
  const std::string log_path = TrainingLogPath(opts.out_path);
  WriteFilesAtomic({{log_path, TrainingLogTsv(members_json)},
                    {opts.out_path, internal::SerializeModule(model.module, card, opts.out_path)}});
  spdlog::info("wrote per-epoch log {}", log_path);
  std::error_code ec;
  fs::remove_all(internal::CheckpointDir(opts.out_path), ec);  // the run is complete
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

AugmentOptions ExampleOptions::ChildAugment() const {
  AugmentOptions child = ScaleProbabilities(augment, child_augment_scale);
  child.speed_prob *= child_speed_scale;
  return child;
}

void TrainOptions::Validate() const {
  const TrainDataOptions& d = data;
  const OptimiserOptions& o = optimiser;
  const ExampleOptions& e = examples;
  if (d.targets_path.empty()) throw ConfigError("--targets is required");
  if (out_path.empty()) throw ConfigError("--out is required");
  if (init_model_path.empty()) throw ConfigError("no initial model (--init)");
  if (o.epochs < 1) throw ConfigError("--epochs must be >= 1");
  if (o.batch_size < 2) throw ConfigError("--batch-size must be >= 2 (batch normalisation)");
  if (!(o.lr > 0 && o.lr < 1)) throw ConfigError("--lr must be in (0, 1)");
  if (!(o.weight_decay >= 0)) throw ConfigError("--weight-decay must be >= 0");
  if (!(o.ema_decay >= 0 && o.ema_decay < 1)) throw ConfigError("--ema-decay must be in [0, 1)");
  if (num_threads < 0) throw ConfigError("--threads must be >= 0");
  if (!(e.crop_min_s > 0 && e.crop_max_s >= e.crop_min_s)) {
    throw ConfigError("crop lengths must satisfy 0 < crop_min_s <= crop_max_s");
  }
  if (!(e.augment.gain_db >= 0 && e.augment.gain_db <= 60)) {
    throw ConfigError("--gain-db must be in [0, 60]");
  }
  if (!(d.max_train_file_s >= e.crop_max_s)) {
    throw ConfigError("--crop-max must be <= " + std::to_string(d.max_train_file_s) +
                      " s (training clips are cut to that length)");
  }
  if (e.freq_masks < 0 || e.time_masks < 0) throw ConfigError("mask counts must be >= 0");
  if (e.freq_mask_bands < 0 || e.freq_mask_bands > 32) {
    throw ConfigError("--freq-mask-bands must be in [0, 32]");
  }
  if (!(e.time_mask_ratio >= 0 && e.time_mask_ratio <= 0.5)) {
    throw ConfigError("--time-mask-ratio must be in [0, 0.5]");
  }
  if (ensemble < 1 || ensemble > 16) throw ConfigError("--ensemble must be in [1, 16]");
  if (feature_norm != "global" && feature_norm != "none") {
    throw ConfigError("--feature-norm must be 'global' or 'none'");
  }
  if (!(d.val_fraction > 0 && d.val_fraction <= 0.5)) {
    throw ConfigError("--val-fraction must be in (0, 0.5]");
  }
  if (!(d.child_weight > 0 && d.child_weight <= 100)) {
    throw ConfigError("--child-weight must be in (0, 100]");
  }
  if (d.max_files_per_speaker < 0) throw ConfigError("--max-files-per-speaker must be >= 0");
  if (d.max_files_per_speaker > 0 && d.groups_path.empty()) {
    throw ConfigError("--max-files-per-speaker needs --groups (a table with id and speaker columns)");
  }
  if (!(e.child_augment_scale >= 0 && e.child_augment_scale <= 1)) {
    throw ConfigError("--child-augment-scale must be in [0, 1]");
  }
  if (e.child_augment_scale != 1.0 && d.groups_path.empty()) {
    throw ConfigError("--child-augment-scale needs --groups (a table with id and age_group columns)");
  }
  if (!(e.child_speed_scale >= 0 && e.child_speed_scale <= 1)) {
    throw ConfigError("--child-speed-scale must be in [0, 1]");
  }
  if (e.child_speed_scale != 1.0 && d.groups_path.empty()) {
    throw ConfigError("--child-speed-scale needs --groups (a table with id and age_group columns)");
  }
  if (d.child_weight != 1.0 && d.groups_path.empty()) {
    throw ConfigError("--child-weight needs --groups (a table with id and age_group columns)");
  }
  e.augment.Validate();
  vad.Validate();
}

std::string TrainOptions::ToString() const {
  const TrainDataOptions& d = data;
  const OptimiserOptions& o = optimiser;
  const ExampleOptions& e = examples;
  std::ostringstream s;
  s << "TrainOptions(targets=" << d.targets_path << ", audio_dir=" << d.audio_dir
    << ", val_targets=" << d.val_targets_path << ", groups=" << d.groups_path
    << ", val_fraction=" << d.val_fraction << ", max_files_per_speaker=" << d.max_files_per_speaker
    << ", child_weight=" << d.child_weight
    << ", strict=" << d.strict << ", noise_dir=" << d.noise_dir << ", init=" << init_model_path << ", out=" << out_path
    << ", epochs=" << o.epochs << ", batch_size=" << o.batch_size << ", lr=" << o.lr
    << ", weight_decay=" << o.weight_decay << ", ema_decay=" << o.ema_decay << ", seed=" << o.seed
    << ", ensemble=" << ensemble << ", threads=" << num_threads << ", crop_s=[" << e.crop_min_s
    << ", " << e.crop_max_s << "], freq_masks=" << e.freq_masks << "x" << e.freq_mask_bands
    << ", time_masks=" << e.time_masks << "x" << e.time_mask_ratio
    << ", child_augment_scale=" << e.child_augment_scale
    << ", child_speed_scale=" << e.child_speed_scale
    << ", feature_norm=" << feature_norm << ", " << e.augment.ToString() << ", " << vad.ToString()
    << ")";
  return s.str();
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
