// The end of a batch command (predict, segment), by one rule for both: which outputs are written
// (--errors, --fail-fast), how (together, atomically), the last log line and the exit status.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "voxsex/classifier.h"

namespace voxsex::cli {

// 'path', or stdout for "-".
std::string DescribeOutput(const std::string& path);

// --errors: throws ConfigError when `errors_path` is "-" (the errors are on stderr already) or the
// path of one of the command's other outputs `others` ("" entries ignored), which the message
// names as `others_named` ("ANSWERS or --scores").
void CheckErrorsPath(const std::string& errors_path, const std::vector<std::string>& others,
                     const std::string& others_named);

struct BatchEnd {
  // The command's own outputs (not --errors) as the log names them, (what, path): ("answers",
  // "a.tsv"), ("TextGrids", "grids/"); "-" = stdout.
  std::vector<std::pair<std::string, std::string>> outputs;
  // Their files, (path, content), "-" = stdout; called only when the run was not stopped. May
  // throw Error (e.g. IoError: a directory cannot be made), an output error.
  std::function<std::vector<std::pair<std::string, std::string>>()> contents;
  std::string errors_path;                // --errors; "" = none
  std::vector<const FileResult*> failed;  // FailedFiles(files, stopped_at)
  const FileResult* stopped_at = nullptr;  // --fail-fast stopped the run at this failure
  std::string summary;                    // "68 files: 43 classified, 25 failed"
  // The speed on the line of a run without failures, from its seconds: "12.5 files/s".
  std::function<std::string(double elapsed_s)> speed;
  std::chrono::steady_clock::time_point start;  // of the run
};

// Writes the outputs and --errors (ErrorsTsv of end.failed; header only when nothing failed)
// together: the files in one WriteFilesAtomic (all or none replaced), then anything bound for
// stdout. When the run was stopped (--fail-fast), only --errors is written and the others are
// left as they were. Then logs the run's last line: the stop, naming the file and what was not
// written; or the summary with where the outputs went, and the first 10 failed paths.
// Returns 0 when nothing failed, 1 when some files failed or the run was stopped, 2 when an
// output could not be written (logged).
int FinishBatch(const BatchEnd& end);

}  // namespace voxsex::cli
