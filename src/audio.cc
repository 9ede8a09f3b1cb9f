// Audio reading: libsndfile decode -> downmix to mono -> sanitise -> soxr resample.
//
// libsndfile C API: https://libsndfile.github.io/libsndfile/api.html
// soxr streaming API: /usr/include/soxr.h (soxr_create / soxr_process, flush with in = NULL).
#include "voxsex/audio.h"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "voxsex/error.h"

namespace voxsex {
namespace {

// Highest rate Validate() accepts for target_sample_rate_hz.
constexpr int kMaxTargetSampleRateHz = 384000;
// Frames decoded per sf_readf_float call.
constexpr sf_count_t kChunkFrames = 8192;

std::string CannotRead(const std::string& path, const std::string& reason) {
  return "cannot read '" + path + "': " + reason;
}

// Why `path` could not be opened, in the user's terms, from the file system itself where it can
// tell (libsndfile's own messages can mislead: random bytes named .mp3 give "File does not exist
// or is not a regular file"), else libsndfile's message `sf_message`.
std::string OpenFailureReason(const std::string& path, const std::string& sf_message) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status link = fs::symlink_status(path, ec);
  const fs::file_status target = fs::status(path, ec);
  if (ec) {
    if (fs::is_symlink(link)) return "broken symbolic link: " + ec.message();
    return ec.message();
  }
  if (!fs::exists(target)) return fs::is_symlink(link) ? "broken symbolic link" : "no such file";
  if (!fs::is_regular_file(target)) return "not a regular file";
  if (fs::file_size(path, ec) == 0 && !ec) return "empty file (0 bytes)";
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    std::fclose(f);
  } else {
    return std::strerror(errno);
  }
  return "not a readable audio file (libsndfile: " + sf_message + ")";
}

// Owns one SNDFILE* opened for reading; closes it on destruction.
// Not thread-safe: one instance per thread. libsndfile reports a failed sf_open through
// process-wide state (sf_strerror(nullptr)), so opens are serialised by a mutex to keep each
// failure's message its own; reading, the slow part, runs in parallel.
class SndFile {
 public:
  // Opens `path` for reading; throws AudioError naming the path and the reason.
  explicit SndFile(const std::string& path) {
    static std::mutex open_mutex;
    std::string sf_message;
    {
      const std::lock_guard<std::mutex> lock(open_mutex);
      file_ = sf_open(path.c_str(), SFM_READ, &info_);
      if (file_ == nullptr) sf_message = sf_strerror(nullptr);
    }
    if (file_ == nullptr) throw AudioError(CannotRead(path, OpenFailureReason(path, sf_message)));
  }
  ~SndFile() {
    if (file_ != nullptr) sf_close(file_);
  }
  SndFile(const SndFile&) = delete;
  SndFile& operator=(const SndFile&) = delete;

  SNDFILE* get() const { return file_; }
  const SF_INFO& info() const { return info_; }

 private:
  SNDFILE* file_ = nullptr;
  SF_INFO info_{};
};

// Owns one mono float32 soxr_t stream resampler (SOXR_HQ); deletes it on destruction.
// Not thread-safe: one instance per thread.
class StreamResampler {
 public:
  // Input samples handed to soxr_process per call (bounds the output buffer).
  static constexpr size_t kMaxBlock = 65536;

  // Throws AudioError when soxr refuses the rates.
  StreamResampler(int from_hz, int to_hz) : ratio_(static_cast<double>(to_hz) / from_hz) {
    soxr_error_t error = nullptr;
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    soxr_ = soxr_create(from_hz, to_hz, 1, &error, &io, &quality, nullptr);
    if (soxr_ == nullptr || error != nullptr) {
      if (soxr_ != nullptr) soxr_delete(soxr_);
      throw AudioError("soxr cannot resample " + std::to_string(from_hz) + " Hz -> " +
                       std::to_string(to_hz) + " Hz: " + (error ? error : "unknown error"));
    }
  }
  ~StreamResampler() { soxr_delete(soxr_); }
  StreamResampler(const StreamResampler&) = delete;
  StreamResampler& operator=(const StreamResampler&) = delete;

  // Feeds `n` input samples and appends whatever output soxr releases to `out`.
  // Throws AudioError (with `context` prepended) on a soxr failure.
  void Process(const float* in, size_t n, std::vector<float>* out, const std::string& context) {
    size_t pos = 0;
    while (pos < n) {
      const size_t ilen = std::min(n - pos, kMaxBlock);
      buffer_.resize(static_cast<size_t>(std::ceil(static_cast<double>(ilen) * ratio_)) + 64);
      size_t idone = 0;
      size_t odone = 0;
      const soxr_error_t error =
          soxr_process(soxr_, in + pos, ilen, &idone, buffer_.data(), buffer_.size(), &odone);
      if (error != nullptr) throw AudioError(context + "soxr_process failed: " + error);
      out->insert(out->end(), buffer_.begin(),
                  buffer_.begin() + static_cast<std::ptrdiff_t>(odone));
      pos += idone;
      if (idone == 0 && odone == 0) {
        throw AudioError(context + "soxr_process made no progress");
      }
    }
  }

  // Signals end of input and appends the remaining output to `out`.
  void Flush(std::vector<float>* out, const std::string& context) {
    buffer_.resize(4096);
    for (;;) {
      size_t odone = 0;
      const soxr_error_t error =
          soxr_process(soxr_, nullptr, 0, nullptr, buffer_.data(), buffer_.size(), &odone);
      if (error != nullptr) throw AudioError(context + "soxr_process failed: " + error);
      if (odone == 0) break;
      out->insert(out->end(), buffer_.begin(),
                  buffer_.begin() + static_cast<std::ptrdiff_t>(odone));
    }
  }

 private:
  soxr_t soxr_ = nullptr;
  double ratio_ = 1.0;
  std::vector<float> buffer_;
};

// Number of output samples for `n` input samples: round(n * to_hz / from_hz).
size_t ResampledLength(size_t n, int from_hz, int to_hz) {
  const std::uint64_t num = static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(to_hz) +
                            static_cast<std::uint64_t>(from_hz) / 2;
  return static_cast<size_t>(num / static_cast<std::uint64_t>(from_hz));
}

// Replaces NaN/Inf by 0 and clamps to [-1, 1].
float Sanitise(float x) {
  if (!std::isfinite(x)) return 0.0f;
  return std::clamp(x, -1.0f, 1.0f);
}

}  // namespace

void AudioReaderOptions::Validate() const {
  if (target_sample_rate_hz < 0 || target_sample_rate_hz > kMaxTargetSampleRateHz) {
    throw ConfigError("target_sample_rate_hz must be 0 (keep the file's rate) or in (0, " +
                      std::to_string(kMaxTargetSampleRateHz) + "], got " +
                      std::to_string(target_sample_rate_hz));
  }
  if (!(max_duration_s >= 0.0) || std::isinf(max_duration_s)) {
    std::ostringstream os;
    os << "max_duration_s must be finite and >= 0 (0 = no limit), got " << max_duration_s;
    throw ConfigError(os.str());
  }
}

std::string AudioReaderOptions::ToString() const {
  std::ostringstream os;
  os << "AudioReaderOptions(target_sample_rate_hz=" << target_sample_rate_hz
     << ", max_duration_s=" << max_duration_s << ")";
  return os.str();
}

Audio ReadAudio(const std::string& path, const AudioReaderOptions& opts) {
  opts.Validate();

  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw AudioError(CannotRead(path, "is a directory, expected an audio file"));
  }

  SndFile file(path);
  const SF_INFO& info = file.info();
  if (info.channels <= 0) {
    throw AudioError(CannotRead(path, "invalid channel count " + std::to_string(info.channels)));
  }
  if (info.samplerate < kMinFileSampleRateHz || info.samplerate > kMaxFileSampleRateHz) {
    throw AudioError(CannotRead(path, "sample rate " + std::to_string(info.samplerate) +
                                          " Hz is outside the supported " +
                                          std::to_string(kMinFileSampleRateHz) + "-" +
                                          std::to_string(kMaxFileSampleRateHz) + " Hz"));
  }

  const int channels = info.channels;
  const int file_rate_hz = info.samplerate;
  const int out_rate_hz =
      opts.target_sample_rate_hz > 0 ? opts.target_sample_rate_hz : file_rate_hz;
  const bool resample = out_rate_hz != file_rate_hz;
  // The header's frame count is not trusted (streams, truncated files): read until EOF and count.
  const double max_frames =
      opts.max_duration_s > 0.0 ? opts.max_duration_s * static_cast<double>(file_rate_hz) : -1.0;
  const std::string context = CannotRead(path, "");

  Audio audio;
  audio.sample_rate_hz = out_rate_hz;
  std::unique_ptr<StreamResampler> resampler;
  if (resample) resampler = std::make_unique<StreamResampler>(file_rate_hz, out_rate_hz);

  std::vector<float> interleaved(static_cast<size_t>(kChunkFrames) * channels);
  std::vector<float> mono(static_cast<size_t>(kChunkFrames));
  size_t total_frames = 0;
  for (;;) {
    const sf_count_t got = sf_readf_float(file.get(), interleaved.data(), kChunkFrames);
    if (got <= 0) break;
    total_frames += static_cast<size_t>(got);
    if (max_frames >= 0.0 && static_cast<double>(total_frames) > max_frames) {
      std::ostringstream os;
      os << "longer than max_duration_s=" << opts.max_duration_s << " s";
      throw AudioError(CannotRead(path, os.str()));
    }
    const size_t n = static_cast<size_t>(got);
    if (channels == 1) {
      for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(interleaved[i])) ++audio.num_nonfinite_frames;
        mono[i] = Sanitise(interleaved[i]);
      }
    } else {
      for (size_t i = 0; i < n; ++i) {
        double sum = 0.0;
        bool nonfinite = false;
        const float* frame = interleaved.data() + i * channels;
        for (int c = 0; c < channels; ++c) {
          // Non-finite channel values count as 0 so one bad channel does not poison the mix.
          if (std::isfinite(frame[c])) {
            sum += frame[c];
          } else {
            nonfinite = true;
          }
        }
        if (nonfinite) ++audio.num_nonfinite_frames;
        mono[i] = Sanitise(static_cast<float>(sum / channels));
      }
    }
    if (resample) {
      resampler->Process(mono.data(), n, &audio.samples, context);
    } else {
      audio.samples.insert(audio.samples.end(), mono.begin(),
                           mono.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }
  const int sf_error_code = sf_error(file.get());
  if (sf_error_code != SF_ERR_NO_ERROR) {
    throw AudioError(CannotRead(path, std::string("decode error: ") + sf_strerror(file.get())));
  }
  if (total_frames == 0) throw AudioError(CannotRead(path, "no audio frames"));

  if (resample) {
    resampler->Flush(&audio.samples, context);
    // soxr's flushed length can differ from the ideal by a sample; fix it to round(n * to / from).
    audio.samples.resize(ResampledLength(total_frames, file_rate_hz, out_rate_hz), 0.0f);
    if (audio.samples.empty()) {  // e.g. one frame at 44.1 kHz rounds to none at 8 kHz
      throw AudioError(CannotRead(path, std::to_string(total_frames) + " frames at " +
                                            std::to_string(file_rate_hz) +
                                            " Hz give no samples at " +
                                            std::to_string(out_rate_hz) + " Hz"));
    }
    for (float& x : audio.samples) x = Sanitise(x);  // the filter may overshoot past +-1
  }
  return audio;
}

std::vector<float> Resample(const std::vector<float>& samples, int from_hz, int to_hz) {
  if (from_hz <= 0 || to_hz <= 0) {
    throw AudioError("cannot resample " + std::to_string(from_hz) + " Hz -> " +
                     std::to_string(to_hz) + " Hz: sample rates must be > 0");
  }
  if (from_hz == to_hz || samples.empty()) return samples;
  StreamResampler resampler(from_hz, to_hz);
  std::vector<float> out;
  out.reserve(ResampledLength(samples.size(), from_hz, to_hz) + 64);
  resampler.Process(samples.data(), samples.size(), &out, "");
  resampler.Flush(&out, "");
  out.resize(ResampledLength(samples.size(), from_hz, to_hz), 0.0f);
  return out;
}

AudioCheck CheckAudio(const Audio& audio, const AudioCheckOptions& opts) {
  AudioCheck check;
  const double duration_s = audio.duration_s();
  if (duration_s < opts.min_duration_s) {
    std::ostringstream os;
    os << "too short to classify: " << duration_s << " s of audio, at least "
       << opts.min_duration_s << " s needed";
    check.refusal = os.str();
    return check;
  }
  const std::size_t n = audio.samples.size();
  double sum = 0.0;
  double sum_sq = 0.0;
  std::size_t clipped = 0;
  for (const float x : audio.samples) {
    sum += x;
    sum_sq += static_cast<double>(x) * x;
    if (std::fabs(x) >= opts.clip_level) ++clipped;
  }
  const double mean = sum / static_cast<double>(n);
  const double mean_sq = sum_sq / static_cast<double>(n);
  const double ac_rms = std::sqrt(std::max(0.0, mean_sq - mean * mean));
  const auto dbfs = [](double rms) { return rms > 0.0 ? 20.0 * std::log10(rms) : -HUGE_VAL; };
  if (dbfs(ac_rms) < opts.silence_dbfs) {
    std::ostringstream os;
    os << "no signal: the level about the mean is below " << opts.silence_dbfs << " dBFS (";
    if (audio.num_nonfinite_frames > 0) {
      os << "silence once its " << audio.num_nonfinite_frames
         << " frames of NaN or infinite values are read as 0";
    } else if (std::fabs(mean) > 0.0) {
      os << "a constant (DC) signal";
    } else {
      os << "digital silence";
    }
    os << ")";
    check.refusal = os.str();
    return check;
  }
  if (duration_s < opts.short_duration_s) check.flags.emplace_back("too_short");
  if (dbfs(std::sqrt(mean_sq)) < opts.low_level_dbfs) check.flags.emplace_back("low_level");
  if (clipped > 0 &&
      static_cast<double>(clipped) >= opts.clipped_fraction * static_cast<double>(n)) {
    check.flags.emplace_back("clipped");
  }
  if (std::fabs(mean) >= opts.dc_offset) check.flags.emplace_back("dc_offset");
  if (audio.num_nonfinite_frames > 0) check.flags.emplace_back("nonfinite");
  return check;
}

bool HasAudioExtension(const std::string& path) {
  static const char* const kExtensions[] = {"wav", "wave", "flac", "ogg",  "oga", "opus",
                                            "mp3", "aif",  "aiff", "aifc", "au",  "snd",
                                            "caf", "w64",  "rf64", "voc"};
  std::string ext = std::filesystem::path(path).extension().string();
  if (ext.size() < 2) return false;  // no extension, or a bare trailing dot
  ext.erase(0, 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(std::begin(kExtensions), std::end(kExtensions), ext) != std::end(kExtensions);
}

}  // namespace voxsex
