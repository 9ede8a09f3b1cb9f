// Shared inputs for the voxsex benchmarks: speech audio of a given length and its log-mel.
#pragma once

#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "voxsex/audio.h"
#include "voxsex/error.h"
#include "voxsex/mel.h"

namespace voxsex::bench {

// The real 16 kHz mono speech fixture (4 s of an adult speaker; tests/data/README.md).
inline std::string SpeechClipPath() {
  return std::string(VOXSEX_TEST_DATA) + "/clip_3_wav16_16k_mono.wav";
}

// Synthetic speech-like audio at `sample_rate_hz`: a glottal-pulse-like harmonic series (f0
// gliding 100-220 Hz, 30 harmonics with a -6 dB/octave tilt) in syllable-rate (4 Hz) bursts, plus
// noise at -40 dBFS. Deterministic. Samples in [-1, 1].
inline std::vector<float> SyntheticSpeech(double duration_s, int sample_rate_hz) {
  const std::size_t n = static_cast<std::size_t>(duration_s * sample_rate_hz);
  std::vector<float> x(n);
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  const double two_pi = 2.0 * std::acos(-1.0);
  double phase = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / sample_rate_hz;
    const double f0 = 160.0 + 60.0 * std::sin(two_pi * 0.3 * t);
    phase += two_pi * f0 / sample_rate_hz;
    double v = 0.0;
    for (int h = 1; h <= 30 && h * f0 < sample_rate_hz / 2.0; ++h) v += std::sin(h * phase) / h;
    const double envelope = std::max(0.0, std::sin(two_pi * 4.0 * t));
    x[i] = static_cast<float>(0.15 * envelope * v) + noise(rng);
  }
  return x;
}

// `duration_s` of speech at 16 kHz: the real fixture repeated end to end when it can be read,
// else SyntheticSpeech. `*source` (if given) says which.
inline std::vector<float> SpeechAudio(double duration_s, std::string* source = nullptr) {
  constexpr int kRateHz = 16000;
  const std::size_t n = static_cast<std::size_t>(duration_s * kRateHz);
  try {
    const Audio clip = ReadAudio(SpeechClipPath());
    if (clip.sample_rate_hz == kRateHz && !clip.samples.empty()) {
      std::vector<float> x(n);
      for (std::size_t i = 0; i < n; ++i) x[i] = clip.samples[i % clip.samples.size()];
      if (source) *source = "real speech (tests/data clip_3, repeated)";
      return x;
    }
  } catch (const Error&) {
    // fall through to synthetic audio
  }
  if (source) *source = "synthetic speech-like audio";
  return SyntheticSpeech(duration_s, kRateHz);
}

}  // namespace voxsex::bench
