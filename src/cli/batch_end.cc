#include "cli/batch_end.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "voxsex/batch.h"
#include "voxsex/error.h"
#include "voxsex/tsv.h"

namespace voxsex::cli {
namespace {

using Files = std::vector<std::pair<std::string, std::string>>;

// Throws IoError when stdout cannot take `content` (e.g. a closed pipe).
void WriteStdout(const std::string& content) {
  if (std::fwrite(content.data(), 1, content.size(), stdout) != content.size() ||
      std::fflush(stdout) != 0) {
    throw IoError(std::string("cannot write to stdout: ") + std::strerror(errno));
  }
}

// "answers in 'a.tsv'", "answers on stdout".
std::string Where(const std::string& what, const std::string& path) {
  return what + (path == "-" ? " on " : " in ") + DescribeOutput(path);
}

}  // namespace

std::string DescribeOutput(const std::string& path) {
  return path == "-" ? "stdout" : "'" + path + "'";
}

void CheckErrorsPath(const std::string& errors_path, const std::vector<std::string>& others,
                     const std::string& others_named) {
  if (errors_path == "-") {
    throw ConfigError("--errors needs a file name (the errors are on stderr already)");
  }
  if (!errors_path.empty() &&
      std::find(others.begin(), others.end(), errors_path) != others.end()) {
    throw ConfigError("--errors '" + errors_path + "' is also " + others_named);
  }
}

int FinishBatch(const BatchEnd& end) {
  const bool stopped = end.stopped_at != nullptr;
  try {
    Files outputs;
    if (!stopped && end.contents) outputs = end.contents();
    if (!end.errors_path.empty()) outputs.emplace_back(end.errors_path, ErrorsTsv(end.failed));
    // Files first, as one step (all or none replaced), then anything bound for stdout.
    Files files;
    for (const auto& o : outputs) {
      if (o.first != "-") files.push_back(o);
    }
    WriteFilesAtomic(files);
    for (const auto& o : outputs) {
      if (o.first == "-") WriteStdout(o.second);
    }
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  }

  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - end.start).count();
  Files written = stopped ? Files{} : end.outputs;  // (what, path)
  if (!end.errors_path.empty()) written.emplace_back("errors", end.errors_path);
  std::string where;  // "; answers in 'a.tsv', errors in 'e.tsv'"
  for (const auto& [what, path] : written) {
    where += (where.empty() ? "; " : ", ") + Where(what, path);
  }
  if (stopped) {
    std::string unwritten;  // "'a.tsv' and scores", "'s.tsv', summary and RTTM"
    for (std::size_t i = 0; i < end.outputs.size(); ++i) {
      if (i == 0) {
        unwritten = DescribeOutput(end.outputs[i].second);
      } else {
        unwritten += (i + 1 == end.outputs.size() ? " and " : ", ") + end.outputs[i].first;
      }
    }
    spdlog::error("stopped at the first failure (--fail-fast) after {:.2f} s: {}; {} not written{}",
                  secs, TsvField(end.stopped_at->path), unwritten, where);
    return 1;
  }
  if (!end.failed.empty()) {
    constexpr std::size_t kListed = 10;
    std::string names;
    for (std::size_t i = 0; i < std::min(kListed, end.failed.size()); ++i) {
      names += (i ? ", " : "") + TsvField(end.failed[i]->path);
    }
    if (end.failed.size() > kListed) {
      names += fmt::format(" and {} more", end.failed.size() - kListed);
    }
    spdlog::warn("{} ({:.2f} s){}; failed: {}", end.summary, secs, where, names);
    return 1;
  }
  spdlog::info("{} ({:.2f} s{}){}", end.summary, secs,
               end.speed ? ", " + end.speed(secs) : std::string(), where);
  return 0;
}

}  // namespace voxsex::cli
