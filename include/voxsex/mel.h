// Log-mel front end: FFTW real-to-complex STFT -> power spectrum -> Slaney mel filterbank -> log.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace voxsex {

struct MelOptions {
  int sample_rate_hz = 16000;
  int n_fft = 512;
  int win_length = 400;  // samples (25 ms at 16 kHz); periodic Hann, centred in n_fft
  int hop_length = 160;  // samples (10 ms at 16 kHz)
  int num_mels = 64;
  float f_min_hz = 0.0f;
  float f_max_hz = 8000.0f;
  float log_offset = 1e-6f;  // log(mel + log_offset)

  // Seconds per frame: hop_length / sample_rate_hz.
  double frame_s() const { return static_cast<double>(hop_length) / sample_rate_hz; }

  // Throws ConfigError when a field is out of range or inconsistent.
  void Validate() const;
  std::string ToString() const;
  bool operator==(const MelOptions& o) const;
};

// Log-mel spectrogram [num_frames x num_mels], row-major.
struct LogMel {
  int num_frames = 0;
  int num_mels = 0;
  std::vector<float> data;

  const float* frame(int t) const { return data.data() + static_cast<std::size_t>(t) * num_mels; }
};

// Number of STFT frames for `num_samples` samples with centre padding (n_fft / 2 on each side, as
// torch.stft(center=True)): 1 + num_samples / hop_length for even n_fft (in general
// 1 + (num_samples + 2 * (n_fft / 2) - n_fft) / hop_length). Throws ConfigError for invalid options.
int NumFrames(std::size_t num_samples, const MelOptions& opts);

// Slaney-scale, Slaney-normalised triangular filterbank [num_mels x (n_fft / 2 + 1)], row-major;
// matches torchaudio.functional.melscale_fbanks(norm="slaney", mel_scale="slaney").
// Throws ConfigError for invalid options.
std::vector<float> MelFilterbank(const MelOptions& opts);

// Computes log-mel spectrograms. Matches
//   torchaudio.transforms.MelSpectrogram(sample_rate, n_fft, win_length, hop_length, f_min, f_max,
//       n_mels, window_fn=torch.hann_window (periodic), power=2.0, center=True, pad_mode="reflect",
//       norm="slaney", mel_scale="slaney")
// followed by log(x + log_offset).
// Signals no longer than n_fft / 2 samples cannot be reflect-padded as torch does; they are
// zero-padded instead.
// Holds FFTW plans and buffers built once: not thread-safe, use one instance per thread.
class MelFrontend {
 public:
  // Throws ConfigError for invalid options.
  explicit MelFrontend(const MelOptions& opts);
  ~MelFrontend();
  MelFrontend(const MelFrontend&) = delete;
  MelFrontend& operator=(const MelFrontend&) = delete;

  const MelOptions& options() const;

  // Returns log-mel [NumFrames(num_samples) x num_mels]. Throws ConfigError when num_samples == 0.
  LogMel Compute(const float* samples, std::size_t num_samples);
  LogMel Compute(const std::vector<float>& samples) { return Compute(samples.data(), samples.size()); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace voxsex
