// The answers/targets TSV contract: `id<TAB>gender`, gender 0 = male, 1 = female.
#pragma once

#include <signal.h>

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace voxsex {

// One line of answers.tsv or targets.tsv.
struct Answer {
  std::string id;
  int gender = 0;            // 0 = male, 1 = female
  std::size_t line_number = 0;  // 1-based line of the file it was read from; 0 if not read
};
using Target = Answer;

// Reads `id<TAB>gender` lines. Accepts CRLF line ends, a UTF-8 BOM, trailing whitespace and blank
// lines; an optional header line `id<TAB>gender` is skipped. Throws IoError naming the path when
// the file cannot be opened or read; FormatError naming the path and line number for a malformed
// line, a label other than 0/1, or a duplicated id (unless allow_duplicates, in which case all
// lines are returned in file order).
std::vector<Answer> ReadAnswers(const std::string& path, bool allow_duplicates = false);
inline std::vector<Target> ReadTargets(const std::string& path) { return ReadAnswers(path); }

// Writes answers sorted by id, one `id<TAB>gender` line each, to a temporary file beside `path`
// that is then renamed over it, so `path` is never half-written. Throws FormatError naming the path
// for an empty id, an id with a tab or line break, or a label other than 0/1 (nothing written);
// IoError on I/O failure.
void WriteAnswers(const std::string& path, std::vector<Answer> answers);

// p_female (a probability in [0, 1]) as scores.tsv prints it: 4 decimals, rounded to nearest
// except that a p_female under 0.5 never prints as 0.5000 (it prints 0.4999), so the printed
// value is >= 0.5 exactly when the answer (gender 1 iff p_female >= 0.5) is female. No errors.
std::string FormatPFemale(double p_female);

// Writes `content` to `path` atomically: a temporary file in the same directory (unnamed,
// O_TMPFILE, where the file system supports it, so a killed process leaves no stray file), fsync,
// then rename over `path` inside a TerminationHold. A process killed at any moment leaves `path`
// either as it was or whole. Throws IoError naming the path.
void WriteFileAtomic(const std::string& path, const std::string& content);

// Writes several files as one step: every content first goes to a fsynced temporary file beside
// its destination (as WriteFileAtomic), and only when all are written are they renamed into place,
// in order and back to back, inside a TerminationHold: SIGINT/SIGTERM/SIGHUP/SIGQUIT leave either
// every destination old or every one new (in a multi-threaded process only once
// DeferTerminationDuringAtomicWrites has been called). SIGKILL or a crash between two renames can
// still leave some new and some old. A failure while writing leaves every destination untouched.
// Throws IoError naming the path.
void WriteFilesAtomic(const std::vector<std::pair<std::string, std::string>>& files);

// Holds back the termination signals a user or a job scheduler sends (SIGINT, SIGTERM, SIGHUP,
// SIGQUIT) for its lifetime; one that arrived meanwhile takes effect (its default action: the
// process ends by that signal) when the last hold in the process ends. The calling thread's mask
// blocks them; a signal delivered to another thread (LibTorch's and OpenMP's workers do not block
// them) is only held when DeferTerminationDuringAtomicWrites was called. Meant for a few system
// calls (WriteFilesAtomic's renames), not for long work. Throws nothing.
class TerminationHold {
 public:
  TerminationHold();
  ~TerminationHold();
  TerminationHold(const TerminationHold&) = delete;
  TerminationHold& operator=(const TerminationHold&) = delete;

 private:
  sigset_t previous_;
  bool blocked_ = false;
};

// Makes TerminationHold process-wide: installs a handler for SIGINT, SIGTERM, SIGHUP and SIGQUIT
// (each only while it is at its default action: an ignored SIGHUP under nohup, or a caller's own
// handler, is left alone) that ends the process by the signal at once, as the default action
// would, unless some thread is inside a TerminationHold, in which case the hold's end does. POSIX
// delivers a signal sent to the process to any thread that does not block it, so a per-thread
// mask alone lets a SIGTERM land on a worker thread between two renames. Call it once from main,
// before or after threads start. The handler uses SA_RESTART. Throws nothing (a failed sigaction
// leaves that signal as it was).
void DeferTerminationDuringAtomicWrites();

// A table with a header line, e.g. meta.tsv. rows[i][column] = value.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::map<std::string, std::string>> rows;
};

// Reads a TSV with a header line. Throws IoError naming the path when the file cannot be opened or
// read; FormatError naming path and line for a row whose field count differs from the header's, an
// empty or duplicated column name, or a file without a header line.
Table ReadTable(const std::string& path);

}  // namespace voxsex
