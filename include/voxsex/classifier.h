// From an audio file to its answer: the one implementation of voxsex's per-file inference, used by
// `predict`, `calibrate` and training validation alike, so that what training selects and
// calibration fits is what predict ships.
//
// A file is read in blocks of one model window (ModelOptions::max_window_s; 1,000 frames of 10 ms
// for the bundled model), each block through its own log-mel front end and the model (GenderModel,
// which applies the model's speech detector), and the blocks' logits are averaged (BlockVotes):
// blocks with speech weigh by their seconds of speech; blocks without vote, by their length, only
// when no block of the file has speech. The calibration temperature divides the averaged logits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "voxsex/audio.h"
#include "voxsex/mel.h"
#include "voxsex/model.h"

namespace voxsex {

struct ClassifierOptions {
  ModelOptions model;             // threads, batch size, window length, device
  // Longest file classified: reading streams, so memory does not grow with the length; the limit
  // only stops a runaway stream.
  double max_file_duration_s = 24.0 * 3600.0;
  // Files per chunk of ClassifyFiles: read and front end in parallel, then batched inference.
  int files_per_chunk = 64;
  // Blocks of features a file holds before they are classified (memory per file is bounded by
  // max_pending_blocks model windows whatever its length).
  int max_pending_blocks = 4;
  // ClassifyFiles stops at the first file that fails (the rest of its chunk may be unread).
  bool fail_fast = false;

  // Throws ConfigError when a field is out of range.
  void Validate() const;
  std::string ToString() const;
};

// A file's logits accumulated over its blocks. Add each block's Prediction (GenderModel::Predict
// of that block) with the block's frame count; Result gives the file's Prediction.
class BlockVotes {
 public:
  // `frame_s`: seconds per frame (hop_length / sample_rate_hz of the model's front end).
  explicit BlockVotes(double frame_s) : frame_s_(frame_s) {}
  void Add(const Prediction& block, int block_frames);
  bool empty() const { return speech_frames_ <= 0.0 && other_frames_ <= 0.0; }
  // The file's averaged logits; p_female = sigmoid((logit_female - logit_male) / temperature);
  // speech_s = the speech seconds of the voting blocks (0 with no_speech). Call when !empty().
  Prediction Result(double temperature) const;

 private:
  double frame_s_;
  double speech_[2] = {0.0, 0.0};
  double speech_frames_ = 0.0;
  double other_[2] = {0.0, 0.0};
  double other_frames_ = 0.0;
};

// The features of one file as the classifier reads them: log-mel blocks [<= window frames x
// num_mels] of consecutive samples, and what CheckAudio said of the whole file.
struct FileFeatures {
  std::vector<LogMel> blocks;
  double duration_s = 0.0;
  AudioCheck check;  // check.refusal non-empty: the file cannot be classified
  std::uint64_t audio_hash = 0;  // FNV-1a 64 of the decoded samples' bytes (float, model rate)
};

// One file's outcome.
struct FileResult {
  std::string path;
  std::string id;          // the file name without extension
  std::string error;       // non-empty: failed; the message names the file and the reason
  int gender = -1;         // 0 male, 1 female; -1 until classified
  Prediction prediction;   // logits, calibrated p_female, speech_s, no_speech (once classified)
  double duration_s = 0.0;
  // no_speech (first, when no block had speech), then CheckAudio's flags; empty for none.
  std::vector<std::string> flags;

  bool classified() const { return gender >= 0; }
};

// Progress and failure reports of ClassifyFiles, called from the calling thread; either may be
// empty. on_read is called once per file when it was read (or failed to be), on_failure once per
// failed file, in path order within each chunk.
struct ClassifyHooks {
  std::function<void()> on_read;
  std::function<void(const FileResult&)> on_failure;
};

// A GenderModel with the block reading, block voting and calibration around it.
// Thread-safety: Features may be called from several threads at once (each call with its own
// MelFrontend); Score, Classify and ClassifyFiles use the model from one thread at a time.
class Classifier {
 public:
  // Loads the model at `model_path` (GenderModel::Load). Throws ConfigError for invalid options,
  // ModelError for the model.
  static Classifier Load(const std::string& model_path, const ClassifierOptions& opts = {});
  // Wraps a loaded model.
  Classifier(GenderModel model, const ClassifierOptions& opts);
  Classifier(Classifier&&) noexcept;
  Classifier& operator=(Classifier&&) noexcept;
  ~Classifier();

  const GenderModel& model() const;

  // Reads `path` and computes its blocks' log-mel with `frontend` (the model's front end options;
  // one per thread). A block holds (window frames - 1) * hop_length samples, so that its log-mel
  // has exactly one model window of frames (NumFrames = 1 + samples / hop_length); the last may be
  // shorter. Holds every block: for files of bounded length (training and validation
  // sets); ClassifyFiles streams instead. Throws AudioError naming the file when it cannot be
  // read; a file CheckAudio refuses is returned with check.refusal set.
  FileFeatures Features(const std::string& path, MelFrontend& frontend) const;

  // Each file's prediction from its features (blocks batched across files). Throws ModelError
  // when the model fails, ConfigError when a file has no blocks.
  std::vector<Prediction> Score(const std::vector<const FileFeatures*>& files) const;

  // Reads and classifies one file. Never throws for the file's own faults: they are in error.
  FileResult Classify(const std::string& path) const;

  // Classifies every file of `files` whose error is empty on entry (path and id set by the
  // caller, e.g. ListAudioFiles), filling gender, prediction, duration_s and flags, or error. Every
  // failure, those set on entry included, is reported once (hooks.on_failure) with an error that
  // names the file.
  // Files are read and run through the front end on ModelOptions::num_threads threads, in chunks
  // of files_per_chunk, then classified in batches; a long file's blocks are classified as they
  // come. When the model fails on a batch, its files are retried one by one, so only the files it
  // cannot take fail. Returns the number of files the model failed on. Throws ConfigError when
  // the front end cannot be built (nothing classified).
  long ClassifyFiles(std::vector<FileResult>& files, const ClassifyHooks& hooks = {}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace voxsex
