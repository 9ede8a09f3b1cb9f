// `voxsex predict`: classify audio files and write answers.tsv (and scores.tsv).
#include "cli/predict.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "cli/progress.h"
#include "voxsex/audio.h"
#include "voxsex/error.h"
#include "voxsex/mel.h"
#include "voxsex/model.h"
#include "voxsex/tsv.h"

namespace voxsex::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: voxsex predict DIR ANSWERS, or voxsex predict --list FILE ANSWERS (ANSWERS may be - "
    "for stdout)";
// Longest file predict classifies: it streams, so memory does not grow with the length; the
// limit only stops a runaway stream.
constexpr double kMaxFileDurationS = 24.0 * 3600.0;
constexpr const char* kScoresHeader = "id\tp_female\tconfidence\tduration_s\tspeech_s\tflags\n";
// A file's logits accumulated over its blocks (each at most ModelOptions::max_window_s long):
// blocks with speech vote with their speech frames; blocks without (no_speech) vote, with all
// their frames, only when no block of the file has speech.
struct BlockVotes {
  double speech[2] = {0.0, 0.0};
  double speech_frames = 0.0;
  double other[2] = {0.0, 0.0};
  double other_frames = 0.0;

  void Add(const Prediction& p, int block_frames, double frame_s) {
    if (!p.no_speech) {
      const double w = p.speech_s / frame_s;
      speech[0] += p.logit_male * w;
      speech[1] += p.logit_female * w;
      speech_frames += w;
    } else {
      other[0] += p.logit_male * block_frames;
      other[1] += p.logit_female * block_frames;
      other_frames += block_frames;
    }
  }
  bool empty() const { return speech_frames <= 0.0 && other_frames <= 0.0; }
  // The file's prediction; `temperature` as GenderModel::temperature().
  Prediction Result(double temperature, double frame_s) const {
    Prediction p;
    const bool speech_found = speech_frames > 0.0;
    const double* sums = speech_found ? speech : other;
    const double w = speech_found ? speech_frames : other_frames;
    p.logit_male = static_cast<float>(sums[0] / w);
    p.logit_female = static_cast<float>(sums[1] / w);
    p.p_female = static_cast<float>(1.0 / (1.0 + std::exp((sums[0] - sums[1]) / w / temperature)));
    p.no_speech = !speech_found;
    p.speech_s = speech_found ? speech_frames * frame_s : 0.0;
    return p;
  }
};

struct InputFile {
  std::string path;
  std::string id;
  std::string error;  // non-empty: failed
  int gender = -1;    // set once classified
  float p_female = 0.0f;
  double duration_s = 0.0;
  double speech_s = 0.0;  // seconds the model's VAD called speech
  std::string flags;  // scores.tsv flags column
  // Features of blocks read but not yet classified, and the logits of those already classified.
  std::vector<LogMel> pending;
  BlockVotes votes;
};

// An input whose id is its file name without extension.
InputFile FromPath(const fs::path& path) {
  InputFile f;
  f.path = path.string();
  f.id = path.stem().string();
  return f;
}

// A --shard K/N spec: this run classifies shard `index` (1-based) of `count`.
struct Shard {
  int index = 1;
  int count = 1;
};

// Parses "K/N" (decimal integers, 1 <= K <= N); nullopt otherwise.
std::optional<Shard> ParseShard(const std::string& text) {
  const auto parse_int = [](const std::string& s) -> std::optional<int> {
    if (s.empty() || s.size() > 9) return std::nullopt;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
    }
    return std::stoi(s);
  };
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const auto k = parse_int(text.substr(0, slash));
  const auto n = parse_int(text.substr(slash + 1));
  if (!k || !n || *k < 1 || *k > *n) return std::nullopt;
  return Shard{*k, *n};
}

// FNV-1a, 64-bit, over the bytes of `s` (http://www.isthe.com/chongo/tech/comp/fnv/).
std::uint64_t Fnv1a64(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// The scores.tsv flags column: CheckAudio's flags comma-separated, or "-" for none.
std::string FlagsColumn(const std::vector<std::string>& flags) {
  std::string column;
  for (const std::string& flag : flags) column += (column.empty() ? "" : ",") + flag;
  return column.empty() ? "-" : column;
}

// Records a file's prediction; a file without speech gets the no_speech flag, first.
void SetPrediction(InputFile& f, const Prediction& p) {
  f.gender = p.gender();
  f.p_female = p.p_female;
  f.speech_s = p.speech_s;
  if (p.no_speech) {
    f.flags = f.flags == "-" || f.flags.empty() ? "no_speech" : "no_speech," + f.flags;
  }
}

// `text` as one TSV field on one line: backslash, tab, CR and LF escaped as \\, \t, \r, \n.
std::string TsvField(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

// Marks files whose id cannot be written (empty, tab or line break) or is shared with another
// file: those fail, each duplicate's message naming the others.
void MarkBadIds(std::vector<InputFile>& files) {
  std::map<std::string, std::vector<std::size_t>> by_id;
  for (std::size_t i = 0; i < files.size(); ++i) {
    InputFile& f = files[i];
    if (f.id.empty() || f.id.find_first_of("\t\r\n") != std::string::npos) {
      if (f.error.empty()) {
        f.error = "its id (the file name without extension) is empty or contains a tab or line "
                  "break";
      }
      continue;
    }
    by_id[f.id].push_back(i);
  }
  for (const auto& [id, idx] : by_id) {
    if (idx.size() < 2) continue;
    for (std::size_t i : idx) {
      std::string others;
      for (std::size_t j : idx) {
        if (j != i) others += (others.empty() ? "'" : ", '") + files[j].path + "'";
      }
      files[i].error = "its id '" + id + "' is also the id of " + others;
    }
  }
}

// Audio files in `dir` (extension matched case-insensitively), sorted by path. With `recursive`
// subdirectories are searched too, but symlinked directories are not followed (no loops).
// Throws ConfigError when a directory cannot be listed.
std::vector<InputFile> ListDirectory(const std::string& dir, bool recursive) {
  std::vector<InputFile> files;
  std::error_code ec;
  const auto fail = [&dir](const std::error_code& e) {
    throw ConfigError("cannot list '" + dir + "': " + e.message());
  };
  if (recursive) {
    fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
    if (ec) fail(ec);
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) fail(ec);
      const fs::path& p = it->path();
      std::error_code type_ec;
      if (it->is_directory(type_ec)) continue;  // descended into (unless a symlink), not a file
      if (HasAudioExtension(p.filename().string())) {
        files.push_back(FromPath(p));
      }
    }
    if (ec) fail(ec);
  } else {
    fs::directory_iterator it(dir, ec);
    if (ec) fail(ec);
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) fail(ec);
      const fs::path& p = it->path();
      std::error_code type_ec;
      if (it->is_directory(type_ec)) continue;  // a directory named x.wav is not audio
      if (HasAudioExtension(p.filename().string())) {
        files.push_back(FromPath(p));
      }
    }
    if (ec) fail(ec);
  }
  std::sort(files.begin(), files.end(),
            [](const InputFile& a, const InputFile& b) { return a.path < b.path; });
  return files;
}

// The paths listed in `list_path`, one per line, in file order; blank lines and lines starting
// with '#' are skipped, a trailing '\r' is dropped, relative paths are used as given (relative to
// the current directory). A path that does not exist fails. A path listed twice is classified once.
// Throws ConfigError when the list cannot be read.
std::vector<InputFile> ReadList(const std::string& list_path) {
  std::ifstream in(list_path, std::ios::binary);
  if (!in) throw ConfigError("cannot read --list '" + list_path + "': " + std::strerror(errno));
  std::vector<InputFile> files;
  std::set<std::string> seen;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t\v\f") == std::string::npos || line[0] == '#') continue;
    if (!seen.insert(line).second) {
      spdlog::warn("{}:{}: '{}' is listed again; it is classified once", list_path, line_no, line);
      continue;
    }
    InputFile f = FromPath(line);
    std::error_code ec;
    if (!fs::exists(line, ec)) {
      f.error = "no such file (listed in '" + list_path + "' line " + std::to_string(line_no) + ")";
    }
    files.push_back(std::move(f));
  }
  if (in.bad()) throw ConfigError("cannot read --list '" + list_path + "'");
  return files;
}

// Writes `content` to stdout when `path` is "-", else atomically to `path`.
// Throws FormatError on failure.
void WriteOutput(const std::string& path, const std::string& content) {
  if (path != "-") {
    WriteFileAtomic(path, content);
    return;
  }
  if (std::fwrite(content.data(), 1, content.size(), stdout) != content.size() ||
      std::fflush(stdout) != 0) {
    throw FormatError(std::string("cannot write to stdout: ") + std::strerror(errno));
  }
}

std::string Describe(const std::string& path) { return path == "-" ? "stdout" : "'" + path + "'"; }

// "answers in 'a.tsv'", "answers on stdout".
std::string Where(const std::string& what, const std::string& path) {
  return what + (path == "-" ? " on " : " in ") + Describe(path);
}

}  // namespace

void PredictOptions::Validate() const {
  if (!input_dir.empty() && !list_path.empty()) {
    throw ConfigError("give either DIR or --list FILE, not both");
  }
  if (input_dir.empty() && list_path.empty()) throw ConfigError(kUsage);
  if (answers_path.empty()) throw ConfigError(std::string("ANSWERS is missing; ") + kUsage);
  if (!input_dir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(input_dir, ec)) {
      throw ConfigError("DIR '" + input_dir + "' is not a directory");
    }
  }
  if (recursive && input_dir.empty()) throw ConfigError("--recursive needs DIR, not --list");
  if (!scores_path.empty() && scores_path == answers_path) {
    throw ConfigError("--scores and ANSWERS are the same (" + Describe(answers_path) + ")");
  }
  if (errors_path == "-") {
    throw ConfigError("--errors needs a file name (the errors are on stderr already)");
  }
  if (!errors_path.empty() && (errors_path == answers_path || errors_path == scores_path)) {
    throw ConfigError("--errors '" + errors_path + "' is also ANSWERS or --scores");
  }
  if (!shard.empty() && !ParseShard(shard)) {
    throw ConfigError("--shard must be K/N with whole numbers 1 <= K <= N (e.g. 2/8), not '" +
                      shard + "'");
  }
  if (device != "cpu" && device != "cuda") {
    throw ConfigError("--device must be cpu or cuda, not '" + device + "'");
  }
  if (num_threads < 0) throw ConfigError("--threads must be >= 0");
  if (batch_size < 1) throw ConfigError("--batch-size must be >= 1");
}

std::string PredictOptions::ToString() const {
  return fmt::format(
      "PredictOptions(input_dir='{}', list_path='{}', recursive={}, answers_path='{}', "
      "scores_path='{}', errors_path='{}', fail_fast={}, model_path='{}', shard='{}', device={}, "
      "num_threads={}, batch_size={})",
      input_dir, list_path, recursive, answers_path, scores_path, errors_path, fail_fast,
      model_path, shard, device, num_threads, batch_size);
}

CLI::App* setup_predict(CLI::App& app, PredictOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "predict", "Classify audio files (a directory or a list) and write answers.tsv");
  cmd->add_option("DIR", o.input_dir,
                  "Directory of audio files (wav, flac, mp3, ogg, opus, aiff, ...); omit with "
                  "--list");
  cmd->add_option("ANSWERS", o.answers_path,
                  "Output: one line per classified file, id<TAB>gender (0 male, 1 female), "
                  "sorted by id; - for stdout");
  cmd->add_option("--list", o.list_path,
                  "Instead of DIR: a file with one audio path per line (blank lines and lines "
                  "starting with # are skipped; relative paths are relative to the current "
                  "directory)");
  cmd->add_flag("-r,--recursive", o.recursive,
                "Also classify files in subdirectories of DIR (symlinked directories are not "
                "followed); the id is still the file name without extension");
  cmd->add_option("--scores", o.scores_path,
                  "Also write a TSV with a header: id, p_female, confidence, duration_s, "
                  "speech_s, flags (no_speech, too_short, low_level, clipped, dc_offset, "
                  "nonfinite or -); - for stdout");
  cmd->add_option("--errors", o.errors_path,
                  "Also write the failed files as a TSV with a header: path, reason (written, "
                  "header only, when nothing failed)");
  cmd->add_flag("--fail-fast", o.fail_fast,
                "Stop at the first file that fails (exit status 1); ANSWERS and --scores are then "
                "not written, --errors is");
  cmd->add_option("--shard", o.shard,
                  "Classify only shard K of N (1 <= K <= N): the files whose id hashes (FNV-1a "
                  "64) to K-1 modulo N");
  cmd->add_option("--model", o.model_path, "TorchScript model (default: the bundled model)");
  cmd->add_option("--device", o.device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--threads", o.num_threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--batch-size", o.batch_size, "Windows per forward pass")->capture_default_str();
  // CLI11 fills positionals in order: with --list, a single positional is ANSWERS, not DIR.
  cmd->callback([&o]() {
    if (!o.list_path.empty() && o.answers_path.empty()) std::swap(o.input_dir, o.answers_path);
  });
  cmd->footer(
      "Examples:\n"
      "  voxsex predict recordings/ answers.tsv\n"
      "  voxsex predict -r corpus/ answers.tsv --scores scores.tsv\n"
      "  voxsex predict --list files.txt answers.tsv\n"
      "  voxsex -q predict recordings/ - | sort -k2\n"
      "  for k in 1 2 3 4; do voxsex predict corpus/ part$k.tsv --shard $k/4 & done; wait\n"
      "  LC_ALL=C sort -m part*.tsv > answers.tsv\n\n"
      "scores.tsv: header id, p_female, confidence, duration_s, speech_s, flags; one row per\n"
      "classified file sorted by id; confidence = max(p_female, 1 - p_female) (calibrated on\n"
      "the model's validation set); speech_s = seconds the speech detector found; flags:\n"
      "no_speech (the detector found under 0.2 s of speech in every block: all frames were\n"
      "used), too_short (< 1 s),\n"
      "low_level (RMS < -35 dBFS), clipped (>= 0.1% of samples at full scale), dc_offset\n"
      "(|mean| >= 0.1), nonfinite (NaN or infinite samples, read as 0); - for none.\n"
      "Refused (failed): unreadable or undecodable files, sample rates outside 4-768 kHz, less\n"
      "than 0.1 s of audio, no signal (silence or a constant), files sharing an id.\n\n"
      "Exit status: 0 all files classified; 1 some files failed (each reported on stderr with its\n"
      "path and reason; the others are classified and written, unless --fail-fast); 2 usage,\n"
      "configuration, model or output error (nothing written).");
  return cmd;
}

int run_predict(const PredictOptions& opts) {
  const auto t0 = Clock::now();
  std::vector<InputFile> files;
  const std::string model_path = opts.model_path.empty() ? DefaultModelPath() : opts.model_path;
  const std::string source =
      opts.list_path.empty() ? "'" + opts.input_dir + "'" : "--list '" + opts.list_path + "'";
  Shard shard;
  try {
    opts.Validate();
    spdlog::debug("{}", opts.ToString());
    if (!opts.shard.empty()) shard = *ParseShard(opts.shard);
    if (model_path.empty()) {
      throw ConfigError("no bundled model found; pass --model or set VOXSEX_MODEL");
    }
    files = opts.list_path.empty() ? ListDirectory(opts.input_dir, opts.recursive)
                                   : ReadList(opts.list_path);
    if (files.empty()) throw ConfigError("no audio files in " + source);
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  MarkBadIds(files);
  if (shard.count > 1) {
    const std::size_t listed = files.size();
    files.erase(std::remove_if(files.begin(), files.end(),
                               [&shard](const InputFile& f) {
                                 return Fnv1a64(f.id) % static_cast<std::uint64_t>(shard.count) !=
                                        static_cast<std::uint64_t>(shard.index - 1);
                               }),
                files.end());
    spdlog::info("shard {}/{}: {} of {} files", shard.index, shard.count, files.size(), listed);
  }

  ModelOptions mopts;
  mopts.num_threads = opts.num_threads;
  mopts.batch_size = opts.batch_size;
  mopts.device = opts.device;  // GenderModel::Load refuses cuda where LibTorch has no CUDA or GPU
  std::optional<GenderModel> model;
  try {
    model.emplace(GenderModel::Load(model_path, mopts));
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  const MelOptions mel = model->mel_options();
  const int threads = opts.num_threads > 0
                          ? opts.num_threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  spdlog::info("{} audio files from {}, model '{}', {} threads", files.size(), source, model_path,
               threads);

  // Files are processed in chunks: read and front end on `threads` threads, then batched
  // inference, so memory is bounded by the chunk, not the directory. A file counts as done for the
  // progress line when its front end is computed. Each failure is logged once, when its chunk ends.
  long model_failures = 0;
  const InputFile* first_failure = nullptr;  // with --fail-fast: the failure that stopped the run
  ProgressReporter progress(files.size(), "files");
  // Logs a failure as one line that starts by naming the file: library messages do already
  // ("cannot read 'x.wav': ..."), others get "cannot classify 'x.wav': " in front.
  const auto report = [&progress, &first_failure](InputFile& f) {
    const std::string named = "'" + f.path + "': ";
    if (f.error.find(named) == std::string::npos) f.error = "cannot classify " + named + f.error;
    progress.ClearLine();
    spdlog::error("{}", TsvField(f.error));
    if (first_failure == nullptr) first_failure = &f;
  };
  std::mutex fatal_mutex;
  std::string fatal;  // a worker could not start: not a file's fault
  // Files per chunk: read and front end in parallel, then batched inference. With at most
  // kMaxPendingBlocks model windows of features held per file, memory is bounded whatever the
  // files' lengths.
  constexpr std::size_t kChunk = 64;
  constexpr std::size_t kMaxPendingBlocks = 4;
  const double frame_s = static_cast<double>(mel.hop_length) / mel.sample_rate_hz;
  const double temperature = model->temperature();
  // Blocks of one model window each: NumFrames(n) = 1 + n / hop_length frames.
  const int window_frames = std::max(
      2, static_cast<int>(mopts.max_window_s * mel.sample_rate_hz / mel.hop_length));
  const auto block_samples = static_cast<std::size_t>(window_frames - 1) * mel.hop_length;
  // A long file's blocks are classified by the reader thread as they come (one thread at a time
  // uses the model); a failure there fails the file.
  std::mutex model_mutex;
  const auto ClassifyPending = [&](InputFile& f) {
    std::vector<const LogMel*> blocks;
    for (const LogMel& b : f.pending) blocks.push_back(&b);
    std::vector<Prediction> preds;
    {
      const std::lock_guard<std::mutex> lock(model_mutex);
      preds = model->Predict(blocks);
    }
    for (std::size_t k = 0; k < preds.size(); ++k) {
      f.votes.Add(preds[k], blocks[k]->num_frames, frame_s);
    }
    f.pending.clear();
  };
  for (std::size_t c = 0; c < files.size() && !(opts.fail_fast && first_failure); c += kChunk) {
    const std::size_t end = std::min(files.size(), c + kChunk);
    std::atomic<std::size_t> next{c};
    std::atomic<bool> stop{false};  // --fail-fast: a file of this chunk failed
    auto work = [&]() noexcept {
      std::optional<MelFrontend> made;
      try {
        made.emplace(mel);
      } catch (const std::exception& e) {  // options already checked by GenderModel::Load
        const std::lock_guard<std::mutex> lock(fatal_mutex);
        fatal = e.what();
        return;
      }
      MelFrontend& frontend = *made;
      AudioReaderOptions ropts;
      ropts.target_sample_rate_hz = mel.sample_rate_hz;
      ropts.max_duration_s = kMaxFileDurationS;
      for (std::size_t i = next++; i < end && !stop; i = next++) {
        InputFile& f = files[i];
        if (f.error.empty()) {
          try {
            // Read in blocks of one model window: a long file's samples are never held whole,
            // and its features are classified every kMaxPendingBlocks blocks.
            AudioStream stream(f.path, ropts);
            AudioLevels levels;
            for (;;) {
              const std::vector<float> block = stream.Read(block_samples);
              if (block.empty()) break;
              levels.Add(block.data(), block.size());
              f.pending.push_back(frontend.Compute(block));
              if (f.pending.size() >= kMaxPendingBlocks) ClassifyPending(f);
            }
            const AudioCheck check = CheckAudioLevels(levels, stream.sample_rate_hz(),
                                                      stream.num_nonfinite_frames());
            f.duration_s = static_cast<double>(levels.num_samples) / stream.sample_rate_hz();
            if (check.refusal.empty()) {
              f.flags = FlagsColumn(check.flags);
            } else {
              f.error = check.refusal;
            }
          } catch (const std::exception& e) {  // voxsex::Error, or bad_alloc
            f.error = e.what();
          }
          if (!f.error.empty()) {
            f.pending.clear();
            f.pending.shrink_to_fit();
          }
        }
        if (!f.error.empty() && opts.fail_fast) stop = true;
        progress.Add();
      }
    };
    std::vector<std::thread> pool;
    for (int k = 0; k < threads; ++k) pool.emplace_back(work);
    for (auto& t : pool) t.join();
    if (!fatal.empty()) {
      progress.ClearLine();
      spdlog::error("cannot build the front end: {}; nothing written", fatal);
      return 2;
    }

    std::vector<const LogMel*> inputs;
    std::vector<std::size_t> which;
    for (std::size_t i = c; i < end; ++i) {
      if (!files[i].error.empty()) {
        report(files[i]);
        if (opts.fail_fast) break;
      } else {
        for (const LogMel& block : files[i].pending) {
          inputs.push_back(&block);
          which.push_back(i);
        }
      }
    }
    if (opts.fail_fast && first_failure) continue;
    try {
      const auto preds = model->Predict(inputs);
      for (std::size_t k = 0; k < preds.size(); ++k) {
        files[which[k]].votes.Add(preds[k], inputs[k]->num_frames, frame_s);
      }
    } catch (const std::exception& e) {
      // The model failed on this chunk: retry its files one by one, so only the inputs it cannot
      // take fail (with the reason) and the others are still answered.
      progress.ClearLine();
      spdlog::warn("model failed on a batch ({}); retrying its files one at a time", e.what());
      for (std::size_t i = c; i < end; ++i) {
        InputFile& f = files[i];
        if (!f.error.empty()) continue;
        try {
          ClassifyPending(f);
        } catch (const std::exception& e1) {
          f.error = e1.what();
          ++model_failures;
          report(f);
          if (opts.fail_fast) break;
        }
      }
    }
    for (std::size_t i = c; i < end; ++i) {
      InputFile& f = files[i];
      f.pending.clear();
      f.pending.shrink_to_fit();
      if (f.error.empty() && !f.votes.empty()) {
        SetPrediction(f, f.votes.Result(temperature, frame_s));
      }
    }
  }
  progress.Finish();

  std::vector<const InputFile*> classified;
  std::vector<const InputFile*> failed;  // in path order within each chunk
  for (const auto& f : files) {
    if (f.gender >= 0) classified.push_back(&f);
    if (!f.error.empty()) failed.push_back(&f);
  }
  if (classified.empty() && model_failures > 0 && !opts.fail_fast) {  // a broken model
    spdlog::error("the model failed on every file; nothing written");
    return 2;
  }
  std::sort(classified.begin(), classified.end(),
            [](const InputFile* a, const InputFile* b) { return a->id < b->id; });
  std::sort(failed.begin(), failed.end(),
            [](const InputFile* a, const InputFile* b) { return a->path < b->path; });
  const bool stopped = opts.fail_fast && first_failure != nullptr;
  if (stopped) failed = {first_failure};  // other files of its chunk may have failed unreported

  std::vector<std::pair<std::string, std::string>> outputs;  // (path or "-", content)
  if (!stopped) {
    // The same bytes as WriteAnswers (include/voxsex/tsv.h): `id<TAB>gender`, sorted by id.
    std::string answers_text;
    for (const InputFile* f : classified) {
      answers_text += fmt::format("{}\t{}\n", f->id, f->gender);
    }
    outputs.emplace_back(opts.answers_path, std::move(answers_text));
    if (!opts.scores_path.empty()) {
      std::string scores_text = kScoresHeader;
      for (const InputFile* f : classified) {
        const double p = f->p_female;
        scores_text += fmt::format("{}\t{}\t{:.4f}\t{:.3f}\t{:.2f}\t{}\n", f->id, FormatPFemale(p),
                                   std::max(p, 1.0 - p), f->duration_s, f->speech_s, f->flags);
      }
      outputs.emplace_back(opts.scores_path, std::move(scores_text));
    }
  }
  if (!opts.errors_path.empty()) {
    std::string errors_text = "path\treason\n";
    for (const InputFile* f : failed) {
      errors_text += TsvField(f->path) + "\t" + TsvField(f->error) + "\n";
    }
    outputs.emplace_back(opts.errors_path, std::move(errors_text));
  }
  try {
    // Files first, as one step (all or none replaced), then anything bound for stdout.
    std::vector<std::pair<std::string, std::string>> files_out;
    for (const auto& o : outputs) {
      if (o.first != "-") files_out.push_back(o);
    }
    WriteFilesAtomic(files_out);
    for (const auto& o : outputs) {
      if (o.first == "-") WriteOutput(o.first, o.second);
    }
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  }

  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::string where;
  for (const auto& [path, what] : {std::pair{opts.answers_path, "answers"},
                                   std::pair{opts.scores_path, "scores"},
                                   std::pair{opts.errors_path, "errors"}}) {
    if (path.empty() || (stopped && std::string(what) != "errors")) continue;
    where += (where.empty() ? "; " : ", ") + Where(what, path);
  }
  if (stopped) {
    spdlog::error("stopped at the first failure (--fail-fast) after {:.2f} s: {}; {} and scores "
                  "not written{}",
                  secs, TsvField(first_failure->path), Describe(opts.answers_path), where);
    return 1;
  }
  const std::string summary = fmt::format("{} files: {} classified, {} failed", files.size(),
                                          classified.size(), failed.size());
  if (!failed.empty()) {
    constexpr std::size_t kListed = 10;
    std::string names;
    for (std::size_t i = 0; i < std::min(kListed, failed.size()); ++i) {
      names += (i ? ", " : "") + TsvField(failed[i]->path);
    }
    if (failed.size() > kListed) names += fmt::format(" and {} more", failed.size() - kListed);
    spdlog::warn("{} ({:.2f} s){}; failed: {}", summary, secs, where, names);
    return 1;
  }
  spdlog::info("{} ({:.2f} s, {:.1f} files/s){}", summary, secs,
               classified.size() / std::max(secs, 1e-9), where);
  return 0;
}

}  // namespace voxsex::cli
