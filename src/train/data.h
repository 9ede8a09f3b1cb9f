// Training data: targets -> labelled examples (src/train/data.cc). Internal to the library.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "voxsex/classifier.h"
#include "voxsex/mel.h"
#include "voxsex/tsv.h"
#include "voxsex/vad.h"

namespace voxsex::internal {

// One labelled training file: its waveform, the log-mel [num_mels, num_frames] of its speech
// frames (every frame without a dropping VAD) for the band statistics, and the indices of its
// speech frames (empty when the VAD does not drop frames or found none).
struct Example {
  std::string id;
  int gender = 0;
  std::string speaker;             // from the groups table, when speaker-balanced epochs need it
  std::uint64_t audio_hash = 0;    // FNV-1a 64 of the decoded samples' bytes
  torch::Tensor features;
  std::vector<float> samples;      // mono, at the front end's rate
  std::vector<int> speech_frames;
  float loss_weight = 1.0f;        // TrainDataOptions::child_weight for children, else 1
  bool child = false;              // age_group "child" in the groups table (read when needed)
};

// One labelled validation file, as the Classifier reads it.
struct ValidationFile {
  std::string id;
  int gender = 0;
  std::uint64_t audio_hash = 0;
  FileFeatures features;
};

// What a load kept, and how many of the targets' files were skipped as unusable.
template <typename T>
struct Loaded {
  std::vector<T> items;
  long num_skipped = 0;
};

// Training examples of `targets` (read from `targets_path`, named in messages), their audio in
// `audio_dir` ("" = beside the targets), cut to max_file_s, on `num_threads` threads; with `vad`
// only its speech frames count. A target whose id has no audio file, or two, is a FormatError
// naming the targets line. Files that cannot be read, or that CheckAudio refuses, are skipped with
// a warning each and a count; with `strict` they are an AudioError instead, after all were tried.
// No usable file at all is a FormatError.
Loaded<Example> LoadExamples(const std::string& targets_path, const std::vector<Target>& targets,
                             const std::string& audio_dir, const MelOptions& mel,
                             double max_file_s, int num_threads, bool strict,
                             const VadOptions* vad);

// Validation (or calibration) files, read by `classifier` (Classifier::Features, whole files), with
// the same errors and skipping as LoadExamples.
Loaded<ValidationFile> LoadValidation(const std::string& targets_path,
                                      const std::vector<Target>& targets,
                                      const std::string& audio_dir, const Classifier& classifier,
                                      int num_threads, bool strict);

// Every audio file of `dir` (HasAudioExtension), sorted by path, read at the front end's rate:
// recorded noise for augmentation. Throws IoError when the directory cannot be listed, AudioError
// naming a file that cannot be read, FormatError when there is no audio file.
std::vector<std::vector<float>> LoadNoise(const std::string& dir, const MelOptions& mel);

// Maps each id of a groups table (a TSV with a header) to its value in `column`. Throws
// FormatError "<path>: <option> needs a header with 'id' and '<column>' columns" when either
// column is missing.
std::map<std::string, std::string> ReadGroupsColumn(const std::string& path, const char* column,
                                                    const char* option);

// Splits `targets` by speaker into (training, validation): the speakers are ordered by the FNV-1a
// hash of "seed/speaker" and the first round(fraction * speakers) of them (at least one, never
// all) go to validation. A target without a speaker in `speaker_of` is a FormatError naming the
// targets line.
std::pair<std::vector<Target>, std::vector<Target>> SplitBySpeaker(
    const std::vector<Target>& targets, const std::map<std::string, std::string>& speaker_of,
    const std::string& targets_path, const std::string& groups_path, double fraction,
    std::uint64_t seed);

// Warns about validation files whose decoded audio also appears in training.
void WarnSharedAudio(const std::vector<Example>& train, const std::vector<ValidationFile>& val);

// Warns about speakers (speaker_of) found in both training and validation.
void WarnSharedSpeakers(const std::vector<Target>& train, const std::vector<Target>& val,
                        const std::map<std::string, std::string>& speaker_of);

}  // namespace voxsex::internal
