// Helpers for tests that run the voxsex binary.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace voxsex::test {

// Result of running a command: exit status and what it printed on stdout and stderr.
struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};

inline std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Single-quotes `s` for /bin/sh.
inline std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `args` (already quoted where needed) with the voxsex binary under test.
inline RunResult RunVoxsex(const std::string& args, const std::filesystem::path& work_dir) {
  std::filesystem::create_directories(work_dir);
  const auto out = work_dir / "stdout.txt", err = work_dir / "stderr.txt";
  const std::string cmd = Quote(VOXSEX_BIN) + " " + args + " >" + Quote(out.string()) + " 2>" +
                          Quote(err.string()) + " </dev/null";
  const int rc = std::system(cmd.c_str());
  RunResult r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

// A fresh, empty directory under the build tree for one test.
inline std::filesystem::path FreshDir(const std::string& name) {
  const auto d = std::filesystem::path(VOXSEX_BUILD_DIR) / "work" / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// Leftover temporary files (names containing ".tmp") directly in `dir`: an atomic writer must
// leave none, whether it succeeded or failed.
inline std::vector<std::string> TempFilesIn(const std::filesystem::path& dir) {
  std::vector<std::string> tmp;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().find(".tmp") != std::string::npos) {
      tmp.push_back(e.path().string());
    }
  }
  return tmp;
}

// Sets (or, with nullopt, unsets) an environment variable for the scope; restores it after.
class ScopedEnv {
 public:
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// id -> p_female of a scores.tsv (predict --scores: a header, then id<TAB>p_female<TAB>...).
inline std::map<std::string, double> ReadPFemale(const std::filesystem::path& scores) {
  std::map<std::string, double> p;
  std::istringstream in(ReadFile(scores));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string id, value;
    std::getline(row, id, '\t');
    std::getline(row, value, '\t');
    p[id] = std::stod(value);
  }
  return p;
}

// Writes mono samples as a 16-bit PCM WAV file (little-endian) at sample_rate_hz; samples are
// clamped to [-1, 1] and scaled by 32767.
inline void WriteWav16(const std::filesystem::path& path, const std::vector<float>& samples,
                       int sample_rate_hz = 16000) {
  std::ofstream f(path, std::ios::binary);
  const auto u16 = [&f](std::uint16_t v) {
    const char b[2] = {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
    f.write(b, 2);
  };
  const auto u32 = [&u16](std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v & 0xffff));
    u16(static_cast<std::uint16_t>(v >> 16));
  };
  const auto data_bytes = static_cast<std::uint32_t>(samples.size() * 2);
  f.write("RIFF", 4);
  u32(36 + data_bytes);
  f.write("WAVEfmt ", 8);
  u32(16);
  u16(1);  // PCM
  u16(1);  // mono
  u32(static_cast<std::uint32_t>(sample_rate_hz));
  u32(static_cast<std::uint32_t>(sample_rate_hz) * 2);
  u16(2);
  u16(16);
  f.write("data", 4);
  u32(data_bytes);
  for (float x : samples) {
    const float c = std::clamp(x, -1.0f, 1.0f);
    u16(static_cast<std::uint16_t>(static_cast<std::int16_t>(std::lround(c * 32767.0f))));
  }
}

// Uniform white noise of n samples at about `dbfs` RMS, deterministic (a 32-bit LCG).
inline std::vector<float> UniformNoise(std::size_t n, double dbfs, std::uint32_t seed) {
  const double amp = std::pow(10.0, dbfs / 20.0) * std::sqrt(3.0);
  std::vector<float> x(n);
  for (auto& v : x) {
    seed = seed * 1664525u + 1013904223u;
    v = static_cast<float>(amp * (2.0 * (seed >> 8) / 16777216.0 - 1.0));
  }
  return x;
}

// The bundled model in the source tree.
inline std::string BundledModel() { return std::string(VOXSEX_SOURCE_DIR) + "/models/voxsex.pt"; }
inline std::string UntrainedModel() {
  return std::string(VOXSEX_SOURCE_DIR) + "/models/voxsex-untrained.pt";
}

}  // namespace voxsex::test
