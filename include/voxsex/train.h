// Training a GenderModel with LibTorch from labelled audio, calibrating one, and combining trained
// models into an ensemble. The pieces live in src/train/: data.cc (targets -> examples), batches.cc
// (random crops, augmentation, log-mel), trainer.cc (the loop of one network), calibration.cc
// (temperature scaling), ensemble.cc, run.cc (Train: the phases in order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "voxsex/augment.h"
#include "voxsex/vad.h"

namespace voxsex {

// What to train on and validate with.
struct TrainDataOptions {
  std::string targets_path;      // id<TAB>gender
  std::string audio_dir;         // "" = directory of targets_path
  std::string val_targets_path;  // "" = no validation (unless groups_path): the last epoch is kept
  std::string val_audio_dir;     // "" = directory of val_targets_path
  // Speaker (group) of each file: a TSV with a header holding `id` and `speaker` columns (e.g.
  // voxsex-data's meta.tsv). Without val_targets_path, about val_fraction of the training speakers
  // are held out as a speaker-disjoint validation set; with it, a speaker found in both sets is
  // warned about. "" = no groups.
  std::string groups_path;
  double val_fraction = 0.1;
  // Speaker-balanced epochs: each epoch draws at most this many files of each speaker (anew every
  // epoch), so speakers with hundreds of files do not dominate; needs groups_path. 0 = every file.
  int max_files_per_speaker = 0;
  // Loss weight of the training files whose `age_group` in the groups table is "child"; other
  // files weigh 1. 1 = off.
  double child_weight = 1.0;
  double max_train_file_s = 30.0;  // training clips longer than this are cut to it when loaded
  // Recorded noise for augmentation (examples.augment.noise_prob): every audio file of this
  // directory (e.g. voxsex-data's noise/), read at the model's rate. "" = none (white, pink and
  // babble only).
  std::string noise_dir;
  // Audio files that cannot be read or used (CheckAudio refuses them) are skipped with a warning;
  // with strict they make Train throw AudioError before training, after all files were tried.
  bool strict = false;
};

// AdamW with linear warm-up and cosine decay, class-weighted cross-entropy.
struct OptimiserOptions {
  int epochs = 30;
  int batch_size = 32;
  double lr = 2e-3;              // peak learning rate
  double weight_decay = 1e-2;
  // Exponential moving average of the weights, evaluated and kept instead of the raw weights
  // (0 = off). Per optimiser step.
  double ema_decay = 0.0;
  std::uint64_t seed = 1;        // member k of an ensemble uses seed + k
};

// How each training example is made from its waveform.
struct ExampleOptions {
  double crop_min_s = 1.0;       // random crop length range, seconds
  double crop_max_s = 4.0;
  // Waveform augmentation of each crop (include/voxsex/augment.h), gain included; the rest is off
  // by default: on dev it bought noise robustness for adults at the cost of children and clean
  // accuracy (models/README.md).
  AugmentOptions augment = DefaultTrainingAugment();
  // Children's crops (age_group 'child' in the groups table) are augmented with every effect's
  // probability of `augment` times this, gain unchanged: 1 = as adults, 0 = gain only. On dev,
  // the augmentation that buys adults their noise robustness cost the children their cues
  // (models/README.md).
  double child_augment_scale = 1.0;
  // Children's crops get speed perturbation with probability augment.speed_prob times
  // child_augment_scale times this (0 = adults only). Speed perturbation moves the formants with
  // the pitch, taking boys' voices into girls' range and back; shifting children's voices cost
  // them their cues on dev (models/README.md, round 4).
  double child_speed_scale = 1.0;

  // The augmentation of children's crops: `augment` with every probability times
  // child_augment_scale and the speed perturbation's also times child_speed_scale. No errors.
  AugmentOptions ChildAugment() const;
  // SpecAugment (Park et al., 2019): masked cells are set to the band mean (0 after normalisation).
  int freq_masks = 0;            // frequency masks per example (0 = off)
  int freq_mask_bands = 8;       // each masks up to this many mel bands
  int time_masks = 0;            // time masks per example (0 = off)
  double time_mask_ratio = 0.1;  // each masks up to this fraction of the crop

  // Gain +-12 dB, every other augmentation off.
  static AugmentOptions DefaultTrainingAugment() {
    AugmentOptions a;
    a.gain_db = 12.0;
    return a;
  }
};

struct TrainOptions {
  TrainDataOptions data;
  OptimiserOptions optimiser;
  ExampleOptions examples;
  // The speech detector stored in the model (predict measures speech_s and no_speech with it).
  // With drop_non_speech, training crops are centred on speech frames of the clean audio and
  // the non-speech frames of each crop and validation block are dropped, as predict then does.
  // Off by default: dropping frames cost accuracy on dev (models/README.md).
  VadOptions vad = DefaultTrainingVad();
  // Untrained or pretrained TorchScript model with a model card. One with a gender x age head
  // (scripts/model/export_model.py --head gender_age) is trained on gender x age group, which needs
  // data.groups_path with an `age_group` column ("child" or "adult") for every training file.
  std::string init_model_path;
  std::string out_path;          // where the trained model is written (atomically)
  // Members trained with seeds seed, seed + 1, ...; each keeps its best validation epoch; the
  // saved module averages their logits.
  int ensemble = 1;
  int num_threads = 0;           // 0 = all cores
  // Continue an interrupted run: the checkpoints in <out_path>.checkpoint/ (written after every
  // epoch, removed once the model is written) of a run with the same options are taken up where
  // they stopped; the result is the uninterrupted run's. Without a checkpoint it starts afresh.
  bool resume = false;
  // Feature normalisation stored in the model's band_mean/band_std: "global" = per-band mean and
  // standard deviation over every training frame; "none" = identity (0 and 1).
  std::string feature_norm = "global";

  // Called after every training batch with the examples done so far in this epoch and the
  // epoch's total (done == total at the end of the epoch, before its log line); may be empty.
  std::function<void(int member, int epoch, std::size_t done, std::size_t total)> on_progress;

  // Throws ConfigError when a field is out of range or a required path is empty.
  void Validate() const;
  std::string ToString() const;

  static VadOptions DefaultTrainingVad() {
    VadOptions v;
    v.drop_non_speech = false;
    return v;
  }
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

// Trains and writes opts.out_path and its per-epoch log (<out stem>.training.tsv) together
// atomically. Validation scores each file as predict does (Classifier, include/voxsex/
// classifier.h): each epoch's validation balanced accuracy, the epoch kept and the calibration
// temperature are those of the model predict ships. Files whose decoded audio is identical in
// training and validation are warned about.
// Throws ConfigError (options), FormatError (targets: malformed line, duplicated id, unknown label,
// an id with no audio file or with two, each naming the file and line), AudioError (strict and
// some audio unusable) or ModelError; a gender x age head without age groups is a ConfigError
// (no groups_path) or FormatError (a training file without age_group "child" or "adult").
TrainResult Train(const TrainOptions& opts);

// Calibrates a trained model on labelled audio (temperature scaling) without changing its weights.
struct CalibrateOptions {
  std::string model_path;    // trained TorchScript model with a model card
  std::string targets_path;  // id<TAB>gender of held-out files (e.g. the validation split)
  std::string audio_dir;     // "" = directory of targets_path
  std::string out_path;      // where the calibrated model is written (atomically)
  int num_threads = 0;       // 0 = all cores

  // Throws ConfigError when a path is empty or num_threads < 0.
  void Validate() const;
};

// Fits the temperature that minimises the negative log-likelihood of the model's p_female on the
// targets' files (logits exactly as predict computes them: Classifier), stores it in the card's
// calibration and, when the card has no speech detector, adds the default one measuring only
// (drop_non_speech false: the model's input is unchanged). Returns the temperature. Throws as
// Train does (FormatError for the targets, ModelError for the model; unusable audio files are
// skipped with a warning).
double Calibrate(const CalibrateOptions& opts);

// Combines trained models into one that averages their networks' logits.
struct EnsembleOptions {
  std::vector<std::string> model_paths;  // two or more networks in all
  std::string out_path;                  // written atomically

  // Throws ConfigError when out_path is empty or no model is given.
  void Validate() const;
};

// Writes a model whose forward averages the logits of every network of the given models (an
// ensemble given is taken apart into its networks), with the first model's card: architecture,
// parameters and ensemble (the sources) updated, training.members listing every network with its
// source, calibration and metrics dropped (fit a temperature for the combination with Calibrate).
// Returns the number of networks. Throws ModelError naming a model that cannot be loaded, or whose
// front end, or speech-frame dropping, differs from the first's (predict feeds every network the
// same frames); ConfigError for fewer than two networks.
int MakeEnsemble(const EnsembleOptions& opts);

}  // namespace voxsex
