// Reading and writing the answers/targets TSV files and meta tables (see include/voxsex/tsv.h).
#include "voxsex/tsv.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <iterator>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "voxsex/error.h"

namespace voxsex {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// A file's bytes, or IoError naming the path ("<path>: cannot open: <strerror>").
std::string ReadWholeFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw IoError(path + ": cannot open: " + std::strerror(errno));
  }
  std::string content;
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) content.append(buffer, n);
  const int read_errno = errno;
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) throw IoError(path + ": cannot read: " + std::strerror(read_errno));
  return content;
}

// Splits `content` into lines on '\n', dropping a leading UTF-8 BOM and each line's trailing '\r'.
// Line i of the result is line i + 1 of the file.
std::vector<std::string_view> SplitLines(std::string_view content) {
  if (content.substr(0, kUtf8Bom.size()) == kUtf8Bom) content.remove_prefix(kUtf8Bom.size());
  std::vector<std::string_view> lines;
  while (!content.empty()) {
    const size_t end = content.find('\n');
    std::string_view line = content.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (end == std::string_view::npos) break;
    content.remove_prefix(end + 1);
  }
  return lines;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Strips surrounding spaces (not tabs: a tab separates fields).
std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool IsBlank(std::string_view s) { return TrimRight(s).empty(); }

std::vector<std::string_view> SplitTabs(std::string_view line) {
  std::vector<std::string_view> fields;
  while (true) {
    const size_t tab = line.find('\t');
    fields.push_back(TrimSpaces(line.substr(0, tab)));
    if (tab == std::string_view::npos) break;
    line.remove_prefix(tab + 1);
  }
  return fields;
}

std::string Where(const std::string& path, size_t line_number) {
  return path + ":" + std::to_string(line_number) + ": ";
}

// A file being written before it is renamed over its destination. Preferably an unnamed
// O_TMPFILE inode in the destination's directory, which a process killed at any moment (even by
// SIGKILL) leaves nowhere; where the file system lacks O_TMPFILE, a named "<path>.tmp.<random>"
// removed by the destructor (that one can survive a SIGKILL).
class TempFile {
 public:
  TempFile(int fd, std::string named_path) : fd_(fd), path_(std::move(named_path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  // True for an unnamed O_TMPFILE file, which needs Link() before it can be renamed.
  bool unnamed() const { return path_.empty(); }
  // The temporary name (empty while unnamed).
  const std::string& path() const { return path_; }
  // Gives an unnamed file the name `name` (linkat through /proc/self/fd, which needs no
  // privilege; AT_EMPTY_PATH as a fallback). Returns 0 or errno.
  int Link(const std::string& name) {
    const std::string proc = "/proc/self/fd/" + std::to_string(fd_);
    if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW) != 0 &&
        ::linkat(fd_, "", AT_FDCWD, name.c_str(), AT_EMPTY_PATH) != 0) {
      return errno;
    }
    path_ = name;
    return 0;
  }
  // The file now lives under its final name: do not remove it.
  void Release() { path_.clear(); }

 private:
  int fd_;
  std::string path_;
};

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// "<path>.tmp.<8 random characters>".
std::string RandomTempName(const std::string& path) {
  static thread_local std::mt19937_64 rng = [] {
    std::random_device device;
    return std::mt19937_64((static_cast<uint64_t>(device()) << 32) ^ device() ^
                           static_cast<uint64_t>(::getpid()));
  }();
  const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string name = path + ".tmp.";
  for (int i = 0; i < 8; ++i) name += digits[rng() % 36];
  return name;
}

// A new temporary file for `path`, with mode 0666 & ~umask like the final file would get:
// unnamed (O_TMPFILE) in path's directory when the file system supports it, else named
// "<path>.tmp.<random>". Throws IoError naming `path`.
std::unique_ptr<TempFile> CreateTempBeside(const std::string& path) {
  const int fd = ::open(DirectoryOf(path).c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  if (fd >= 0) return std::make_unique<TempFile>(fd, "");
  // EISDIR/EOPNOTSUPP: no O_TMPFILE here; anything else (e.g. ENOENT, EACCES) the named attempt
  // reports again with its own errno.
  int last_errno = EEXIST;
  for (int attempt = 0; attempt < 100 && last_errno == EEXIST; ++attempt) {
    std::string tmp_path = RandomTempName(path);
    const int named_fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (named_fd >= 0) return std::make_unique<TempFile>(named_fd, tmp_path);
    last_errno = errno;
  }
  throw IoError(path + ": cannot create a temporary file beside it: " + std::strerror(last_errno));
}

constexpr int kTerminationSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
constexpr std::uint32_t kHoldDepthMask = 0xffff;  // low 16 bits: threads inside a hold

// Process-wide hold state: how many threads are inside a TerminationHold (low 16 bits) and, above
// them, one bit per termination signal that arrived during a hold (bit 16 + index in
// kTerminationSignals). One word, so the signal handler and the hold's end agree without a lock.
std::atomic<std::uint32_t> g_hold_state{0};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "used from a signal handler");

// Ends the process with `sig`'s default action (async-signal-safe).
void DieBy(int sig) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
}

// The handler DeferTerminationDuringAtomicWrites installs: outside any hold, the default action
// at once; inside one, the signal is recorded and TerminationHold's end re-raises it.
void OnTerminationSignal(int sig) {
  const int saved_errno = errno;
  std::uint32_t bit = 0;
  for (std::size_t i = 0; i < std::size(kTerminationSignals); ++i) {
    if (kTerminationSignals[i] == sig) bit = 1u << (16 + i);
  }
  std::uint32_t state = g_hold_state.load();
  while ((state & kHoldDepthMask) != 0) {
    if (g_hold_state.compare_exchange_weak(state, state | bit)) {
      errno = saved_errno;
      return;
    }
  }
  // DieBy's raise is delivered when this handler returns (the signal is blocked while it runs).
  DieBy(sig);
  errno = saved_errno;
}

[[noreturn]] void ThrowIoError(const std::string& path, const std::string& what, int err) {
  throw IoError(path + ": " + what + ": " + std::strerror(err));
}

}  // namespace

void DeferTerminationDuringAtomicWrites() {
  for (int sig : kTerminationSignals) {
    struct sigaction current {};
    if (::sigaction(sig, nullptr, &current) != 0) continue;
    // An ignored signal (nohup's SIGHUP) or a caller's own handler is left alone.
    if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) continue;
    struct sigaction action {};
    action.sa_handler = OnTerminationSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(sig, &action, nullptr);
  }
}

TerminationHold::TerminationHold() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kTerminationSignals) sigaddset(&set, sig);
  blocked_ = ::pthread_sigmask(SIG_BLOCK, &set, &previous_) == 0;
  g_hold_state.fetch_add(1);
}

TerminationHold::~TerminationHold() {
  if (blocked_) ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);  // a held per-thread one lands now
  // The last hold to end takes the recorded signals with it, in the same step as it ends.
  std::uint32_t state = g_hold_state.load();
  std::uint32_t after = 0;
  do {
    after = (state & kHoldDepthMask) == 1 ? 0 : state - 1;
  } while (!g_hold_state.compare_exchange_weak(state, after));
  if (after != 0) return;  // another thread still holds
  const std::uint32_t pending = state >> 16;
  for (std::size_t i = 0; i < std::size(kTerminationSignals); ++i) {
    if ((pending & (1u << i)) != 0) DieBy(kTerminationSignals[i]);
  }
}

std::vector<Answer> ReadAnswers(const std::string& path, bool allow_duplicates) {
  const std::string content = ReadWholeFile(path);
  const std::vector<std::string_view> lines = SplitLines(content);
  std::vector<Answer> answers;
  std::unordered_map<std::string, size_t> first_line;  // id -> line number of its first answer
  bool seen_content = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t line_number = i + 1;
    const std::string_view line = TrimRight(lines[i]);
    if (line.empty()) continue;
    const std::vector<std::string_view> fields = SplitTabs(line);
    if (!seen_content) {
      seen_content = true;
      if (fields.size() == 2 && fields[0] == "id" && fields[1] == "gender") continue;  // header
    }
    if (fields.size() != 2) {
      throw FormatError(Where(path, line_number) + "expected 'id<TAB>gender', got " +
                        std::to_string(fields.size()) + " field" + (fields.size() == 1 ? "" : "s"));
    }
    if (fields[0].empty()) throw FormatError(Where(path, line_number) + "empty id");
    Answer answer;
    answer.id = std::string(fields[0]);
    answer.line_number = line_number;
    if (fields[1] == "0") {
      answer.gender = 0;
    } else if (fields[1] == "1") {
      answer.gender = 1;
    } else {
      throw FormatError(Where(path, line_number) + "unknown label '" + std::string(fields[1]) +
                        "' (expected 0 or 1)");
    }
    const auto [it, inserted] = first_line.emplace(answer.id, line_number);
    if (!inserted && !allow_duplicates) {
      throw FormatError(Where(path, line_number) + "duplicate id '" + answer.id +
                        "' (first on line " + std::to_string(it->second) + ")");
    }
    answers.push_back(std::move(answer));
  }
  return answers;
}

std::string FormatPFemale(double p_female) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", p_female);
  if (p_female < 0.5 && std::strcmp(text, "0.5000") == 0) return "0.4999";
  return text;
}

void WriteAnswers(const std::string& path, std::vector<Answer> answers) {
  std::sort(answers.begin(), answers.end(), [](const Answer& a, const Answer& b) {
    return a.id != b.id ? a.id < b.id : a.gender < b.gender;
  });
  std::string content;
  content.reserve(answers.size() * 24);
  for (const Answer& answer : answers) {
    if (answer.id.empty() || answer.id.find_first_of("\t\r\n") != std::string::npos) {
      throw FormatError(path + ": cannot write id '" + answer.id +
                        "': empty or contains a tab or line break");
    }
    if (answer.gender != 0 && answer.gender != 1) {
      throw FormatError(path + ": cannot write label " + std::to_string(answer.gender) +
                        " for id '" + answer.id + "' (expected 0 or 1)");
    }
    content += answer.id;
    content += '\t';
    content += static_cast<char>('0' + answer.gender);
    content += '\n';
  }
  WriteFileAtomic(path, content);
}

void WriteFileAtomic(const std::string& path, const std::string& content) {
  WriteFilesAtomic({{path, content}});
}

void WriteFilesAtomic(const std::vector<std::pair<std::string, std::string>>& files) {
  // Phase 1: every content in a fsynced temporary file beside its destination. A failure here
  // removes the temporary files (TempFile's destructor) and leaves every destination untouched.
  std::vector<std::unique_ptr<TempFile>> temps;
  for (const auto& [path, content] : files) {
    temps.push_back(CreateTempBeside(path));
    TempFile& tmp = *temps.back();
    const char* data = content.data();
    size_t remaining = content.size();
    while (remaining > 0) {
      const ssize_t n = ::write(tmp.fd(), data, remaining);
      if (n < 0) {
        if (errno == EINTR) continue;
        ThrowIoError(path, "cannot write", errno);
      }
      data += n;
      remaining -= static_cast<size_t>(n);
    }
    if (::fsync(tmp.fd()) != 0) ThrowIoError(path, "cannot fsync", errno);
  }
  // Phase 2: name the unnamed (O_TMPFILE) files, then rename every file into place back to back,
  // with termination signals held back (in every thread, once main has called
  // DeferTerminationDuringAtomicWrites) so that a Ctrl-C or SIGTERM cannot stop between a naming
  // and its rename (a named temporary file left behind) nor between two files' renames (some
  // destinations new and some old). Only SIGKILL or a crash can still land between two renames.
  {
    TerminationHold hold;
    try {
      for (size_t i = 0; i < files.size(); ++i) {
        TempFile& tmp = *temps[i];
        if (!tmp.unnamed()) continue;
        int err = EEXIST;
        for (int attempt = 0; attempt < 100 && err == EEXIST; ++attempt) {
          err = tmp.Link(RandomTempName(files[i].first));
        }
        if (err != 0) {
          ThrowIoError(files[i].first, "cannot link its temporary file into the directory", err);
        }
      }
      for (size_t i = 0; i < files.size(); ++i) {
        const std::string& path = files[i].first;
        if (::rename(temps[i]->path().c_str(), path.c_str()) != 0) {
          ThrowIoError(path, "cannot rename " + temps[i]->path() + " to it", errno);
        }
        temps[i]->Release();
      }
    } catch (...) {
      temps.clear();  // named temporary files removed before a held signal can end the process
      throw;
    }
  }
  // Make the renames durable; best effort (some file systems refuse fsync on a directory).
  std::set<std::string> directories;
  for (const auto& file : files) directories.insert(DirectoryOf(file.first));
  for (const std::string& directory : directories) {
    const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
  }
}

Table ReadTable(const std::string& path) {
  const std::string content = ReadWholeFile(path);
  const std::vector<std::string_view> lines = SplitLines(content);
  Table table;
  size_t header_line = 0;  // line number of the header, 0 until found
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t line_number = i + 1;
    if (IsBlank(lines[i])) continue;
    const std::vector<std::string_view> fields = SplitTabs(lines[i]);
    if (header_line == 0) {
      header_line = line_number;
      std::set<std::string_view> seen;
      for (const std::string_view name : fields) {
        if (name.empty()) throw FormatError(Where(path, line_number) + "empty column name");
        if (!seen.insert(name).second) {
          throw FormatError(Where(path, line_number) + "duplicate column '" + std::string(name) +
                            "'");
        }
        table.columns.emplace_back(name);
      }
      continue;
    }
    if (fields.size() != table.columns.size()) {
      throw FormatError(Where(path, line_number) + "expected " +
                        std::to_string(table.columns.size()) + " fields as in the header (line " +
                        std::to_string(header_line) + "), got " + std::to_string(fields.size()));
    }
    std::map<std::string, std::string> row;
    for (size_t c = 0; c < fields.size(); ++c) row.emplace(table.columns[c], fields[c]);
    table.rows.push_back(std::move(row));
  }
  if (header_line == 0) throw FormatError(path + ": empty, expected a header line");
  return table;
}

}  // namespace voxsex
