#include "cli/train.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/progress.h"
#include "voxsex/error.h"
#include "voxsex/model.h"
#include "voxsex/train_vad.h"

namespace voxsex::cli {

CLI::App* setup_train(CLI::App& app, TrainOptions& o) {
  CLI::App* cmd = app.add_subcommand("train", "Train a model on labelled audio and write TorchScript");
  cmd->add_option("--targets", o.data.targets_path, "Training labels, id<TAB>gender (0 male, 1 female)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--audio-dir", o.data.audio_dir, "Directory of the training audio (default: beside --targets)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--val-targets", o.data.val_targets_path,
                  "Validation labels; the epoch with the best validation balanced accuracy is kept")
      ->check(CLI::ExistingFile);
  cmd->add_option("--val-audio-dir", o.data.val_audio_dir, "Directory of the validation audio (default: beside --val-targets)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--groups", o.data.groups_path,
                  "Speakers: a TSV with a header and 'id' and 'speaker' columns (e.g. meta.tsv). "
                  "Without --val-targets, --val-fraction of the speakers are held out for a "
                  "speaker-disjoint validation set; with it, speakers in both are warned about")
      ->check(CLI::ExistingFile);
  cmd->add_option("--child-weight", o.data.child_weight,
                  "Loss weight of the training files whose age_group in --groups is 'child' "
                  "(1 = off; needs --groups with an age_group column)")
      ->capture_default_str();
  cmd->add_option("--max-files-per-speaker", o.data.max_files_per_speaker,
                  "Speaker-balanced epochs: at most this many files of each speaker per epoch, "
                  "drawn anew each epoch (0 = every file; needs --groups)")
      ->capture_default_str();
  cmd->add_option("--val-fraction", o.data.val_fraction,
                  "With --groups and no --val-targets: fraction of speakers held out")
      ->capture_default_str();
  cmd->add_option("--out", o.out_path, "Output TorchScript model")->required();
  cmd->add_option("--init", o.init_model_path,
                  "Initial TorchScript model with voxsex metadata (default: models/voxsex-untrained.pt). "
                  "One with a gender x age head (scripts/model/export_model.py --head gender_age) is "
                  "trained on gender x age group and needs --groups with an age_group column");
  cmd->add_option("--epochs", o.optimiser.epochs, "Epochs")->capture_default_str();
  cmd->add_option("--batch-size", o.optimiser.batch_size, "Batch size")->capture_default_str();
  cmd->add_option("--lr", o.optimiser.lr, "AdamW peak learning rate (warm-up, then cosine decay)")->capture_default_str();
  cmd->add_option("--weight-decay", o.optimiser.weight_decay, "AdamW weight decay")->capture_default_str();
  cmd->add_option("--seed", o.optimiser.seed, "Random seed (same seed and threads give the same model)")->capture_default_str();
  cmd->add_option("--ensemble", o.ensemble,
                  "Members trained with seeds seed, seed+1, ...; the model averages their logits")
      ->capture_default_str();
  cmd->add_option("--threads", o.num_threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--crop-min", o.examples.crop_min_s, "Shortest random crop, seconds")->capture_default_str();
  cmd->add_option("--crop-max", o.examples.crop_max_s, "Longest random crop, seconds")->capture_default_str();
  cmd->add_option("--gain-db", o.examples.augment.gain_db, "Random gain augmentation range +-dB (0 = off)")->capture_default_str();
  cmd->add_option("--freq-masks", o.examples.freq_masks, "SpecAugment frequency masks per example (0 = off)")->capture_default_str();
  cmd->add_option("--freq-mask-bands", o.examples.freq_mask_bands, "Widest frequency mask, mel bands")->capture_default_str();
  cmd->add_option("--time-masks", o.examples.time_masks, "SpecAugment time masks per example (0 = off)")->capture_default_str();
  cmd->add_option("--time-mask-ratio", o.examples.time_mask_ratio, "Widest time mask, fraction of the crop")->capture_default_str();
  cmd->add_option("--feature-norm", o.feature_norm,
                  "Per-band normalisation stored in the model: global (training-set mean and std) or none")
      ->check(CLI::IsMember({"global", "none"}))
      ->capture_default_str();
  cmd->add_option("--ema-decay", o.optimiser.ema_decay, "Decay of the weight moving average that is evaluated and kept (0 = off)")->capture_default_str();
  auto& a = o.examples.augment;
  cmd->add_option("--noise-prob", a.noise_prob,
                  "Augmentation: probability of additive white, pink or babble noise (0 = off)")
      ->capture_default_str();
  cmd->add_option("--snr-min", a.snr_min_db, "Lowest noise SNR, dB")->capture_default_str();
  cmd->add_option("--snr-max", a.snr_max_db, "Highest noise SNR, dB")->capture_default_str();
  cmd->add_option("--reverb-prob", a.reverb_prob,
                  "Augmentation: probability of a synthetic room impulse response (0 = off)")
      ->capture_default_str();
  cmd->add_option("--rt60-min", a.rt60_min_s, "Shortest RT60 of the room, s")->capture_default_str();
  cmd->add_option("--rt60-max", a.rt60_max_s, "Longest RT60 of the room, s")->capture_default_str();
  cmd->add_option("--telephone-prob", a.telephone_prob,
                  "Augmentation: probability of a telephone channel (300-3400 Hz, 8 kHz u-law)")
      ->capture_default_str();
  cmd->add_option("--codec-prob", a.codec_prob,
                  "Augmentation: probability of a lossy codec round trip (Ogg Opus or MP3)")
      ->capture_default_str();
  cmd->add_option("--codec-level-min", a.codec_min_level,
                  "Lowest codec compression level (libsndfile's, 0 = best quality, 1 = smallest)")
      ->capture_default_str();
  cmd->add_option("--codec-level-max", a.codec_max_level, "Highest codec compression level")
      ->capture_default_str();
  cmd->add_option("--clip-prob", a.clip_prob,
                  "Augmentation: probability of hard clipping after a 3-24 dB gain")
      ->capture_default_str();
  cmd->add_option("--speed-prob", a.speed_prob,
                  "Augmentation: probability of speed perturbation (tempo and pitch)")
      ->capture_default_str();
  cmd->add_option("--speed-range", a.speed_range, "Speed factors drawn in 1 +- this")
      ->capture_default_str();
  cmd->add_option("--noise-dir", o.data.noise_dir,
                  "Augmentation: recorded noise clips (every audio file of this directory, e.g. "
                  "voxsex-data/noise), a fourth kind of --noise-prob noise")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--pitch-prob", a.pitch_prob,
                  "Augmentation: probability of a formant-preserving pitch shift (LPC)")
      ->capture_default_str();
  cmd->add_option("--pitch-semitones", a.pitch_semitones, "Pitch shifts drawn in +- this")
      ->capture_default_str();
  cmd->add_option("--tilt-prob", a.tilt_prob,
                  "Augmentation: probability of a spectral tilt (vocal effort)")
      ->capture_default_str();
  cmd->add_option("--tilt-max", a.tilt_max, "Tilt coefficients drawn in +- this (< 1)")
      ->capture_default_str();
  cmd->add_option("--child-augment-scale", o.examples.child_augment_scale,
                  "Children's crops (age_group 'child' in --groups) are augmented with every "
                  "effect's probability times this, gain unchanged (1 = as adults, 0 = gain only)")
      ->capture_default_str();
  cmd->add_option("--child-speed-scale", o.examples.child_speed_scale,
                  "Children's crops get speed perturbation with --speed-prob times "
                  "--child-augment-scale times this (0 = adults only)")
      ->capture_default_str();
  cmd->add_option("--vad", o.vad.drop_non_speech,
                  "Drop non-speech frames (energy VAD, stored in the model for predict): 1 or 0")
      ->capture_default_str();
  cmd->add_flag("--resume", o.resume,
                "Continue an interrupted run from its last epoch (checkpoints in OUT.checkpoint/, "
                "written after every epoch); the same options give the uninterrupted run's model");
  cmd->add_flag("--strict", o.data.strict,
                "Fail (exit status 1, nothing written) when an audio file cannot be read or used, "
                "instead of skipping it with a warning");
  cmd->footer(
      "Targets files: id<TAB>gender lines (0 male, 1 female); CRLF line ends, a UTF-8 BOM,\n"
      "trailing whitespace, blank lines and a header line 'id<TAB>gender' are accepted. A\n"
      "malformed line, a duplicated id, another label or an id without exactly one audio file\n"
      "is an error naming the file and line (exit status 2).\n"
      "Exit status: 0 trained and written; 1 some audio files were skipped as unusable (model\n"
      "written) or, with --strict, nothing written; 2 usage, targets, model or output error.\n\n"
      "Example:\n  voxsex train --targets data/train/targets.tsv --val-targets data/dev/targets.tsv "
      "--out my.pt");
  return cmd;
}

CLI::App* setup_calibrate(CLI::App& app, CalibrateOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "calibrate", "Fit a trained model's calibration temperature on labelled audio (weights unchanged)");
  cmd->add_option("--model", o.model_path, "Trained TorchScript model")->required()->check(CLI::ExistingFile);
  cmd->add_option("--targets", o.targets_path, "Held-out labels, id<TAB>gender")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--audio-dir", o.audio_dir, "Directory of the audio (default: beside --targets)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", o.out_path, "Output model")->required();
  cmd->add_option("--threads", o.num_threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->footer(
      "Temperature scaling (Guo et al., ICML 2017): p_female = softmax(logits / T) with the T that\n"
      "minimises the negative log-likelihood on the targets' files. A model without a speech\n"
      "detector gets the default one, measuring only (its input is unchanged).\n"
      "Example:\n  voxsex calibrate --model my.pt --targets data/dev/targets.tsv --out my-calibrated.pt");
  return cmd;
}

int run_calibrate(const CalibrateOptions& opts) {
  try {
    Calibrate(opts);
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  return 0;
}

CLI::App* setup_ensemble(CLI::App& app, EnsembleOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "ensemble", "Combine trained models into one model that averages their networks' logits");
  cmd->add_option("MODELS", o.model_paths, "Trained models (an ensemble is taken apart into its "
                                           "networks); two or more networks in all")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", o.out_path, "Output model")->required();
  cmd->footer(
      "The models must share the front end and speech-frame dropping. The output keeps the first\n"
      "model's card, lists every network's training, and has no calibration: fit one with\n"
      "voxsex calibrate. Exit status: 0 written; 2 usage or model error (nothing written).\n"
      "Example:\n  voxsex ensemble a.pt b.pt c.pt --out abc.pt\n"
      "  voxsex calibrate --model abc.pt --targets data/dev/targets.tsv --out abc.pt");
  return cmd;
}

int run_ensemble(const EnsembleOptions& opts) {
  try {
    MakeEnsemble(opts);
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  return 0;
}

CLI::App* setup_train_vad(CLI::App& app, SpeechDetectorTrainOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "train-vad", "Train segment's speech detector on conversations with a speech truth");
  cmd->add_option("--conversations", o.conversation_dirs,
                  "Directories each with truth.tsv (id, start_s, end_s: the speech) and audio files "
                  "<id>.<ext> below it (scripts/data/make_conversations.py)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--noise-dir", o.noise_dir,
                  "Recorded background noise (every audio file of 0.5 s or more; e.g. voxsex-data/noise)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--init", o.init_path,
                  "Initial detector (default: models/voxsex-vad-untrained.pt, written by "
                  "scripts/model/train_vad.py --export-untrained --seed 1)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", o.out_path, "Output detector (TorchScript)")->required();
  cmd->add_option("--steps", o.steps, "Optimiser steps")->capture_default_str();
  cmd->add_option("--batch-size", o.batch_size, "Crops per step")->capture_default_str();
  cmd->add_option("--crop", o.crop_s, "Crop length, seconds")->capture_default_str();
  cmd->add_option("--lr", o.lr, "AdamW peak learning rate (one-cycle schedule)")->capture_default_str();
  cmd->add_option("--weight-decay", o.weight_decay, "AdamW weight decay")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Random seed (same seed and threads give the same detector)")
      ->capture_default_str();
  cmd->add_option("--threads", o.num_threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--threshold", o.threshold,
                  "Speech logit threshold stored in the detector (choose it on dev conversations)")
      ->capture_default_str();
  cmd->add_option("--recorded-noise-prob", o.recorded_noise_prob,
                  "Probability of recorded noise under a crop")->capture_default_str();
  cmd->add_option("--white-noise-prob", o.white_noise_prob,
                  "Probability of white noise under a crop")->capture_default_str();
  cmd->add_option("--noise-min-db", o.noise_min_db,
                  "Background at least this many dB under the speech level (-26 dBFS)")->capture_default_str();
  cmd->add_option("--noise-max-db", o.noise_max_db, "... and at most this many")->capture_default_str();
  cmd->footer(
      "Exit status: 0 trained and written; 2 usage, truth, audio, model or output error (nothing\n"
      "written).\n"
      "Example (scripts/model/train_vad.sh):\n"
      "  voxsex train-vad --conversations conv/ --noise-dir data/noise --out vad.pt --threshold 2.5");
  return cmd;
}

int run_train_vad(const SpeechDetectorTrainOptions& opts) {
  SpeechDetectorTrainOptions o = opts;
  if (o.init_path.empty()) {
    o.init_path = FindBundledModel("voxsex-vad-untrained.pt");
    if (o.init_path.empty()) {
      spdlog::error("no bundled untrained speech detector (voxsex-vad-untrained.pt) was found: "
                    "give --init");
      return 2;
    }
  }
  try {
    TrainSpeechDetector(o);
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const std::exception& e) {
    spdlog::error("training failed: {}", e.what());
    return 2;
  }
  return 0;
}

int run_train(const TrainOptions& opts) {
  TrainOptions o = opts;
  if (o.init_model_path.empty()) {
    o.init_model_path = FindBundledModel("voxsex-untrained.pt");
  }
  // Progress within each epoch as a bar when stderr is a terminal; otherwise the one log line per
  // epoch is the periodic report.
  std::unique_ptr<ProgressReporter> progress;
  if (::isatty(STDERR_FILENO) == 1) {
    o.on_progress = [&progress](int, int, std::size_t done, std::size_t total) {
      if (!progress) progress = std::make_unique<ProgressReporter>(total, "examples");
      progress->Add(done - progress->done());
      if (done >= total) {
        progress->Finish();
        progress.reset();
      }
    };
  }
  try {
    const TrainResult result = Train(o);
    if (result.num_skipped_files > 0) {
      spdlog::warn("{} audio files were skipped (see the warnings above); exit status 1",
                   result.num_skipped_files);
      return 1;
    }
  } catch (const AudioError& e) {  // --strict: unusable audio files, each logged above
    spdlog::error("{}", e.what());
    return 1;
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const std::exception& e) {  // e.g. std::bad_alloc: still a clean exit status
    spdlog::error("training failed: {}", e.what());
    return 2;
  }
  return 0;
}

}  // namespace voxsex::cli
