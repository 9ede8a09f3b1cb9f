// Progress of a long command on stderr (predict, train).
#pragma once

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <string>
#include <utility>

namespace voxsex::cli {

// "m:ss", or "h:mm:ss" from an hour.
inline std::string FormatDuration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

// Progress of a run on stderr. When stderr is a terminal: one line redrawn in place (at most ten
// times a second), `[####......] 123/592 files  410 files/s  ETA 0:03`. Otherwise: an info log
// line with the same numbers every 10 s or every 1000 items. Silent when the log level is warn or
// above (-q). Thread-safe.
class ProgressReporter {
 public:
  using Clock = std::chrono::steady_clock;

  // `total` items called `unit` ("files", "examples").
  ProgressReporter(std::size_t total, std::string unit)
      : total_(total),
        unit_(std::move(unit)),
        enabled_(spdlog::get_level() < spdlog::level::warn),
        tty_(::isatty(STDERR_FILENO) == 1),
        start_(Clock::now()),
        last_report_(start_) {}

  // Counts `n` more items as done.
  void Add(std::size_t n = 1) {
    if (!enabled_) return;
    std::lock_guard<std::mutex> lock(mu_);
    done_ += n;
    const auto now = Clock::now();
    const double since_last = std::chrono::duration<double>(now - last_report_).count();
    if (tty_) {
      if (since_last >= 0.1 || done_ == total_) Draw(now);
    } else if (since_last >= 10.0 || done_ - done_at_last_report_ >= 1000) {
      spdlog::info("progress: {}", Numbers(now));
      last_report_ = now;
      done_at_last_report_ = done_;
    }
  }

  // Items counted so far.
  std::size_t done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }

  // Erases the terminal line, so that a log message starts at column 0; the next Add redraws it.
  void ClearLine() {
    if (!enabled_ || !tty_) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (line_shown_) std::fputs("\r\033[K", stderr);
    line_shown_ = false;
  }

  // Draws the final state on the terminal and ends its line.
  void Finish() {
    if (!enabled_ || !tty_) return;
    std::lock_guard<std::mutex> lock(mu_);
    Draw(Clock::now());
    std::fputs("\n", stderr);
    line_shown_ = false;
  }

 private:
  // "123/592 files  410 files/s  ETA 0:03".
  std::string Numbers(Clock::time_point now) const {
    const double elapsed_s = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed_s > 0.0 ? done_ / elapsed_s : 0.0;
    const std::string eta =
        rate > 0.0 ? FormatDuration((total_ - std::min(done_, total_)) / rate) : "-:--";
    return fmt::format("{}/{} {}  {:.0f} {}/s  ETA {}", done_, total_, unit_, rate, unit_, eta);
  }

  void Draw(Clock::time_point now) {
    constexpr std::size_t kWidth = 20;
    const std::size_t filled = total_ > 0 ? std::min(kWidth, done_ * kWidth / total_) : kWidth;
    const std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '.');
    std::fprintf(stderr, "\r[%s] %s\033[K", bar.c_str(), Numbers(now).c_str());
    std::fflush(stderr);
    line_shown_ = true;
    last_report_ = now;
  }

  std::mutex mu_;
  const std::size_t total_;
  const std::string unit_;
  const bool enabled_;
  const bool tty_;
  const Clock::time_point start_;
  Clock::time_point last_report_;
  std::size_t done_ = 0;
  std::size_t done_at_last_report_ = 0;
  bool line_shown_ = false;
};

}  // namespace voxsex::cli
