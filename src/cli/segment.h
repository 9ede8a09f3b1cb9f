// `voxsex segment`: who speaks when, by gender, in long recordings: segments.tsv and, optionally,
// a per-file summary, NIST RTTM and Praat TextGrids.
#pragma once

#include <string>

#include "voxsex/segment.h"

namespace CLI {
class App;
}

namespace voxsex::cli {

struct SegmentOptions {
  std::string input_dir;      // DIR; "" when the files come from --list
  std::string list_path;      // --list: one audio path per line; "" = use DIR
  std::string segments_path;  // SEGMENTS: segments.tsv
  std::string summary_path;   // --summary: one row per file; "" = none
  std::string rttm_path;      // --rttm: NIST RTTM; "" = none
  std::string textgrid_dir;   // --textgrid: one <id>.TextGrid per file; "" = none
  std::string errors_path;    // --errors: `path<TAB>reason` per failed file; "" = none
  std::string model_path;     // "" = bundled model
  std::string shard;          // --shard K/N; "" = all files
  bool recursive = false;     // also segment files in subdirectories of DIR
  bool fail_fast = false;     // stop at the first failed file; only --errors written
  int num_threads = 0;        // 0 = all cores
  // Windows per forward pass. 16, not predict's 32: on the 1-hour file of scripts/bench/bench.sh
  // peak RSS 271 MB against 302 MB (issue 15's bound is 300 MB), the same segments and speed
  // (11.5-11.8 s against 11.3-11.5 s with --threads 2; README.md, segment).
  int batch_size = 16;
  SegmenterOptions segmenter;  // window, hop, switch penalty, max pause, min segment

  // Throws ConfigError: not exactly one of DIR / --list, DIR not a directory, SEGMENTS missing,
  // two outputs the same path, --errors "-", --recursive with --list, --shard not K/N with
  // 1 <= K <= N, num_threads < 0, batch_size < 1, or invalid segmenter options.
  void Validate() const;
  std::string ToString() const;
};

// Adds the `segment` subcommand to `app`, binding its arguments to `opts`.
CLI::App* setup_segment(CLI::App& app, SegmentOptions& opts);

// Segments the files (Segmenter::SegmentFile, one after another in GatherInputs order, the model on
// num_threads threads) and writes every output together atomically, as predict does
// (FinishBatch). A file that fails is reported on stderr at once, naming it and the reason; the
// rest are written, and --errors gets a TSV with the header `path\treason` and one row per failed
// file sorted by path. With --fail-fast the run stops at the first failure and writes only
// --errors (holding that failure). Returns 0 when every file was segmented, 1 when some failed or
// the run was stopped, 2 on a usage, model or output error (nothing written).
int run_segment(const SegmentOptions& opts);

}  // namespace voxsex::cli
