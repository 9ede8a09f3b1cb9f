// Training-time data augmentation on waveforms: additive noise (white, pink, babble, recorded
// environmental noise) at a random SNR, reverberation, telephone channel, lossy codec (Opus,
// MP3), clipping, gain, speed
// perturbation, and the voice perturbations of voice.h (formant-preserving pitch shift, spectral
// tilt).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace voxsex {

// What Augmenter::Apply does to one training crop. Each effect is drawn independently with its
// probability; a probability of 0 turns the effect off. Levels are in dB relative to full scale
// (dBFS) or as signal-to-noise ratios (SNR, dB, signal and noise power over the whole crop).
struct AugmentOptions {
  // Additive noise: with noise_prob, one of white, pink (1/f), babble (the sum of
  // babble_min_talkers..babble_max_talkers other training utterances) or, when the Augmenter has
  // recorded noise clips, a random clip of them, each kind equally likely, at an SNR drawn
  // uniformly in [snr_min_db, snr_max_db].
  double noise_prob = 0.0;
  double snr_min_db = 0.0;
  double snr_max_db = 30.0;
  int babble_min_talkers = 3;
  int babble_max_talkers = 7;
  // Reverberation: convolution with a synthetic room impulse response (a direct path followed by
  // exponentially decaying Gaussian noise, Lehmann-Johansson style) whose RT60 is drawn uniformly in
  // [rt60_min_s, rt60_max_s]; the result is level-matched to the input.
  double reverb_prob = 0.0;
  double rt60_min_s = 0.2;
  double rt60_max_s = 1.0;
  // Telephone channel: 300-3400 Hz band-pass, 8 kHz, 8-bit u-law (G.711), back to the input rate.
  double telephone_prob = 0.0;
  // Lossy codec: an encode-decode round trip through Ogg Opus or MP3 (each equally likely;
  // libsndfile with libopus / LAME and mpg123) at a compression level drawn uniformly in
  // [codec_min_level, codec_max_level], libsndfile's SFC_SET_COMPRESSION_LEVEL (0 = best quality,
  // 1 = smallest; at 16 kHz, constant bit rate, measured: Opus 38 kbit/s at 0.9 and 11.5 at 1,
  // MP3 25 kbit/s at 0.9 and 8.4 at 1).
  double codec_prob = 0.0;
  double codec_min_level = 0.85;
  double codec_max_level = 1.0;
  // Hard clipping: amplified by a gain drawn uniformly in [clip_min_db, clip_max_db], clipped at
  // full scale.
  double clip_prob = 0.0;
  double clip_min_db = 3.0;
  double clip_max_db = 24.0;
  // Speed perturbation (tempo and pitch together, as Ko et al., Interspeech 2015): resampled by a
  // factor drawn uniformly in [1 - speed_range, 1 + speed_range]. Changes the length.
  double speed_prob = 0.0;
  double speed_range = 0.05;
  // Formant-preserving pitch shift (ShiftPitch, voice.h) by semitones drawn uniformly in
  // [-pitch_semitones, +pitch_semitones]: decouples pitch from gender. Changes the length.
  double pitch_prob = 0.0;
  double pitch_semitones = 4.0;
  // Spectral tilt (TiltSpectrum, voice.h) with beta drawn uniformly in [-tilt_max, +tilt_max]:
  // vocal effort, from soft to shouted.
  double tilt_prob = 0.0;
  double tilt_max = 0.7;
  // Gain drawn uniformly in [-gain_db, +gain_db], applied last (without clipping).
  double gain_db = 0.0;

  // Throws ConfigError when a field is out of range.
  void Validate() const;
  std::string ToString() const;
  // True when Apply changes nothing (every probability and gain_db are 0).
  bool IsIdentity() const;
};

// `opts` with every effect's probability times `scale` (in [0, 1]); ranges and gain_db unchanged.
AugmentOptions ScaleProbabilities(AugmentOptions opts, double scale);

// Applies AugmentOptions to mono float waveforms at one sample rate. Holds FFTW plans and buffers
// for the reverberation: not thread-safe, use one instance per thread.
class Augmenter {
 public:
  // `babble_pool`: utterances (mono, at sample_rate_hz) that babble is drawn from; they must
  // outlive the Augmenter. May be empty, in which case babble is replaced by pink noise.
  // `noise_pool`: recorded noise clips (mono, at sample_rate_hz; e.g. voxsex-data's noise/), a
  // fourth kind of additive noise when not empty; they must outlive the Augmenter.
  // Throws ConfigError for invalid options or sample rate.
  Augmenter(const AugmentOptions& opts, int sample_rate_hz,
            std::vector<const std::vector<float>*> babble_pool = {},
            std::vector<const std::vector<float>*> noise_pool = {});
  ~Augmenter();
  Augmenter(const Augmenter&) = delete;
  Augmenter& operator=(const Augmenter&) = delete;

  // Returns an augmented copy of `samples` (all effects drawn from `rng`: the same seed gives the
  // same result). Effects apply in the order speed, pitch, tilt, reverberation, noise, telephone,
  // codec, clipping, gain. Every effect but speed and pitch keeps the length. Never throws for finite
  // input of any length.
  std::vector<float> Apply(const std::vector<float>& samples, std::mt19937_64& rng);

  // The individual effects, for tests and tools; each keeps the length of `x` unless stated.
  // Mixes `noise` (looped or cut to x's length) into x at snr_db (power over the whole signal).
  static void MixAtSnr(std::vector<float>& x, const std::vector<float>& noise, double snr_db);
  // Pink (1/f power) noise of n samples, unit variance (Paul Kellet's filter on white noise).
  static std::vector<float> PinkNoise(std::size_t n, std::mt19937_64& rng);
  // Telephone channel at sample rate `sample_rate_hz` (see AugmentOptions::telephone_prob).
  static std::vector<float> Telephone(const std::vector<float>& x, int sample_rate_hz);
  enum class Codec { kOpus, kMp3 };
  // x encoded with `codec` at compression `level` (see AugmentOptions::codec_prob) and decoded
  // again, cut or zero-padded to x's length (the codec's delay, up to about 0.1 s, is kept). Opus
  // takes 8, 12, 16, 24 and 48 kHz, MP3 8-48 kHz; at another rate, or when libsndfile cannot
  // encode (built without the codec), x is returned unchanged.
  static std::vector<float> CodecRoundTrip(const std::vector<float>& x, int sample_rate_hz,
                                           Codec codec, double level);
  // Convolves x with a synthetic room impulse response of RT60 rt60_s, cut to x's length and
  // level-matched (same RMS).
  void Reverb(std::vector<float>& x, double rt60_s, std::mt19937_64& rng);
  // The sum of `talkers` random crops of babble_pool utterances, each at equal power, n samples.
  std::vector<float> Babble(std::size_t n, int talkers, std::mt19937_64& rng) const;
  // A random noise_pool clip from a random start, looped to n samples (empty without a pool).
  std::vector<float> RecordedNoise(std::size_t n, std::mt19937_64& rng) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace voxsex
