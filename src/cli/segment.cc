// `voxsex segment`: male and female speech segments of long recordings.
#include "cli/segment.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "cli/batch_end.h"
#include "cli/progress.h"
#include "voxsex/batch.h"
#include "voxsex/error.h"
#include "voxsex/model.h"
#include "voxsex/tsv.h"

namespace voxsex::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: voxsex segment DIR SEGMENTS, or voxsex segment --list FILE SEGMENTS";

}  // namespace

void SegmentOptions::Validate() const {
  if (!input_dir.empty() && !list_path.empty()) {
    throw ConfigError("give either DIR or --list FILE, not both");
  }
  if (input_dir.empty() && list_path.empty()) throw ConfigError(kUsage);
  if (segments_path.empty()) throw ConfigError(std::string("SEGMENTS is missing; ") + kUsage);
  if (!input_dir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(input_dir, ec)) {
      throw ConfigError("DIR '" + input_dir + "' is not a directory");
    }
  }
  if (recursive && input_dir.empty()) throw ConfigError("--recursive needs DIR, not --list");
  std::set<std::string> outputs{segments_path};
  for (const std::string* p : {&summary_path, &rttm_path}) {
    if (!p->empty() && !outputs.insert(*p).second) {
      throw ConfigError("two outputs are the same file '" + *p + "'");
    }
  }
  CheckErrorsPath(errors_path, {segments_path, summary_path, rttm_path},
                  "SEGMENTS, --summary or --rttm");
  if (!shard.empty() && !ParseShard(shard)) {
    throw ConfigError("--shard must be K/N with whole numbers 1 <= K <= N (e.g. 2/8), not '" +
                      shard + "'");
  }
  if (num_threads < 0) throw ConfigError("--threads must be >= 0");
  if (batch_size < 1) throw ConfigError("--batch-size must be >= 1");
  segmenter.Validate();
}

std::string SegmentOptions::ToString() const {
  return fmt::format(
      "SegmentOptions(input_dir='{}', list_path='{}', recursive={}, segments_path='{}', "
      "summary_path='{}', rttm_path='{}', textgrid_dir='{}', errors_path='{}', fail_fast={}, "
      "model_path='{}', shard='{}', num_threads={}, batch_size={}, {})",
      input_dir, list_path, recursive, segments_path, summary_path, rttm_path, textgrid_dir,
      errors_path, fail_fast, model_path, shard, num_threads, batch_size, segmenter.ToString());
}

CLI::App* setup_segment(CLI::App& app, SegmentOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "segment", "Cut long recordings into male and female speech segments (who speaks when)");
  cmd->add_option("DIR", o.input_dir, "Directory of audio files; omit with --list");
  cmd->add_option("SEGMENTS", o.segments_path,
                  "Output: header id, start_s, end_s, label, p_female; one row per speech "
                  "segment sorted by id then start");
  cmd->add_option("--list", o.list_path, "Instead of DIR: a file with one audio path per line");
  cmd->add_flag("-r,--recursive", o.recursive, "Also segment files in subdirectories of DIR");
  cmd->add_option("--summary", o.summary_path,
                  "Also write one row per file: id, duration_s, speech_s, male_s, female_s, "
                  "female_share (- without speech)");
  cmd->add_option("--rttm", o.rttm_path,
                  "Also write NIST RTTM: SPEAKER <id> 1 <start> <dur> <NA> <NA> <label> <NA> <NA>");
  cmd->add_option("--textgrid", o.textgrid_dir,
                  "Also write a Praat TextGrid per file (<id>.TextGrid, tier \"gender\") into "
                  "this directory (created if missing)");
  cmd->add_option("--errors", o.errors_path,
                  "Also write the failed files as a TSV with a header: path, reason (written, "
                  "header only, when nothing failed)");
  cmd->add_flag("--fail-fast", o.fail_fast,
                "Stop at the first file that fails (exit status 1); SEGMENTS, --summary, --rttm "
                "and --textgrid are then not written, --errors is");
  cmd->add_option("--shard", o.shard, "Segment only shard K of N (FNV-1a 64 of the id)");
  cmd->add_option("--model", o.model_path, "TorchScript model (default: the bundled model)");
  cmd->add_option("--threads", o.num_threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--batch-size", o.batch_size, "Windows per forward pass")->capture_default_str();
  cmd->add_option("--window", o.segmenter.window_s, "Gender window, seconds")
      ->capture_default_str();
  cmd->add_option("--hop", o.segmenter.hop_s, "Between gender windows, seconds")
      ->capture_default_str();
  cmd->add_option("--switch-penalty", o.segmenter.switch_penalty,
                  "Viterbi cost of a change between non-speech, male and female, nats")
      ->capture_default_str();
  cmd->add_option("--vad-range", o.segmenter.vad_dynamic_range_db,
                  "Frames more than this many dB under the loudest of their 30 s block are not "
                  "speech (0 = the model's VAD setting)")
      ->capture_default_str();
  cmd->add_option("--vad-floor-window", o.segmenter.vad_floor_window_s,
                  "Energy detector (and a learned one with --vad-floor-gate): frames must also "
                  "be --vad-floor-margin dB over the noise floor of this many seconds around them "
                  "(0 = only the energy detector's 30 s block floor)")
      ->capture_default_str();
  cmd->add_option("--vad-floor-margin", o.segmenter.vad_floor_margin_db,
                  "How far over that local noise floor a speech frame must be, dB")
      ->capture_default_str();
  cmd->add_flag("--vad-floor-gate", o.segmenter.vad_floor_gate,
               "A learned detector's speech frames must also be --vad-floor-margin dB over the "
               "noise floor of --vad-floor-window seconds around them (nothing when that is 0)");
  cmd->add_option("--vad-model", o.segmenter.vad_model,
                  "Speech detector: a learned one's file (default: the bundled models/voxsex-vad.pt), or "
                  "'energy' for the energy detector (--vad-range, --vad-floor-*)");
  cmd->add_option("--vad-threshold", o.segmenter.vad_threshold,
                  "A learned detector's speech logit threshold (default: the detector's own)");
  cmd->add_option("--vad-error", o.segmenter.vad_error,
                  "Viterbi emission: how often a frame's speech/non-speech decision is wrong")
      ->capture_default_str();
  cmd->add_option("--max-pause", o.segmenter.max_pause_s,
                  "Pauses shorter than this (seconds) between two speech segments of the same "
                  "label become speech (0 = none)")
      ->capture_default_str();
  cmd->add_option("--min-segment", o.segmenter.min_segment_s,
                  "Speech segments shorter than this (seconds) join their longer neighbour or "
                  "are dropped")
      ->capture_default_str();
  cmd->callback([&o]() {
    if (!o.list_path.empty() && o.segments_path.empty()) std::swap(o.input_dir, o.segments_path);
  });
  cmd->footer(
      "Examples:\n"
      "  voxsex segment shows/ segments.tsv --summary summary.tsv\n"
      "  voxsex segment --list calls.txt segments.tsv --rttm calls.rttm --textgrid grids/\n\n"
      "Overlapped speech is out of scope: every moment gets one label.\n"
      "Exit status: 0 all files segmented; 1 some files failed (each reported on stderr with its\n"
      "path and reason; the others are segmented and written, unless --fail-fast); 2 usage,\n"
      "configuration, model or output error (nothing written).");
  return cmd;
}

int run_segment(const SegmentOptions& opts) {
  const auto t0 = Clock::now();
  std::vector<FileResult> files;
  const std::string model_path = opts.model_path.empty() ? DefaultModelPath() : opts.model_path;
  const std::string source =
      opts.list_path.empty() ? "'" + opts.input_dir + "'" : "--list '" + opts.list_path + "'";
  std::optional<Segmenter> segmenter;
  try {
    opts.Validate();
    spdlog::debug("{}", opts.ToString());
    if (model_path.empty()) {
      throw ConfigError("no bundled model found; pass --model or set VOXSEX_MODEL");
    }
    files = GatherInputs(opts.input_dir, opts.list_path, opts.recursive, opts.shard);
    ModelOptions mopts;
    mopts.num_threads = opts.num_threads;
    mopts.batch_size = opts.batch_size;
    segmenter.emplace(GenderModel::Load(model_path, mopts), opts.segmenter);
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  spdlog::info("{} audio files from {}, model '{}', speech detector {}", files.size(), source, model_path,
               segmenter->speech_detector());

  std::vector<SegmentResult> results;  // of the segmented files
  ProgressReporter progress(files.size(), "files");
  const FileResult* first_failure = nullptr;  // with --fail-fast: the failure that stopped the run
  for (FileResult& f : files) {
    if (!f.error.empty()) {
      f.error = "cannot segment '" + f.path + "': " + f.error;  // e.g. a shared id
    } else {
      SegmentResult r = segmenter->SegmentFile(f.path);
      r.id = f.id;
      if (r.done) {
        results.push_back(std::move(r));
      } else {
        f.error = r.error;
      }
    }
    progress.Add();
    if (!f.error.empty()) {
      progress.ClearLine();
      spdlog::error("{}", TsvField(f.error));
      if (opts.fail_fast) {
        first_failure = &f;
        break;
      }
    }
  }
  progress.Finish();

  std::vector<const SegmentResult*> done;
  double audio_s = 0.0;
  for (const auto& r : results) {
    done.push_back(&r);
    audio_s += r.duration_s;
  }
  BatchEnd end;
  end.outputs.emplace_back("segments", opts.segments_path);
  if (!opts.summary_path.empty()) end.outputs.emplace_back("summary", opts.summary_path);
  if (!opts.rttm_path.empty()) end.outputs.emplace_back("RTTM", opts.rttm_path);
  if (!opts.textgrid_dir.empty()) end.outputs.emplace_back("TextGrids", opts.textgrid_dir);
  end.contents = [&opts, &done] {
    std::vector<std::pair<std::string, std::string>> out{{opts.segments_path, SegmentsTsv(done)}};
    if (!opts.summary_path.empty()) out.emplace_back(opts.summary_path, SegmentSummaryTsv(done));
    if (!opts.rttm_path.empty()) out.emplace_back(opts.rttm_path, SegmentsRttm(done));
    if (!opts.textgrid_dir.empty()) {
      std::error_code ec;
      fs::create_directories(opts.textgrid_dir, ec);
      if (!fs::is_directory(opts.textgrid_dir)) {
        throw IoError("--textgrid '" + opts.textgrid_dir + "' is not a directory and cannot be made");
      }
      for (const SegmentResult* r : done) {
        out.emplace_back((fs::path(opts.textgrid_dir) / (r->id + ".TextGrid")).string(),
                         SegmentsTextGrid(*r));
      }
    }
    return out;
  };
  end.errors_path = opts.errors_path;
  end.stopped_at = first_failure;
  end.failed = FailedFiles(files, first_failure);
  end.summary = fmt::format("{} files: {} segmented, {} failed", files.size(), done.size(),
                            end.failed.size());
  end.speed = [audio_s](double secs) {
    return fmt::format("{:.1f} s of audio, {:.0f}x real time", audio_s,
                       audio_s / std::max(secs, 1e-9));
  };
  end.start = t0;
  return FinishBatch(end);
}

}  // namespace voxsex::cli
