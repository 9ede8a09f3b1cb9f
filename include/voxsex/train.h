// Training a GenderModel with LibTorch from labelled audio.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "voxsex/augment.h"
#include "voxsex/vad.h"

namespace voxsex {

struct TrainOptions {
  std::string targets_path;      // id<TAB>gender
  std::string audio_dir;         // "" = directory of targets_path
  std::string val_targets_path;  // "" = no validation; the last epoch is kept
  std::string val_audio_dir;     // "" = directory of val_targets_path
  // Speaker (group) of each file: a TSV with a header holding `id` and `speaker` columns (e.g.
  // voxsex-data's meta.tsv). Without val_targets_path, about val_fraction of the training speakers
  // are held out as a speaker-disjoint validation set; with it, a speaker found in both sets is
  // warned about. "" = no groups.
  std::string groups_path;
  double val_fraction = 0.1;
  // Loss weight of the training files whose `age_group` in the groups table (groups_path, which
  // then needs that column) is "child"; other files weigh 1. 1 = off. For augmented training,
  // which on dev made the network call boys girls (models/README.md, ablation).
  double child_weight = 1.0;
  // Untrained or pretrained TorchScript model with metadata. One with a gender x age head
  // (scripts/model/export_model.py --head gender_age: fine_logits [batch, 4]) is trained on gender
  // x age group, which needs groups_path with an `age_group` column ("child" or "adult") for every
  // training file; its forward still answers gender.
  std::string init_model_path;
  std::string out_path;          // where the trained TorchScript model is written (atomically)
  int epochs = 30;
  int batch_size = 32;
  double lr = 2e-3;              // AdamW peak learning rate (one-cycle cosine schedule)
  double weight_decay = 1e-2;
  std::uint64_t seed = 1;         // member k of an ensemble uses seed + k
  // Members trained with seeds seed, seed + 1, ...; each keeps its best validation epoch; the
  // saved module averages their logits.
  int ensemble = 1;
  int num_threads = 0;           // 0 = all cores
  double crop_min_s = 1.0;       // random crop length range, seconds
  double crop_max_s = 4.0;
  double gain_db = 12.0;         // random gain in [-gain_db, +gain_db], on the waveform
  // Waveform augmentation of each training crop (include/voxsex/augment.h); augment.gain_db is
  // replaced by gain_db. Off by default: on dev it bought noise robustness for adults at the cost
  // of children and clean accuracy (models/README.md, ablation).
  AugmentOptions augment;
  // Speech-frame selection: training crops are centred on speech frames of the clean audio, and
  // the frames of each (augmented) crop and of each validation file that VadOptions does not call
  // speech are dropped, as predict does with the model's stored "vad" metadata. Off: every frame
  // is used (the model still stores the detector, with drop_non_speech false, for predict's
  // speech_s and no_speech). vad_options.drop_non_speech is replaced by this. Off by default:
  // dropping frames cost accuracy on dev (models/README.md, ablation).
  bool vad = false;
  VadOptions vad_options;
  double max_train_file_s = 30.0;// training clips longer than this are cut to it when loaded
  // SpecAugment (Park et al., 2019): masked cells are set to the band mean (0 after normalisation).
  // Off by default: on dev it did not help (models/README.md, ablation).
  int freq_masks = 0;            // frequency masks per example (0 = off); 2 when tried
  int freq_mask_bands = 8;       // each masks up to this many mel bands
  int time_masks = 0;            // time masks per example (0 = off); 2 when tried
  double time_mask_ratio = 0.1;  // each masks up to this fraction of the crop
  // Feature normalisation stored in the model's band_mean/band_std: "global" = per-band mean and
  // standard deviation over every training frame; "none" = identity (0 and 1).
  std::string feature_norm = "global";
  // Exponential moving average of the weights, evaluated and kept instead of the raw weights
  // (0 = off; 0.995 when tried). Per optimiser step. Off by default: no gain on dev.
  double ema_decay = 0.0;
  // Audio files that cannot be read or used (CheckAudio refuses them) are skipped with a warning;
  // with strict they make Train throw AudioError before training, after all files were tried.
  bool strict = false;

  // Called after every training batch with the examples done so far in this epoch and the
  // epoch's total (done == total at the end of the epoch, before its log line); may be empty.
  std::function<void(int member, int epoch, std::size_t done, std::size_t total)> on_progress;

  // Throws ConfigError when a field is out of range or a required path is empty.
  void Validate() const;
  std::string ToString() const;
};

// Summary of a finished training run.
struct TrainResult {
  int best_epoch = 0;                       // of the last member trained
  double temperature = 1.0;                 // calibration fitted on the validation set (1 without)
  double best_val_balanced_accuracy = 0.0;  // of the saved model (the ensemble, if any)
  double best_val_accuracy = 0.0;
  double seconds = 0.0;
  long num_train_files = 0;
  long num_val_files = 0;
  long num_skipped_files = 0;  // training and validation files skipped as unusable
};

// Files whose decoded audio is identical in training and validation are warned about (a
// validation score on them measures memory, not generalisation).
// Trains and writes opts.out_path and its per-epoch log (<out stem>.training.tsv) together atomically.
// Throws ConfigError (options), FormatError (targets: malformed line, duplicated id, unknown label,
// an id with no audio file or with two, each naming the file and line), AudioError (opts.strict
// and some audio unusable) or ModelError; a gender x age head without age groups is a ConfigError
// (no groups_path) or FormatError (a training file without age_group "child" or "adult").
TrainResult Train(const TrainOptions& opts);

// Calibrates a trained model on labelled audio (temperature scaling) without changing its weights.
struct CalibrateOptions {
  std::string model_path;    // trained TorchScript model with voxsex metadata
  std::string targets_path;  // id<TAB>gender of held-out files (e.g. the validation split)
  std::string audio_dir;     // "" = directory of targets_path
  std::string out_path;      // where the calibrated model is written (atomically)
  int num_threads = 0;       // 0 = all cores

  // Throws ConfigError when a path is empty or num_threads < 0.
  void Validate() const;
};

// Fits the temperature that minimises the negative log-likelihood of the model's p_female on the
// targets' files (logits as predict computes them, with the model's speech detector), stores it
// as the metadata's "calibration" and, when the metadata has no "vad", adds the default speech
// detector measuring only (drop_non_speech false: the model's input is unchanged). Returns the
// temperature. Throws as Train does (FormatError for the targets, AudioError never: unusable
// files are skipped with a warning, ModelError for the model).
double Calibrate(const CalibrateOptions& opts);

}  // namespace voxsex
