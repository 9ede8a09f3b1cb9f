// Tests of the voice perturbations (include/voxsex/voice.h) on a synthetic vowel whose pitch and
// formants are known: the pitch moves, the formants stay.
#include "voxsex/voice.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

#include "voxsex/audio.h"

namespace voxsex {
namespace {

constexpr int kRate = 16000;

// A vowel: an impulse train at f0_hz (a glottal source, low-passed) through second-order
// resonators at the formants (frequency, bandwidth Hz), 1 s, RMS 0.1.
std::vector<float> Vowel(double f0_hz, const std::vector<std::pair<double, double>>& formants) {
  std::vector<double> x(kRate, 0.0);
  for (double t = 0.0; t < kRate; t += kRate / f0_hz) x[static_cast<std::size_t>(t)] = 1.0;
  double lp = 0.0;
  for (double& v : x) v = lp = 0.9 * lp + v;  // glottal roll-off
  for (const auto& [f, bw] : formants) {
    const double r = std::exp(-M_PI * bw / kRate), c = 2.0 * r * std::cos(2.0 * M_PI * f / kRate);
    double y1 = 0.0, y2 = 0.0;
    for (double& v : x) {
      const double y = v + c * y1 - r * r * y2;
      y2 = y1;
      y1 = y;
      v = y;
    }
  }
  double s = 0.0;
  for (double v : x) s += v * v;
  const double g = 0.1 / std::sqrt(s / x.size());
  std::vector<float> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = static_cast<float>(x[i] * g);
  return out;
}

const std::vector<std::pair<double, double>> kFormants = {{700, 80}, {1220, 90}, {2600, 120}};

// F0 by the normalised autocorrelation of the middle 0.25 s, lags for 60-500 Hz: the shortest lag
// whose correlation is a local maximum within 10% of the best (not a multiple of the period), with
// parabolic interpolation of the peak.
double F0(const std::vector<float>& x) {
  const std::size_t start = x.size() / 2 - kRate / 8, n = kRate / 4;
  const auto corr = [&](int lag) {
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t i = start; i < start + n; ++i) {
      ab += static_cast<double>(x[i]) * x[i + lag];
      aa += static_cast<double>(x[i]) * x[i];
      bb += static_cast<double>(x[i + lag]) * x[i + lag];
    }
    return ab / std::sqrt(aa * bb);
  };
  double top = -1.0;
  for (int lag = kRate / 500; lag <= kRate / 60; ++lag) top = std::max(top, corr(lag));
  int best = kRate / 500;
  for (int lag = kRate / 500 + 1; lag < kRate / 60; ++lag) {
    const double c = corr(lag);
    if (c >= 0.9 * top && c >= corr(lag - 1) && c >= corr(lag + 1)) {
      best = lag;
      break;
    }
  }
  const double a = corr(best - 1), b = corr(best), c = corr(best + 1);
  const double shift = 0.5 * (a - c) / (a - 2 * b + c);
  return kRate / (best + shift);
}

// The first two peaks above 250 Hz of the LPC envelope (order 12, the middle 64 ms), Hz.
std::vector<double> Formants(const std::vector<float>& x) {
  const std::size_t n = kRate * 64 / 1000;
  const std::vector<double> a = Lpc(x.data() + x.size() / 2, n, 12);
  std::vector<double> env;
  for (double f = 0; f <= 4000; f += 5) {
    std::complex<double> s = 0;
    for (std::size_t k = 0; k < a.size(); ++k) s += a[k] * std::polar(1.0, -2.0 * M_PI * f * k / kRate);
    env.push_back(1.0 / std::abs(s));
  }
  std::vector<double> peaks;
  for (std::size_t i = 1; i + 1 < env.size() && peaks.size() < 2; ++i) {
    if (i * 5 > 250 && env[i] > env[i - 1] && env[i] >= env[i + 1]) peaks.push_back(i * 5.0);
  }
  return peaks;
}

double Rms(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += static_cast<double>(v) * v;
  return std::sqrt(s / x.size());
}

TEST(Voice, TheSyntheticVowelMeasuresAsMade) {
  const auto v = Vowel(120, kFormants);
  EXPECT_NEAR(F0(v), 120.0, 1.5);
  const auto f = Formants(v);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_NEAR(f[0], 700, 60);
  EXPECT_NEAR(f[1], 1220, 80);
}

// A low and a middle voice, up and down by 4 semitones (x1.26; up to 214 Hz, where the harmonics
// still sample the envelope finely enough for an LPC measure of the formants): F0 follows within
// 3%, F1 and F2 stay within 8%, while plain
// resampling (speed perturbation) moves them by the same 26%; the level stays, the length changes
// by the factor.
TEST(Voice, ShiftPitchMovesF0AndKeepsFormantsAndLevel) {
  for (const double f0 : {120.0, 170.0}) {
    const auto v = Vowel(f0, kFormants);
    const auto before = Formants(v);
    ASSERT_EQ(before.size(), 2u);
    for (const double semitones : {4.0, -4.0}) {
      SCOPED_TRACE(testing::Message() << "F0 " << f0 << " Hz, " << semitones << " semitones");
      const double factor = std::pow(2.0, semitones / 12.0);
      const auto y = ShiftPitch(v, kRate, semitones);
      EXPECT_EQ(y.size(), static_cast<std::size_t>((v.size() - 1) / factor) + 1);
      EXPECT_NEAR(Rms(y), Rms(v), 0.01 * Rms(v));
      EXPECT_NEAR(F0(y) / (f0 * factor), 1.0, 0.03) << "F0 " << F0(y);
      const auto after = Formants(y);
      ASSERT_EQ(after.size(), 2u);
      EXPECT_NEAR(after[0] / before[0], 1.0, 0.08) << "F1 " << before[0] << " -> " << after[0];
      EXPECT_NEAR(after[1] / before[1], 1.0, 0.08) << "F2 " << before[1] << " -> " << after[1];
      // Speed perturbation moves both: the measure tells the two apart.
      const auto sped = Resample(v, static_cast<int>(std::lround(kRate * factor)), kRate);
      const auto moved = Formants(sped);
      ASSERT_EQ(moved.size(), 2u);
      EXPECT_NEAR(moved[1] / before[1], factor, 0.08);
    }
  }
}

TEST(Voice, ShiftPitchOfZeroOrShortInputIsACopy) {
  const auto v = Vowel(150, kFormants);
  EXPECT_EQ(ShiftPitch(v, kRate, 0.0), v);
  const std::vector<float> short_input(v.begin(), v.begin() + 100);
  EXPECT_EQ(ShiftPitch(short_input, kRate, 3.0), short_input);
  EXPECT_TRUE(ShiftPitch({}, kRate, 3.0).empty());
}

// beta 0.7 raises 2-4 kHz against 0-1 kHz by more than 5 dB, -0.7 lowers it as much; the level
// stays.
TEST(Voice, TiltSpectrumTiltsAndKeepsTheLevel) {
  const auto band_ratio_db = [](const std::vector<float>& x) {
    const std::vector<double> a = Lpc(x.data() + x.size() / 2, 1024, 16);
    double low = 0, high = 0;
    for (double f = 50; f <= 4000; f += 10) {
      std::complex<double> s = 0;
      for (std::size_t k = 0; k < a.size(); ++k) s += a[k] * std::polar(1.0, -2.0 * M_PI * f * k / kRate);
      (f <= 1000 ? low : high) += (f <= 1000 ? 1.0 : (f >= 2000 ? 1.0 : 0.0)) / std::norm(s);
    }
    return 10 * std::log10(high / low);
  };
  const auto v = Vowel(140, kFormants);
  auto up = v, down = v;
  TiltSpectrum(up, 0.7);
  TiltSpectrum(down, -0.7);
  EXPECT_NEAR(Rms(up), Rms(v), 1e-3);
  EXPECT_NEAR(Rms(down), Rms(v), 1e-3);
  EXPECT_GT(band_ratio_db(up) - band_ratio_db(v), 5.0);
  EXPECT_LT(band_ratio_db(down) - band_ratio_db(v), -5.0);
}

TEST(Voice, LpcOfSilenceIsTheIdentityFilter) {
  const std::vector<float> zeros(512, 0.0f);
  const auto a = Lpc(zeros.data(), zeros.size(), 10);
  ASSERT_EQ(a.size(), 11u);
  EXPECT_EQ(a[0], 1.0);
  for (std::size_t k = 1; k < a.size(); ++k) EXPECT_EQ(a[k], 0.0);
}

}  // namespace
}  // namespace voxsex
