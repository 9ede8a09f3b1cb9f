#include "train/data.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "hash.h"
#include "model_internal.h"
#include "voxsex/audio.h"
#include "voxsex/error.h"

namespace voxsex::internal {
namespace {

namespace fs = std::filesystem;

// Maps id -> the audio files in `dir` with that id (file name without extension).
std::map<std::string, std::vector<std::string>> IndexAudioDir(const std::string& dir) {
  std::map<std::string, std::vector<std::string>> index;
  std::error_code ec;
  const auto fail = [&dir](const std::error_code& e) {
    throw IoError("cannot list audio directory '" + dir + "': " + e.message());
  };
  fs::directory_iterator it(dir, ec);
  if (ec) fail(ec);
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) fail(ec);
    const std::string path = it->path().string();
    std::error_code type_ec;
    if (!HasAudioExtension(path) || it->is_directory(type_ec)) continue;
    index[it->path().stem().string()].push_back(path);
  }
  if (ec) fail(ec);
  return index;
}

// The audio file of each target in `audio_dir` ("" = beside the targets). A target whose id has
// no audio file, or two, is a FormatError naming the targets line.
std::vector<std::string> AudioPaths(const std::string& targets_path,
                                    const std::vector<Target>& targets, std::string audio_dir) {
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
  return paths;
}

// Runs load(i, worker_state) for every i < n on `num_threads` threads, each with its own state
// made by make_state(); collects each file's error (an exception, or the message load returns)
// and keeps the items that loaded. Logs and counts the failures; with `strict` they are an
// AudioError after all were tried. No item at all is a FormatError.
template <typename T, typename MakeState, typename Load>
Loaded<T> LoadAll(const std::string& targets_path, std::size_t n, int num_threads, bool strict,
                  MakeState make_state, Load load) {
  std::vector<T> items(n);
  std::vector<std::string> errors(n);
  std::atomic<std::size_t> next{0};
  auto work = [&]() noexcept {
    try {
      auto state = make_state();
      for (std::size_t i = next++; i < n; i = next++) {
        try {
          errors[i] = load(i, state, items[i]);
        } catch (const std::exception& e) {  // voxsex::Error, or bad_alloc on a huge file
          errors[i] = e.what();
        }
      }
    } catch (const std::exception& e) {  // the front end could not be built: every file fails
      for (std::size_t i = next++; i < n; i = next++) errors[i] = e.what();
    }
  };
  std::vector<std::thread> threads;
  for (int k = 0; k < std::max(1, num_threads); ++k) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  Loaded<T> loaded;
  for (std::size_t i = 0; i < n; ++i) {
    if (!errors[i].empty()) {
      if (strict) {
        spdlog::error("{}", errors[i]);
      } else {
        spdlog::warn("skipping {}", errors[i]);
      }
      ++loaded.num_skipped;
    } else {
      loaded.items.push_back(std::move(items[i]));
    }
  }
  if (loaded.num_skipped > 0) {
    if (strict) {
      throw AudioError(targets_path + ": " + std::to_string(loaded.num_skipped) + " of " +
                       std::to_string(n) + " audio files cannot be used (--strict); nothing written");
    }
    spdlog::warn("{}: skipped {} of {} audio files that cannot be used", targets_path,
                 loaded.num_skipped, n);
  }
  if (loaded.items.empty()) throw FormatError(targets_path + ": no usable audio");
  return loaded;
}

}  // namespace

Loaded<Example> LoadExamples(const std::string& targets_path, const std::vector<Target>& targets,
                             const std::string& audio_dir, const MelOptions& mel,
                             double max_file_s, int num_threads, bool strict,
                             const VadOptions* vad) {
  const std::vector<std::string> paths = AudioPaths(targets_path, targets, audio_dir);
  return LoadAll<Example>(
      targets_path, targets.size(), num_threads, strict,
      [&mel] { return std::make_unique<MelFrontend>(mel); },
      [&](std::size_t i, std::unique_ptr<MelFrontend>& frontend, Example& ex) -> std::string {
        AudioReaderOptions ropts;
        ropts.target_sample_rate_hz = mel.sample_rate_hz;
        Audio audio = ReadAudio(paths[i], ropts);
        const AudioCheck check = CheckAudio(audio);
        if (!check.refusal.empty()) return "cannot use '" + paths[i] + "': " + check.refusal;
        const auto max_samples = static_cast<std::size_t>(max_file_s * audio.sample_rate_hz);
        if (audio.samples.size() > max_samples) audio.samples.resize(max_samples);
        LogMel lm = frontend->Compute(audio.samples);
        ex.id = targets[i].id;
        ex.gender = targets[i].gender;
        ex.audio_hash = Fnv1a64(audio.samples.data(), audio.samples.size() * sizeof(float));
        if (vad != nullptr) {
          SpeechSelection sel = SelectSpeech(lm, *vad);
          if (!sel.no_speech) {
            lm = KeepFrames(lm, sel.frames);
            ex.speech_frames = std::move(sel.frames);
          }
        }
        ex.features = ToTensor(lm);
        ex.samples = std::move(audio.samples);
        return "";
      });
}

Loaded<ValidationFile> LoadValidation(const std::string& targets_path,
                                      const std::vector<Target>& targets,
                                      const std::string& audio_dir, const Classifier& classifier,
                                      int num_threads, bool strict) {
  const std::vector<std::string> paths = AudioPaths(targets_path, targets, audio_dir);
  const MelOptions& mel = classifier.model().mel_options();
  return LoadAll<ValidationFile>(
      targets_path, targets.size(), num_threads, strict,
      [&mel] { return std::make_unique<MelFrontend>(mel); },
      [&](std::size_t i, std::unique_ptr<MelFrontend>& frontend, ValidationFile& v) -> std::string {
        v.features = classifier.Features(paths[i], *frontend);
        if (!v.features.check.refusal.empty()) {
          return "cannot use '" + paths[i] + "': " + v.features.check.refusal;
        }
        v.id = targets[i].id;
        v.gender = targets[i].gender;
        v.audio_hash = v.features.audio_hash;
        return "";
      });
}

std::vector<std::vector<float>> LoadNoise(const std::string& dir, const MelOptions& mel) {
  std::vector<std::string> paths;
  for (const auto& [id, files] : IndexAudioDir(dir)) paths.insert(paths.end(), files.begin(), files.end());
  std::sort(paths.begin(), paths.end());
  if (paths.empty()) throw FormatError("--noise-dir '" + dir + "': no audio files");
  AudioReaderOptions ropts;
  ropts.target_sample_rate_hz = mel.sample_rate_hz;
  std::vector<std::vector<float>> clips;
  for (const std::string& path : paths) clips.push_back(ReadAudio(path, ropts).samples);
  return clips;
}

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
    draw[it->second] = Fnv1a64(std::to_string(seed) + "/" + it->second);
  }
  if (draw.size() < 2) {
    throw FormatError(targets_path +
                      ": a speaker-disjoint validation set needs at least two speakers");
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

void WarnSharedAudio(const std::vector<Example>& train, const std::vector<ValidationFile>& val) {
  std::map<std::uint64_t, const Example*> by_hash;
  for (const auto& ex : train) by_hash.emplace(ex.audio_hash, &ex);
  std::vector<std::string> shared;
  for (const auto& v : val) {
    auto it = by_hash.find(v.audio_hash);
    if (it != by_hash.end()) shared.push_back("'" + v.id + "' = training '" + it->second->id + "'");
  }
  if (shared.empty()) return;
  std::string list;
  for (std::size_t i = 0; i < shared.size() && i < 5; ++i) list += (i ? ", " : "") + shared[i];
  spdlog::warn("{} validation files have the same audio as a training file ({}{}): validation "
               "scores on them are not held-out scores",
               shared.size(), list, shared.size() > 5 ? ", ..." : "");
}

void WarnSharedSpeakers(const std::vector<Target>& train, const std::vector<Target>& val,
                        const std::map<std::string, std::string>& speaker_of) {
  std::set<std::string> train_speakers, both;
  for (const auto& t : train) {
    if (auto it = speaker_of.find(t.id); it != speaker_of.end()) train_speakers.insert(it->second);
  }
  for (const auto& t : val) {
    auto it = speaker_of.find(t.id);
    if (it != speaker_of.end() && train_speakers.count(it->second)) both.insert(it->second);
  }
  if (!both.empty()) {
    spdlog::warn("{} speakers are in both training and validation (e.g. '{}'): validation is not "
                 "speaker-disjoint",
                 both.size(), *both.begin());
  }
}

}  // namespace voxsex::internal
