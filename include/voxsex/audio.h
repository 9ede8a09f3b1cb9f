// Audio reading: libsndfile decode -> downmix to mono -> soxr resample.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace voxsex {

// Mono audio, samples as float in [-1, 1].
struct Audio {
  std::vector<float> samples;
  int sample_rate_hz = 0;
  // Frames of the file that held a NaN or infinite value in some channel (that value was read
  // as 0). ReadAudio sets it; 0 for audio made any other way.
  std::size_t num_nonfinite_frames = 0;

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

// Sample rates ReadAudio accepts in a file's header, Hz. Below the minimum there is no speech
// band left to classify; above the maximum no recorder writes, so the header is taken as broken.
constexpr int kMinFileSampleRateHz = 4000;
constexpr int kMaxFileSampleRateHz = 768000;

// Reads any format libsndfile decodes (WAV PCM 8/16/24/32, float, u-law, FLAC, Ogg Vorbis/Opus,
// MP3 with libsndfile >= 1.1, AIFF, ...). Channels are averaged to mono; the rate is converted to
// opts.target_sample_rate_hz with soxr (SOXR_HQ). Samples are clamped to [-1, 1]; NaN/Inf become 0.
// Integer PCM is scaled by 1 / 2^(bits-1) (libsndfile's float normalisation); float files keep
// their values before clamping; frames with a NaN/Inf value are counted in num_nonfinite_frames.
// The header's frame count is not trusted: the file is read to EOF,
// and a resampled result has round(frames * target / rate) samples. May be called from several
// threads at once (opening is serialised internally, reading runs in parallel).
// Throws ConfigError for invalid opts, and AudioError naming `path` and the reason (cannot open,
// is a directory, no frames, too few frames for one sample at the target rate, channel count
// <= 0, sample rate outside [kMinFileSampleRateHz, kMaxFileSampleRateHz], decode error, longer
// than opts.max_duration_s).
Audio ReadAudio(const std::string& path, const AudioReaderOptions& opts = {});

// Decodes a file block by block through the same pipeline as ReadAudio (libsndfile, mono downmix,
// NaN/Inf -> 0, clamping, soxr HQ resampling), holding at most a block and a decoder chunk of
// samples: for files of any length. The blocks concatenated are exactly ReadAudio's samples.
// Not thread-safe: one instance per thread (instances in several threads are fine).
class AudioStream {
 public:
  // Opens `path`. Throws ConfigError for invalid opts; AudioError naming the path when it is a
  // directory or cannot be opened, its channel count is <= 0, or its sample rate is outside
  // [kMinFileSampleRateHz, kMaxFileSampleRateHz].
  explicit AudioStream(const std::string& path, const AudioReaderOptions& opts = {});
  ~AudioStream();
  AudioStream(AudioStream&&) noexcept;
  AudioStream& operator=(AudioStream&&) noexcept;

  // The next at most max_samples (> 0) samples at sample_rate_hz(); fewer only at the end of the
  // file, and empty once it is done. Throws AudioError as ReadAudio does (decode error, no frames,
  // longer than opts.max_duration_s, no sample left after resampling), ConfigError when
  // max_samples is 0.
  std::vector<float> Read(std::size_t max_samples);

  int sample_rate_hz() const;                 // of the samples Read returns
  std::size_t num_nonfinite_frames() const;   // file frames with a NaN/Inf value so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Resamples mono float samples from `from_hz` to `to_hz` with soxr (SOXR_HQ); returns
// round(samples.size() * to_hz / from_hz) samples (not clamped). Equal rates return a copy.
// Throws AudioError on a soxr failure or a non-positive rate.
std::vector<float> Resample(const std::vector<float>& samples, int from_hz, int to_hz);

// What ReadAudio's result is fit for: a reason to refuse it, or flags to report beside its answer.
struct AudioCheck {
  // Non-empty: nothing in it can be classified (e.g. "no signal: ..."); the file should fail.
  std::string refusal;
  // Conditions that make an answer less reliable, each a word: too_short, low_level, clipped,
  // dc_offset, nonfinite. Empty when none applies.
  std::vector<std::string> flags;
};

// Thresholds of CheckAudio (mono samples in [-1, 1]).
struct AudioCheckOptions {
  double min_duration_s = 0.1;       // refused below: shorter than a few pitch periods' analysis
  double short_duration_s = 1.0;     // too_short below
  double silence_dbfs = -90.0;       // refused when the RMS after removing the mean is below
                                     // (about one 16-bit step: digital silence or a constant)
  double low_level_dbfs = -35.0;     // low_level when the RMS is below
  double clip_level = 0.999;         // clipped when at least clipped_fraction of the samples
  double clipped_fraction = 0.001;   //   have |x| >= clip_level
  double dc_offset = 0.1;            // dc_offset when |mean| is at least this (10% of full scale;
                                     // AudioMNIST's recordings carry 0.085 and classify well)
};

// Running sums CheckAudio judges, so audio read block by block (AudioStream) can be checked
// without holding it: Add each block in order.
struct AudioLevels {
  std::size_t num_samples = 0;
  double sum = 0.0;          // of the samples
  double sum_sq = 0.0;       // of their squares
  std::size_t num_clipped = 0;  // samples with |x| >= clip_level
  double clip_level = 0.999;    // set from AudioCheckOptions::clip_level before adding

  void Add(const float* samples, std::size_t n);
};

// CheckAudio's verdict from running sums: the same result as CheckAudio on the whole audio
// (`sample_rate_hz` and `num_nonfinite_frames` as in Audio). Never throws.
AudioCheck CheckAudioLevels(const AudioLevels& levels, int sample_rate_hz,
                            std::size_t num_nonfinite_frames, const AudioCheckOptions& opts = {});

// Checks decoded audio: refusal when it is shorter than min_duration_s, or holds no signal (RMS
// about its mean below silence_dbfs: silence, a constant, or only NaN/Inf read as 0); otherwise
// the flags above, in that order (nonfinite when audio.num_nonfinite_frames > 0). Never throws.
AudioCheck CheckAudio(const Audio& audio, const AudioCheckOptions& opts = {});

// True when the file name's extension (case-insensitive) is one voxsex treats as audio:
// wav wave flac ogg oga opus mp3 aif aiff aifc au snd caf w64 rf64 voc.
bool HasAudioExtension(const std::string& path);

}  // namespace voxsex
