// libFuzzer target over the audio reader and the log-mel front end: the input is written to an
// in-memory file, read with voxsex::ReadAudio (libsndfile decode -> mono -> soxr resample), and
// whatever it returns goes through voxsex::MelFrontend. Invariants the headers promise are
// checked; a violation traps so libFuzzer saves the input.
//
// Input layout: all bytes but the last are the audio file; the last byte picks the reader's
// target rate (kTargetRatesHz[byte % 4]). Taking the option from the end keeps the seeds' file
// headers at offset 0, where libsndfile looks for them.
//
// Expected outcomes: a voxsex::Error (bad file, or audio the front end refuses). Findings: any
// other exception, a crash, a sanitizer report, a leak, a broken invariant, a hang.
//
// Set VOXSEX_FUZZ_VERBOSE=1 to print each input's outcome to stderr (when replaying inputs).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

#include "voxsex/audio.h"
#include "voxsex/error.h"
#include "voxsex/mel.h"
#include "voxsex/vad.h"

namespace {

// 0 keeps the file's own rate, so the rates libsndfile reports reach the front end unchanged.
constexpr int kTargetRatesHz[] = {16000, 8000, 44100, 0};
constexpr std::size_t kNumTargetRates = sizeof(kTargetRatesHz) / sizeof(kTargetRatesHz[0]);

// A 64 KB input can still declare (or, compressed, hold) hours of audio; refusing more than 30 s
// keeps one execution well under a second while every code path stays reachable.
constexpr double kMaxDurationS = 30.0;

// Traps with the failed condition named, so a finding says which promise broke.
#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "fuzz_reader: invariant failed: %s (%s:%d)\n", #cond, __FILE__, \
                   __LINE__);                                                              \
      __builtin_trap();                                                                    \
    }                                                                                      \
  } while (0)

bool Verbose() {
  static const bool verbose = [] {
    const char* v = std::getenv("VOXSEX_FUZZ_VERBOSE");
    return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
  }();
  return verbose;
}

// One memfd reused for every input: no disk I/O, and nothing left behind on a crash.
// ReadAudio opens it by path (/proc/self/fd/N), which gives libsndfile its own file offset.
int InputFd() {
  static const int fd = [] {
    const int f = memfd_create("voxsex_fuzz_input", MFD_CLOEXEC);
    if (f < 0) {
      std::fprintf(stderr, "fuzz_reader: memfd_create failed: %s\n", std::strerror(errno));
      std::abort();
    }
    return f;
  }();
  return fd;
}

void WriteInput(const std::uint8_t* data, std::size_t size) {
  const int fd = InputFd();
  if (ftruncate(fd, 0) != 0) {
    std::fprintf(stderr, "fuzz_reader: ftruncate failed: %s\n", std::strerror(errno));
    std::abort();
  }
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::fprintf(stderr, "fuzz_reader: pwrite failed: %s\n", std::strerror(errno));
      std::abort();
    }
    done += static_cast<std::size_t>(n);
  }
}

// Front end for one rate: the library defaults, with f_max capped at the Nyquist frequency.
voxsex::MelOptions MelOptionsFor(int sample_rate_hz) {
  voxsex::MelOptions opts;
  opts.sample_rate_hz = sample_rate_hz;
  opts.f_max_hz = std::min(opts.f_max_hz, static_cast<float>(sample_rate_hz / 2));
  return opts;
}

// A front end and the largest value its log-mel can take for samples in [-1, 1]:
// |X_k| <= sum of the window = win_length / 2 (periodic Hann), so power <= (win_length / 2)^2,
// and a band is at most that power times its filterbank row sum.
struct Frontend {
  std::unique_ptr<voxsex::MelFrontend> mel;
  float max_log_mel = 0.0f;

  explicit Frontend(int sample_rate_hz) {
    const voxsex::MelOptions opts = MelOptionsFor(sample_rate_hz);
    mel = std::make_unique<voxsex::MelFrontend>(opts);
    const std::vector<float> fb = voxsex::MelFilterbank(opts);
    const std::size_t n_freqs = static_cast<std::size_t>(opts.n_fft / 2 + 1);
    double max_row_sum = 0.0;
    for (int m = 0; m < opts.num_mels; ++m) {
      double row_sum = 0.0;
      for (std::size_t k = 0; k < n_freqs; ++k) row_sum += fb[m * n_freqs + k];
      max_row_sum = std::max(max_row_sum, row_sum);
    }
    const double half_win = opts.win_length / 2.0;
    // 1e-3 absorbs float32 rounding in the STFT and the band sums.
    max_log_mel = static_cast<float>(
        std::log(half_win * half_win * max_row_sum + opts.log_offset) + 1e-3);
  }
};

// Built once per fixed rate: FFTW planning per input would dominate the run time.
Frontend& FrontendFor(int sample_rate_hz) {
  static Frontend f16000(16000);
  static Frontend f8000(8000);
  static Frontend f44100(44100);
  switch (sample_rate_hz) {
    case 16000: return f16000;
    case 8000: return f8000;
    case 44100: return f44100;
    default: break;
  }
  __builtin_trap();  // only called with the fixed rates above
}

void CheckLogMel(const voxsex::LogMel& log_mel, std::size_t num_samples,
                 const voxsex::MelOptions& opts, float max_log_mel) {
  // mel.h: 1 + num_samples / hop_length frames for even n_fft, num_mels values each.
  FUZZ_CHECK(opts.n_fft % 2 == 0);
  const std::size_t expected_frames = 1 + num_samples / static_cast<std::size_t>(opts.hop_length);
  FUZZ_CHECK(static_cast<std::size_t>(log_mel.num_frames) == expected_frames);
  FUZZ_CHECK(log_mel.num_frames == voxsex::NumFrames(num_samples, opts));
  FUZZ_CHECK(log_mel.num_mels == opts.num_mels);
  FUZZ_CHECK(log_mel.data.size() ==
             static_cast<std::size_t>(log_mel.num_frames) * log_mel.num_mels);
  // Power and filterbank weights are >= 0, so log(mel + log_offset) >= log(log_offset).
  const float floor = std::log(opts.log_offset);
  for (const float v : log_mel.data) {
    FUZZ_CHECK(std::isfinite(v));
    FUZZ_CHECK(v >= floor);
    FUZZ_CHECK(v <= max_log_mel);
  }
}

void CheckReadAudio(const voxsex::Audio& audio, int target_rate_hz) {
  if (target_rate_hz > 0) {
    FUZZ_CHECK(audio.sample_rate_hz == target_rate_hz);
  } else {
    FUZZ_CHECK(audio.sample_rate_hz > 0);
  }
  // At most max_duration_s of file frames, and a resampled length is round(frames * to / from).
  FUZZ_CHECK(static_cast<double>(audio.samples.size()) <=
             kMaxDurationS * audio.sample_rate_hz + 1.0);
  for (const float x : audio.samples) {
    FUZZ_CHECK(std::isfinite(x));
    FUZZ_CHECK(x >= -1.0f && x <= 1.0f);
  }
}

// predict's speech-frame selection (include/voxsex/vad.h): never throws; the kept frames are
// increasing indices of the input, all of them when no_speech; KeepFrames copies exactly those.
void CheckSpeechSelection(const voxsex::LogMel& log_mel) {
  const voxsex::SpeechSelection sel = voxsex::SelectSpeech(log_mel, voxsex::VadOptions{});
  if (log_mel.num_frames == 0) {
    FUZZ_CHECK(sel.no_speech && sel.frames.empty());
    return;
  }
  FUZZ_CHECK(!sel.frames.empty());
  FUZZ_CHECK(std::is_sorted(sel.frames.begin(), sel.frames.end()));
  FUZZ_CHECK(sel.frames.front() >= 0 && sel.frames.back() < log_mel.num_frames);
  FUZZ_CHECK(sel.no_speech ? static_cast<int>(sel.frames.size()) == log_mel.num_frames &&
                                 sel.num_speech_frames == 0
                           : static_cast<int>(sel.frames.size()) == sel.num_speech_frames);
  const voxsex::LogMel kept = voxsex::KeepFrames(log_mel, sel.frames);
  FUZZ_CHECK(kept.num_frames == static_cast<int>(sel.frames.size()));
  FUZZ_CHECK(std::equal(kept.frame(kept.num_frames - 1), kept.frame(kept.num_frames - 1) + kept.num_mels,
                        log_mel.frame(sel.frames.back())));
}

void Run(const std::uint8_t* data, std::size_t size) {
  const int target_rate_hz = kTargetRatesHz[data[size - 1] % kNumTargetRates];
  WriteInput(data, size - 1);
  const std::string path = "/proc/self/fd/" + std::to_string(InputFd());

  voxsex::AudioReaderOptions opts;
  opts.target_sample_rate_hz = target_rate_hz;
  opts.max_duration_s = kMaxDurationS;
  const voxsex::Audio audio = voxsex::ReadAudio(path, opts);
  CheckReadAudio(audio, target_rate_hz);
  // predict's gate (refuse, or flag): never throws; a refusal comes without flags.
  const voxsex::AudioCheck check = voxsex::CheckAudio(audio);
  FUZZ_CHECK(check.refusal.empty() || check.flags.empty());
  if (Verbose()) {
    std::fprintf(stderr, "fuzz_reader: read %zu samples at %d Hz (target %d Hz)\n",
                 audio.samples.size(), audio.sample_rate_hz, target_rate_hz);
  }

  if (target_rate_hz > 0) {
    Frontend& frontend = FrontendFor(target_rate_hz);
    const voxsex::LogMel log_mel = frontend.mel->Compute(audio.samples);
    CheckLogMel(log_mel, audio.samples.size(), frontend.mel->options(), frontend.max_log_mel);
    CheckSpeechSelection(log_mel);
  } else {
    // The file's own rate can be any value libsndfile accepts: a front end for just this input.
    const Frontend frontend(audio.sample_rate_hz);
    const voxsex::LogMel log_mel = frontend.mel->Compute(audio.samples);
    CheckLogMel(log_mel, audio.samples.size(), frontend.mel->options(), frontend.max_log_mel);
  }
  if (Verbose()) std::fprintf(stderr, "fuzz_reader: log-mel ok\n");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;  // no option byte
  try {
    Run(data, size);
  } catch (const voxsex::Error& e) {
    // The documented way to refuse a file; libsndfile/soxr messages are part of the message.
    if (Verbose()) std::fprintf(stderr, "fuzz_reader: voxsex::Error: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_reader: unexpected exception %s: %s\n", typeid(e).name(),
                 e.what());
    __builtin_trap();
  } catch (...) {
    std::fprintf(stderr, "fuzz_reader: unexpected exception of unknown type\n");
    __builtin_trap();
  }
  return 0;
}
