#include "cli/predict.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "voxsex/audio.h"
#include "voxsex/error.h"
#include "voxsex/mel.h"
#include "voxsex/model.h"
#include "voxsex/tsv.h"

namespace voxsex::cli {
namespace {

namespace fs = std::filesystem;

struct InputFile {
  std::string path;
  std::string id;
  std::string error;  // non-empty: failed
  int gender = -1;
};

// Audio files directly in `dir` (extension matched case-insensitively), sorted by path.
// Throws ConfigError when the directory cannot be listed.
std::vector<InputFile> ListInputs(const std::string& dir) {
  std::vector<InputFile> files;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw ConfigError("cannot list '" + dir + "': " + ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) throw ConfigError("cannot list '" + dir + "': " + ec.message());
    const fs::path& p = it->path();
    if (!HasAudioExtension(p.filename().string())) continue;
    files.push_back({p.string(), p.stem().string(), "", -1});
  }
  std::sort(files.begin(), files.end(),
            [](const InputFile& a, const InputFile& b) { return a.path < b.path; });
  // Two files with one id cannot both be answered: both fail, each message naming the other.
  std::map<std::string, std::vector<std::size_t>> by_id;
  for (std::size_t i = 0; i < files.size(); ++i) by_id[files[i].id].push_back(i);
  for (const auto& [id, idx] : by_id) {
    if (idx.size() < 2) continue;
    for (std::size_t i : idx) {
      std::string others;
      for (std::size_t j : idx) {
        if (j != i) others += (others.empty() ? "'" : ", '") + files[j].path + "'";
      }
      files[i].error = "id '" + id + "' is also the id of " + others;
    }
  }
  return files;
}

}  // namespace

CLI::App* setup_predict(CLI::App& app, PredictOptions& o) {
  CLI::App* cmd =
      app.add_subcommand("predict", "Classify every audio file in DIR and write answers.tsv");
  cmd->add_option("DIR", o.input_dir, "Directory of audio files (wav, flac, mp3, ogg, opus, aiff, ...)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("ANSWERS", o.answers_path,
                  "Output: one line per classified file, id<TAB>gender (0 male, 1 female), "
                  "sorted by id")
      ->required();
  cmd->add_option("--model", o.model_path, "TorchScript model (default: the bundled model)");
  cmd->add_option("--threads", o.num_threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--batch-size", o.batch_size, "Windows per forward pass")->capture_default_str();
  cmd->footer(
      "Example:\n  voxsex predict recordings/ answers.tsv\n\n"
      "Exit status: 0 all files classified; 1 some files failed (each reported on stderr with its\n"
      "path and reason; the others are classified and written); 2 usage, model or output error.");
  return cmd;
}

int run_predict(const PredictOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<InputFile> files;
  std::string model_path = opts.model_path.empty() ? DefaultModelPath() : opts.model_path;
  try {
    if (opts.num_threads < 0) throw ConfigError("--threads must be >= 0");
    if (model_path.empty()) {
      throw ConfigError("no bundled model found; pass --model or set VOXSEX_MODEL");
    }
    files = ListInputs(opts.input_dir);
    if (files.empty()) throw ConfigError("no audio files in '" + opts.input_dir + "'");
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  }

  ModelOptions mopts;
  mopts.num_threads = opts.num_threads;
  mopts.batch_size = opts.batch_size;
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
  spdlog::info("{} audio files in '{}', model '{}', {} threads", files.size(), opts.input_dir,
               model_path, threads);

  // Files are processed in chunks: read and front end on `threads` threads, then batched
  // inference, so memory is bounded by the chunk, not the directory.
  constexpr std::size_t kChunk = 256;
  for (std::size_t c = 0; c < files.size(); c += kChunk) {
    const std::size_t end = std::min(files.size(), c + kChunk);
    std::vector<LogMel> features(end - c);
    std::atomic<std::size_t> next{c};
    auto work = [&]() {
      MelFrontend frontend(mel);
      AudioReaderOptions ropts;
      ropts.target_sample_rate_hz = mel.sample_rate_hz;
      for (std::size_t i = next++; i < end; i = next++) {
        if (!files[i].error.empty()) continue;
        try {
          Audio audio = ReadAudio(files[i].path, ropts);
          features[i - c] = frontend.Compute(audio.samples);
        } catch (const Error& e) {
          files[i].error = e.what();
        }
      }
    };
    std::vector<std::thread> pool;
    for (int k = 0; k < threads; ++k) pool.emplace_back(work);
    for (auto& t : pool) t.join();

    std::vector<const LogMel*> inputs;
    std::vector<std::size_t> which;
    for (std::size_t i = c; i < end; ++i) {
      if (files[i].error.empty()) {
        inputs.push_back(&features[i - c]);
        which.push_back(i);
      } else {
        spdlog::error("{}: {}", files[i].path, files[i].error);
      }
    }
    if (inputs.empty()) continue;
    try {
      const auto preds = model->Predict(inputs);
      for (std::size_t k = 0; k < preds.size(); ++k) files[which[k]].gender = preds[k].gender();
    } catch (const Error& e) {
      spdlog::error("{}", e.what());
      return 2;
    }
  }

  std::vector<Answer> answers;
  long failed = 0;
  for (const auto& f : files) {
    if (f.gender >= 0) {
      answers.push_back({f.id, f.gender});
    } else {
      ++failed;
    }
  }
  try {
    WriteAnswers(opts.answers_path, answers);
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string summary = std::to_string(answers.size()) + " classified, " +
                              std::to_string(failed) + " failed";
  if (failed > 0) {
    spdlog::warn("{} ({:.2f} s); answers in '{}'", summary, secs, opts.answers_path);
    return 1;
  }
  spdlog::info("{} ({:.2f} s, {:.1f} files/s); answers in '{}'", summary, secs,
               answers.size() / std::max(secs, 1e-9), opts.answers_path);
  return 0;
}

}  // namespace voxsex::cli
