// `voxsex predict`: classify audio files (a directory, optionally recursive, or a list of paths)
// and write answers.tsv, optionally with a scores.tsv sidecar.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace voxsex::cli {

struct PredictOptions {
  std::string input_dir;     // DIR; "" when the files come from --list
  std::string list_path;     // --list: one audio path per line; "" = use DIR
  std::string answers_path;  // ANSWERS; "-" = stdout
  std::string scores_path;   // --scores: sidecar id, p_female, confidence, duration_s, speech_s,
                             // flags;
                             // "" = none, "-" = stdout
  std::string errors_path;   // --errors: `path<TAB>reason` per failed file; "" = none
  std::string model_path;    // "" = bundled model
  std::string shard;         // --shard K/N; "" = all files
  std::string device = "cpu";  // cpu or cuda
  bool recursive = false;    // also classify files in subdirectories of DIR
  bool fail_fast = false;    // stop at the first failed file; ANSWERS and --scores not written
  int num_threads = 0;       // 0 = all cores
  int batch_size = 32;

  // Throws ConfigError: not exactly one of DIR / --list, DIR not a directory, ANSWERS missing,
  // two of ANSWERS, --scores and --errors the same path, --errors "-", --recursive with --list,
  // --shard not K/N
  // with 1 <= K <= N, --device not cpu/cuda, num_threads < 0 or batch_size < 1.
  void Validate() const;
  std::string ToString() const;
};

// Adds the `predict` subcommand to `app`, binding its arguments to `opts`. Returns the subcommand.
// With --list a single positional argument is ANSWERS.
CLI::App* setup_predict(CLI::App& app, PredictOptions& opts);

// Classifies the files and writes ANSWERS (`id<TAB>gender`, sorted by id, no header) and, with
// --scores, a TSV with the header `id\tp_female\tconfidence\tduration_s\tspeech_s\tflags` and one
// row per classified file sorted by id: p_female (4 decimals, calibrated), confidence =
// max(p, 1 - p) (4 decimals), duration_s of the decoded audio (3 decimals), speech_s the seconds
// the model's speech detector found (2 decimals), flags = no_speech and CheckAudio's flags
// comma-separated (too_short, low_level, clipped, dc_offset, nonfinite; include/voxsex/audio.h)
// or "-" for none. Files are read in blocks of one model window (AudioStream), so memory does not
// grow with a file's length; a file's logits combine its blocks' by speech frames.
// A file fails when it cannot be read, CheckAudio refuses it (too short, no signal), its id is
// shared or unwritable, or the model fails on it: stderr gets one line `path: reason` at once, the
// end of the run a summary, and --errors a TSV with the header `path\treason` and one row per
// failed file sorted by path (tab, CR, LF and backslash escaped as \t \r \n \\).
// All outputs are written together atomically (or to stdout for "-"): a run killed at any moment
// leaves them as they were or whole. With --fail-fast the run stops at the first failure (in path
// order within a chunk of files) and writes only --errors. With --shard K/N only the files whose id
// hashes (FNV-1a 64-bit) to K - 1 modulo N are classified. Progress goes to stderr unless the log
// level is warn or above.
// Returns 0 when every file was classified, 1 when some failed (the rest written), 2 on a usage,
// model or output error.
int run_predict(const PredictOptions& opts);

}  // namespace voxsex::cli
