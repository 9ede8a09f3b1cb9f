// `voxsex predict`: classify audio files and write answers.tsv (and scores.tsv).
#include "cli/predict.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "cli/batch_end.h"
#include "cli/progress.h"
#include "voxsex/batch.h"
#include "voxsex/classifier.h"
#include "voxsex/error.h"
#include "voxsex/model.h"
#include "voxsex/tsv.h"

namespace voxsex::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: voxsex predict DIR ANSWERS, or voxsex predict --list FILE ANSWERS (ANSWERS may be - "
    "for stdout)";

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
    throw ConfigError("--scores and ANSWERS are the same (" + DescribeOutput(answers_path) + ")");
  }
  CheckErrorsPath(errors_path, {answers_path, scores_path}, "ANSWERS or --scores");
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
  std::vector<FileResult> files;
  const std::string model_path = opts.model_path.empty() ? DefaultModelPath() : opts.model_path;
  const std::string source =
      opts.list_path.empty() ? "'" + opts.input_dir + "'" : "--list '" + opts.list_path + "'";
  std::optional<Classifier> classifier;
  try {
    opts.Validate();
    spdlog::debug("{}", opts.ToString());
    if (model_path.empty()) {
      throw ConfigError("no bundled model found; pass --model or set VOXSEX_MODEL");
    }
    files = GatherInputs(opts.input_dir, opts.list_path, opts.recursive, opts.shard);
    ClassifierOptions copts;
    copts.model.num_threads = opts.num_threads;
    copts.model.batch_size = opts.batch_size;
    copts.model.device = opts.device;  // Load refuses cuda where LibTorch has no CUDA or GPU
    copts.fail_fast = opts.fail_fast;
    classifier.emplace(Classifier::Load(model_path, copts));
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  const int threads = opts.num_threads > 0
                          ? opts.num_threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  spdlog::info("{} audio files from {}, model '{}', {} threads", files.size(), source, model_path,
               threads);

  ProgressReporter progress(files.size(), "files");
  const FileResult* first_failure = nullptr;  // with --fail-fast: the failure that stopped the run
  ClassifyHooks hooks;
  hooks.on_read = [&progress] { progress.Add(); };
  hooks.on_failure = [&progress, &first_failure](const FileResult& f) {
    progress.ClearLine();
    spdlog::error("{}", TsvField(f.error));
    if (first_failure == nullptr) first_failure = &f;
  };
  long model_failures = 0;
  try {
    model_failures = classifier->ClassifyFiles(files, hooks);
  } catch (const Error& e) {
    progress.ClearLine();
    spdlog::error("{}; nothing written", e.what());
    return 2;
  }
  progress.Finish();

  std::vector<const FileResult*> classified;
  for (const auto& f : files) {
    if (f.classified()) classified.push_back(&f);
  }
  if (classified.empty() && model_failures > 0 && !opts.fail_fast) {  // a broken model
    spdlog::error("the model failed on every file; nothing written");
    return 2;
  }
  std::sort(classified.begin(), classified.end(),
            [](const FileResult* a, const FileResult* b) { return a->id < b->id; });

  BatchEnd end;
  end.outputs.emplace_back("answers", opts.answers_path);
  if (!opts.scores_path.empty()) end.outputs.emplace_back("scores", opts.scores_path);
  end.contents = [&opts, &classified] {
    std::vector<std::pair<std::string, std::string>> out{
        {opts.answers_path, AnswersTsv(classified)}};
    if (!opts.scores_path.empty()) out.emplace_back(opts.scores_path, ScoresTsv(classified));
    return out;
  };
  end.errors_path = opts.errors_path;
  end.stopped_at = opts.fail_fast ? first_failure : nullptr;
  end.failed = FailedFiles(files, end.stopped_at);
  end.summary = fmt::format("{} files: {} classified, {} failed", files.size(), classified.size(),
                            end.failed.size());
  end.speed = [n = classified.size()](double secs) {
    return fmt::format("{:.1f} files/s", n / std::max(secs, 1e-9));
  };
  end.start = t0;
  return FinishBatch(end);
}

}  // namespace voxsex::cli
