// Training `voxsex segment`'s learned speech detector (SpeechDetector, segment.h) with LibTorch:
// frame-level speech / non-speech on log-mel frames, from conversations with a speech truth
// (scripts/data/make_conversations.py). `voxsex train-vad` runs it; scripts/model/train_vad.sh is
// the recipe of the bundled detector, models/voxsex-vad.pt.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace voxsex {

struct SpeechDetectorTrainOptions {
  // Directories of labelled recordings: each holds truth.tsv (a header with `id`, `start_s` and
  // `end_s` columns, one row per stretch of speech, seconds) and, anywhere below it, audio files
  // named <id>.<ext>; every such file (make_conversations.py writes a clean and a telephone copy)
  // is a training recording labelled by its id's rows.
  std::vector<std::string> conversation_dirs;
  // Recorded background noise (e.g. voxsex-data's noise/): every audio file in it of 0.5 s or
  // more. "" = white noise only.
  std::string noise_dir;
  // The untrained detector: a TorchScript module with a `logits` method, log-mel [batch, mels,
  // frames] -> speech logits [batch, frames], and the detector metadata (voxsex_vad.json) whose
  // front end the training features use (scripts/model/train_vad.py --export-untrained).
  std::string init_path;
  std::string out_path;  // the trained detector, written atomically

  int steps = 1500;        // optimiser steps
  int batch_size = 16;     // crops per step
  double crop_s = 8.0;     // crop length, seconds (shorter recordings are zero-padded)
  double lr = 2e-3;        // peak learning rate of the one-cycle schedule
  double weight_decay = 0.01;
  std::uint64_t seed = 1;  // the same seed and thread count give the same weights
  int num_threads = 1;     // LibTorch threads (0 = all cores)
  // Stored in the detector: a frame is speech when its logit is at least this (chosen on dev
  // conversations; the recipe's value is in scripts/model/train_vad.sh).
  double threshold = 0.0;

  // Background under each whole crop: with recorded_noise_prob a recorded clip (white noise when
  // there is none), with white_noise_prob white noise, otherwise none; at a level drawn uniformly
  // between noise_min_db and noise_max_db under speech_level_dbfs (the level make_conversations.py
  // gives its turns). Then a gain drawn uniformly in [gain_min_db, gain_max_db], clamped to [-1, 1].
  double recorded_noise_prob = 0.5;
  double white_noise_prob = 0.2;
  double speech_level_dbfs = -26.0;
  double noise_min_db = 0.0;
  double noise_max_db = 40.0;
  double gain_min_db = -20.0;
  double gain_max_db = 10.0;

  // Throws ConfigError when a field is out of range or a required path is empty.
  void Validate() const;
  std::string ToString() const;
};

struct SpeechDetectorTrainResult {
  int num_recordings = 0;
  double hours = 0.0;         // of the recordings
  int num_noise_clips = 0;
  double speech_fraction = 0.0;  // of the recordings' frames, by the truth
  double last_loss = 0.0;     // of the last step
  double seconds = 0.0;
};

// Trains the detector: each step draws batch_size recordings and a random crop of each (uniformly),
// adds background noise and gain (above), computes log-mel frames with the C++ front end
// (MelFrontend, the options of the init file's metadata) and takes one AdamW step on the mean
// binary cross-entropy of the frames' logits against the truth (a frame is speech when its start,
// t * hop, lies in a truth stretch [start_s, end_s), rounded to the nearest frame as
// round(start_s / frame_s)). Learning rate and beta1 follow PyTorch's OneCycleLR (L. N. Smith and
// N. Topin, "Super-convergence", 2017; torch.optim.lr_scheduler.OneCycleLR defaults: warm-up over
// 10% of the steps from lr / 25, cosine annealing to lr / 25e4, beta1 from 0.95 to 0.85 and back).
// Writes out_path (eval mode) with its metadata: the init's front end, `threshold`, the parameter
// count and these options. Single-threaded runs with the same seed give the same weights.
// Throws ConfigError (options), FormatError (a truth.tsv without its columns, an unreadable time,
// an end before its start, an id without an audio file, no recording at all), AudioError (an audio
// file that cannot be read, naming it), ModelError (init not a detector: no logits method, no or
// bad metadata; a failing forward) or IoError (writing out_path).
SpeechDetectorTrainResult TrainSpeechDetector(const SpeechDetectorTrainOptions& opts);

}  // namespace voxsex
