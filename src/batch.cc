#include "voxsex/batch.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "hash.h"
#include "voxsex/error.h"
#include "voxsex/tsv.h"

namespace voxsex {
namespace {

namespace fs = std::filesystem;

FileResult FromPath(const fs::path& path) {
  FileResult f;
  f.path = path.string();
  f.id = path.stem().string();
  return f;
}

// Appends the audio files met by `it` (a directory iterator) to `files`.
template <typename Iterator>
void Collect(Iterator it, const std::string& dir, std::vector<FileResult>& files) {
  std::error_code ec;
  const auto fail = [&dir](const std::error_code& e) {
    throw ConfigError("cannot list '" + dir + "': " + e.message());
  };
  for (; it != Iterator(); it.increment(ec)) {
    if (ec) fail(ec);
    std::error_code type_ec;
    // A directory (descended into by the recursive iterator unless it is a symlink) is not a file,
    // even when it is named x.wav.
    if (it->is_directory(type_ec)) continue;
    if (HasAudioExtension(it->path().filename().string())) files.push_back(FromPath(it->path()));
  }
  if (ec) fail(ec);
}

}  // namespace

std::vector<FileResult> ListAudioFiles(const std::string& dir, bool recursive) {
  std::vector<FileResult> files;
  std::error_code ec;
  if (recursive) {
    fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
    if (ec) throw ConfigError("cannot list '" + dir + "': " + ec.message());
    Collect(std::move(it), dir, files);
  } else {
    fs::directory_iterator it(dir, ec);
    if (ec) throw ConfigError("cannot list '" + dir + "': " + ec.message());
    Collect(std::move(it), dir, files);
  }
  std::sort(files.begin(), files.end(),
            [](const FileResult& a, const FileResult& b) { return a.path < b.path; });
  return files;
}

std::vector<FileResult> ReadFileList(const std::string& list_path) {
  std::ifstream in(list_path, std::ios::binary);
  if (!in) throw ConfigError("cannot read --list '" + list_path + "': " + std::strerror(errno));
  std::vector<FileResult> files;
  std::set<std::string> seen;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t\v\f") == std::string::npos || line[0] == '#') continue;
    if (!seen.insert(line).second) {
      spdlog::warn("{}:{}: '{}' is listed again; it is classified once", list_path, line_no, line);
      continue;
    }
    FileResult f = FromPath(line);
    std::error_code ec;
    if (!fs::exists(line, ec)) {
      f.error = "no such file (listed in '" + list_path + "' line " + std::to_string(line_no) + ")";
    }
    files.push_back(std::move(f));
  }
  if (in.bad()) throw ConfigError("cannot read --list '" + list_path + "'");
  return files;
}

void MarkBadIds(std::vector<FileResult>& files) {
  std::map<std::string, std::vector<std::size_t>> by_id;
  for (std::size_t i = 0; i < files.size(); ++i) {
    FileResult& f = files[i];
    if (f.id.empty() || f.id.find_first_of("\t\r\n") != std::string::npos) {
      if (f.error.empty()) {
        f.error = "its id (the file name without extension) is empty or contains a tab or line "
                  "break";
      }
      continue;
    }
    by_id[f.id].push_back(i);
  }
  for (const auto& [id, idx] : by_id) {
    if (idx.size() < 2) continue;
    for (std::size_t i : idx) {
      std::string others;
      for (std::size_t j : idx) {
        if (j != i) others += (others.empty() ? "'" : ", '") + files[j].path + "'";
      }
      files[i].error = "its id '" + id + "' is also the id of " + others;
    }
  }
}

std::optional<Shard> ParseShard(const std::string& text) {
  const auto parse_int = [](const std::string& s) -> std::optional<int> {
    if (s.empty() || s.size() > 9) return std::nullopt;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
    }
    return std::stoi(s);
  };
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const auto k = parse_int(text.substr(0, slash));
  const auto n = parse_int(text.substr(slash + 1));
  if (!k || !n || *k < 1 || *k > *n) return std::nullopt;
  return Shard{*k, *n};
}

bool InShard(const std::string& id, const Shard& shard) {
  return internal::Fnv1a64(id) % static_cast<std::uint64_t>(shard.count) ==
         static_cast<std::uint64_t>(shard.index - 1);
}

std::vector<FileResult> GatherInputs(const std::string& dir, const std::string& list_path,
                                     bool recursive, const std::string& shard) {
  std::vector<FileResult> files =
      list_path.empty() ? ListAudioFiles(dir, recursive) : ReadFileList(list_path);
  if (files.empty()) {
    throw ConfigError("no audio files in " +
                      (list_path.empty() ? "'" + dir + "'" : "--list '" + list_path + "'"));
  }
  MarkBadIds(files);
  if (shard.empty()) return files;
  const std::optional<Shard> s = ParseShard(shard);
  if (!s) throw ConfigError("--shard must be K/N with whole numbers 1 <= K <= N, not '" + shard + "'");
  const std::size_t listed = files.size();
  files.erase(std::remove_if(files.begin(), files.end(),
                             [&s](const FileResult& f) { return !InShard(f.id, *s); }),
              files.end());
  spdlog::info("shard {}/{}: {} of {} files", s->index, s->count, files.size(), listed);
  return files;
}

std::string AnswersTsv(const std::vector<const FileResult*>& classified) {
  std::string text;
  for (const FileResult* f : classified) text += fmt::format("{}\t{}\n", f->id, f->gender);
  return text;
}

std::string ScoresTsv(const std::vector<const FileResult*>& classified) {
  std::string text = "id\tp_female\tconfidence\tduration_s\tspeech_s\tflags\n";
  for (const FileResult* f : classified) {
    const double p = f->prediction.p_female;
    std::string flags;
    for (const std::string& flag : f->flags) flags += (flags.empty() ? "" : ",") + flag;
    text += fmt::format("{}\t{}\t{:.4f}\t{:.3f}\t{:.2f}\t{}\n", f->id, FormatPFemale(p),
                        std::max(p, 1.0 - p), f->duration_s, f->prediction.speech_s,
                        flags.empty() ? "-" : flags);
  }
  return text;
}

std::string ErrorsTsv(const std::vector<const FileResult*>& failed) {
  std::string text = "path\treason\n";
  for (const FileResult* f : failed) text += TsvField(f->path) + "\t" + TsvField(f->error) + "\n";
  return text;
}

std::vector<const FileResult*> FailedFiles(const std::vector<FileResult>& files,
                                           const FileResult* stopped_at) {
  if (stopped_at != nullptr) return {stopped_at};
  std::vector<const FileResult*> failed;
  for (const FileResult& f : files) {
    if (!f.error.empty()) failed.push_back(&f);
  }
  std::sort(failed.begin(), failed.end(),
            [](const FileResult* a, const FileResult* b) { return a->path < b->path; });
  return failed;
}

std::string TsvField(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace voxsex
