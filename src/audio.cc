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

struct AudioStream::Impl {
  std::string path;
  std::string context;  // "cannot read 'path': "
  AudioReaderOptions opts;
  std::unique_ptr<SndFile> file;
  std::unique_ptr<StreamResampler> resampler;
  int channels = 0;
  int file_rate_hz = 0;
  int out_rate_hz = 0;
  double max_frames = -1.0;           // from opts.max_duration_s; < 0 = no limit
  std::size_t total_frames = 0;       // frames decoded so far
  std::size_t num_nonfinite_frames = 0;
  std::size_t emitted = 0;            // samples returned by Read so far
  bool at_eof = false;                // the decoder and resampler are drained: `pending` is all left
  std::vector<float> interleaved;
  std::vector<float> mono;
  std::vector<float> pending;         // output samples not yet returned, from pending_pos on
  std::size_t pending_pos = 0;

  std::size_t Available() const { return pending.size() - pending_pos; }

  // Decodes one chunk of frames into `pending`; at the end of the file drains the resampler, fixes
  // the length and sets at_eof.
  void DecodeChunk() {
    const sf_count_t got = sf_readf_float(file->get(), interleaved.data(), kChunkFrames);
    if (got <= 0) {
      Finish();
      return;
    }
    total_frames += static_cast<std::size_t>(got);
    if (max_frames >= 0.0 && static_cast<double>(total_frames) > max_frames) {
      std::ostringstream os;
      os << "longer than max_duration_s=" << opts.max_duration_s << " s";
      throw AudioError(CannotRead(path, os.str()));
    }
    const std::size_t n = static_cast<std::size_t>(got);
    if (channels == 1) {
      for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(interleaved[i])) ++num_nonfinite_frames;
        mono[i] = Sanitise(interleaved[i]);
      }
    } else {
      for (std::size_t i = 0; i < n; ++i) {
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
        if (nonfinite) ++num_nonfinite_frames;
        mono[i] = Sanitise(static_cast<float>(sum / channels));
      }
    }
    if (resampler) {
      const std::size_t before = pending.size();
      resampler->Process(mono.data(), n, &pending, context);
      // The filter may overshoot past +-1.
      for (std::size_t i = before; i < pending.size(); ++i) pending[i] = Sanitise(pending[i]);
    } else {
      pending.insert(pending.end(), mono.begin(), mono.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }

  void Finish() {
    at_eof = true;
    const int sf_error_code = sf_error(file->get());
    if (sf_error_code != SF_ERR_NO_ERROR) {
      throw AudioError(CannotRead(path, std::string("decode error: ") + sf_strerror(file->get())));
    }
    if (total_frames == 0) throw AudioError(CannotRead(path, "no audio frames"));
    if (!resampler) return;
    const std::size_t before = pending.size();
    resampler->Flush(&pending, context);
    for (std::size_t i = before; i < pending.size(); ++i) pending[i] = Sanitise(pending[i]);
    // soxr's flushed length can differ from the ideal by a sample; fix it to round(n * to / from).
    const std::size_t expected = ResampledLength(total_frames, file_rate_hz, out_rate_hz);
    if (expected == 0) {  // e.g. one frame at 44.1 kHz rounds to none at 8 kHz
      throw AudioError(CannotRead(path, std::to_string(total_frames) + " frames at " +
                                            std::to_string(file_rate_hz) + " Hz give no samples at " +
                                            std::to_string(out_rate_hz) + " Hz"));
    }
    const std::size_t left = expected > emitted ? expected - emitted : 0;
    pending.resize(pending_pos + std::min(left, std::max(left, Available())), 0.0f);
    pending.resize(pending_pos + left, 0.0f);
  }
};

AudioStream::AudioStream(const std::string& path, const AudioReaderOptions& opts)
    : impl_(std::make_unique<Impl>()) {
  opts.Validate();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw AudioError(CannotRead(path, "is a directory, expected an audio file"));
  }
  Impl& m = *impl_;
  m.path = path;
  m.context = CannotRead(path, "");
  m.opts = opts;
  m.file = std::make_unique<SndFile>(path);
  const SF_INFO& info = m.file->info();
  if (info.channels <= 0) {
    throw AudioError(CannotRead(path, "invalid channel count " + std::to_string(info.channels)));
  }
  if (info.samplerate < kMinFileSampleRateHz || info.samplerate > kMaxFileSampleRateHz) {
    throw AudioError(CannotRead(path, "sample rate " + std::to_string(info.samplerate) +
                                          " Hz is outside the supported " +
                                          std::to_string(kMinFileSampleRateHz) + "-" +
                                          std::to_string(kMaxFileSampleRateHz) + " Hz"));
  }
  m.channels = info.channels;
  m.file_rate_hz = info.samplerate;
  m.out_rate_hz = opts.target_sample_rate_hz > 0 ? opts.target_sample_rate_hz : m.file_rate_hz;
  // The header's frame count is not trusted (streams, truncated files): read until EOF and count.
  m.max_frames =
      opts.max_duration_s > 0.0 ? opts.max_duration_s * static_cast<double>(m.file_rate_hz) : -1.0;
  if (m.out_rate_hz != m.file_rate_hz) {
    m.resampler = std::make_unique<StreamResampler>(m.file_rate_hz, m.out_rate_hz);
  }
  m.interleaved.resize(static_cast<std::size_t>(kChunkFrames) * m.channels);
  m.mono.resize(static_cast<std::size_t>(kChunkFrames));
}

AudioStream::~AudioStream() = default;
AudioStream::AudioStream(AudioStream&&) noexcept = default;
AudioStream& AudioStream::operator=(AudioStream&&) noexcept = default;

std::vector<float> AudioStream::Read(std::size_t max_samples) {
  Impl& m = *impl_;
  if (max_samples == 0) throw ConfigError("AudioStream::Read: max_samples must be > 0");
  while (m.Available() < max_samples && !m.at_eof) m.DecodeChunk();
  const std::size_t n = std::min(max_samples, m.Available());
  const auto from = m.pending.begin() + static_cast<std::ptrdiff_t>(m.pending_pos);
  std::vector<float> out(from, from + static_cast<std::ptrdiff_t>(n));
  m.pending_pos += n;
  m.emitted += n;
  if (m.pending_pos > (1u << 16) && m.pending_pos * 2 > m.pending.size()) {  // compact
    m.pending.erase(m.pending.begin(), m.pending.begin() + static_cast<std::ptrdiff_t>(m.pending_pos));
    m.pending_pos = 0;
  }
  return out;
}

int AudioStream::sample_rate_hz() const { return impl_->out_rate_hz; }
std::size_t AudioStream::num_nonfinite_frames() const { return impl_->num_nonfinite_frames; }

Audio ReadAudio(const std::string& path, const AudioReaderOptions& opts) {
  AudioStream stream(path, opts);
  Audio audio;
  audio.sample_rate_hz = stream.sample_rate_hz();
  for (;;) {
    std::vector<float> block = stream.Read(std::size_t{1} << 20);
    if (block.empty()) break;
    if (audio.samples.empty()) {
      audio.samples = std::move(block);
    } else {
      audio.samples.insert(audio.samples.end(), block.begin(), block.end());
    }
  }
  audio.num_nonfinite_frames = stream.num_nonfinite_frames();
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

void AudioLevels::Add(const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    sum += x[i];
    sum_sq += static_cast<double>(x[i]) * x[i];
    if (std::fabs(x[i]) >= clip_level) ++num_clipped;
  }
  num_samples += n;
}

AudioCheck CheckAudio(const Audio& audio, const AudioCheckOptions& opts) {
  AudioLevels levels;
  levels.clip_level = opts.clip_level;
  levels.Add(audio.samples.data(), audio.samples.size());
  return CheckAudioLevels(levels, audio.sample_rate_hz, audio.num_nonfinite_frames, opts);
}

AudioCheck CheckAudioLevels(const AudioLevels& levels, int sample_rate_hz,
                            std::size_t num_nonfinite_frames, const AudioCheckOptions& opts) {
  AudioCheck check;
  const double duration_s =
      sample_rate_hz > 0 ? static_cast<double>(levels.num_samples) / sample_rate_hz : 0.0;
  if (duration_s < opts.min_duration_s) {
    std::ostringstream os;
    os << "too short to classify: " << duration_s << " s of audio, at least "
       << opts.min_duration_s << " s needed";
    check.refusal = os.str();
    return check;
  }
  const std::size_t n = levels.num_samples;
  const double sum = levels.sum, sum_sq = levels.sum_sq;
  const std::size_t clipped = levels.num_clipped;
  const double mean = sum / static_cast<double>(n);
  const double mean_sq = sum_sq / static_cast<double>(n);
  const double ac_rms = std::sqrt(std::max(0.0, mean_sq - mean * mean));
  const auto dbfs = [](double rms) { return rms > 0.0 ? 20.0 * std::log10(rms) : -HUGE_VAL; };
  if (dbfs(ac_rms) < opts.silence_dbfs) {
    std::ostringstream os;
    os << "no signal: the level about the mean is below " << opts.silence_dbfs << " dBFS (";
    if (num_nonfinite_frames > 0) {
      os << "silence once its " << num_nonfinite_frames
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
  if (num_nonfinite_frames > 0) check.flags.emplace_back("nonfinite");
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
