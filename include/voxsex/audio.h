// Audio reading: libsndfile decode -> downmix to mono -> soxr resample.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace voxsex {

// Mono audio, samples as float in [-1, 1].
struct Audio {
  std::vector<float> samples;
  int sample_rate_hz = 0;

  double duration_s() const {
    return sample_rate_hz > 0 ? static_cast<double>(samples.size()) / sample_rate_hz : 0.0;
  }
};

struct AudioReaderOptions {
  // Rate the samples are resampled to (soxr, high quality); 0 keeps the file's own rate.
  int target_sample_rate_hz = 16000;
  // Files longer than this are refused (guards against absurd headers); 0 = no limit.
  double max_duration_s = 4.0 * 3600.0;

  // Throws ConfigError when a field is out of range.
  void Validate() const;
  std::string ToString() const;
};

// Reads any format libsndfile decodes (WAV PCM 8/16/24/32, float, u-law, FLAC, Ogg Vorbis/Opus,
// MP3 with libsndfile >= 1.1, AIFF, ...). Channels are averaged to mono; the rate is converted to
// opts.target_sample_rate_hz with soxr (SOXR_HQ). Samples are clamped to [-1, 1]; NaN/Inf become 0.
// Integer PCM is scaled by 1 / 2^(bits-1) (libsndfile's float normalisation); float files keep
// their values before clamping. The header's frame count is not trusted: the file is read to EOF,
// and a resampled result has round(frames * target / rate) samples. May be called from several
// threads at once (only a failed open's libsndfile message is process-wide state).
// Throws ConfigError for invalid opts, and AudioError naming `path` and the reason (cannot open,
// is a directory, no frames, decode error, longer than opts.max_duration_s).
Audio ReadAudio(const std::string& path, const AudioReaderOptions& opts = {});

// Resamples mono float samples from `from_hz` to `to_hz` with soxr (SOXR_HQ); returns
// round(samples.size() * to_hz / from_hz) samples (not clamped). Equal rates return a copy.
// Throws AudioError on a soxr failure or a non-positive rate.
std::vector<float> Resample(const std::vector<float>& samples, int from_hz, int to_hz);

// True when the file name's extension (case-insensitive) is one voxsex treats as audio:
// wav wave flac ogg oga opus mp3 aif aiff aifc au snd caf w64 rf64 voc.
bool HasAudioExtension(const std::string& path);

}  // namespace voxsex
