// The batch pipeline around the Classifier: which files a run classifies (a directory, a list, a
// shard of either), which of them failed, and the text of its outputs (answers.tsv, scores.tsv,
// errors.tsv).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "voxsex/classifier.h"

namespace voxsex {

// Audio files in `dir` (HasAudioExtension, case-insensitive), sorted by path, each with its path
// and id (file name without extension). With `recursive` subdirectories are searched too, but
// symlinked directories are not followed (no loops). A directory named x.wav is not a file.
// Throws ConfigError when a directory cannot be listed.
std::vector<FileResult> ListAudioFiles(const std::string& dir, bool recursive);

// The paths listed in `list_path`, one per line, in file order; blank lines and lines starting
// with '#' are skipped, a UTF-8 BOM and a trailing '\r' are dropped, relative paths are used as
// given. A path that does not exist gets an error naming the list and line; a path listed again
// is warned about and kept once. Throws ConfigError when the list cannot be read.
std::vector<FileResult> ReadFileList(const std::string& list_path);

// Fails the files whose id cannot be written (empty, tab or line break) or is shared with another
// file, each duplicate's message naming the others. Files that already failed keep their error.
void MarkBadIds(std::vector<FileResult>& files);

// --shard K/N: a run classifies shard `index` (1-based) of `count`.
struct Shard {
  int index = 1;
  int count = 1;
};

// Parses "K/N" (decimal integers, 1 <= K <= N); nullopt otherwise.
std::optional<Shard> ParseShard(const std::string& text);

// True when `id` belongs to `shard`: FNV-1a 64 of the id's bytes modulo count == index - 1, a
// deterministic partition (http://www.isthe.com/chongo/tech/comp/fnv/).
bool InShard(const std::string& id, const Shard& shard);

// The files a run takes, as predict and segment gather them: ListAudioFiles(dir, recursive) when
// `dir` is given, else ReadFileList(list_path); MarkBadIds; then, with a `shard` ("K/N", "" =
// all), only the files InShard keeps (logged: how many of how many). Throws ConfigError when
// there is no input file, when the directory or list cannot be read, or for a malformed shard.
std::vector<FileResult> GatherInputs(const std::string& dir, const std::string& list_path,
                                     bool recursive, const std::string& shard);

// answers.tsv: `id<TAB>gender` for each classified file, sorted by id (the bytes WriteAnswers
// writes).
std::string AnswersTsv(const std::vector<const FileResult*>& classified);

// scores.tsv: the header `id p_female confidence duration_s speech_s flags`, then one row per
// classified file sorted by id: p_female by FormatPFemale, confidence = max(p, 1 - p) to 4
// decimals, duration_s 3 decimals, speech_s 2, flags comma-separated or "-".
std::string ScoresTsv(const std::vector<const FileResult*>& classified);

// errors.tsv: the header `path reason`, then one row per failed file in the given order, fields
// escaped by TsvField.
std::string ErrorsTsv(const std::vector<const FileResult*>& failed);

// The failed files of a run (predict, segment), as --errors and the run's summary list them: the
// files of `files` with an error, sorted by path. When a --fail-fast run stopped at `stopped_at`
// (one of `files`), that file alone: the files after it were not run, and other files of its
// chunk may have failed unreported.
std::vector<const FileResult*> FailedFiles(const std::vector<FileResult>& files,
                                           const FileResult* stopped_at = nullptr);

// `text` as one TSV field on one line: backslash, tab, CR and LF escaped as \\, \t, \r, \n.
std::string TsvField(const std::string& text);

}  // namespace voxsex
