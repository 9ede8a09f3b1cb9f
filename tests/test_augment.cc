// Tests of the training-time waveform augmentation (include/voxsex/augment.h).
#include "voxsex/augment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "voxsex/audio.h"
#include "voxsex/error.h"

namespace voxsex {
namespace {

constexpr int kRate = 16000;

std::vector<float> Sine(double freq_hz, std::size_t n, double amplitude) {
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(amplitude * std::sin(2.0 * M_PI * freq_hz * i / kRate));
  }
  return x;
}

double Power(const std::vector<float>& x, std::size_t from = 0, std::size_t to = SIZE_MAX) {
  to = std::min(to, x.size());
  double s = 0.0;
  for (std::size_t i = from; i < to; ++i) s += static_cast<double>(x[i]) * x[i];
  return s / static_cast<double>(to - from);
}

double Db(double power_ratio) { return 10.0 * std::log10(power_ratio); }

// A real utterance from the fixtures, at 16 kHz.
std::vector<float> Speech() {
  return ReadAudio(std::string(VOXSEX_TEST_DATA) + "/clip_3_wav16_16k_mono.wav").samples;
}

TEST(Augment, MixAtSnrGivesTheRequestedSnr) {
  const std::vector<float> speech = Speech();
  std::mt19937_64 rng(1);
  const std::vector<float> noise = Augmenter::PinkNoise(speech.size() / 3, rng);  // looped
  for (const double snr_db : {-5.0, 0.0, 10.0, 30.0}) {
    std::vector<float> mixed = speech;
    Augmenter::MixAtSnr(mixed, noise, snr_db);
    ASSERT_EQ(mixed.size(), speech.size());
    std::vector<float> added(speech.size());
    for (std::size_t i = 0; i < speech.size(); ++i) added[i] = mixed[i] - speech[i];
    EXPECT_NEAR(Db(Power(speech) / Power(added)), snr_db, 0.01) << snr_db;
  }
  // Silence or empty noise leaves the signal as it was.
  std::vector<float> silent(100, 0.0f);
  Augmenter::MixAtSnr(silent, noise, 0.0);
  EXPECT_EQ(Power(silent), 0.0);
}

TEST(Augment, PinkNoiseHasUnitPowerAndFallingSpectrum) {
  std::mt19937_64 rng(2);
  const auto pink = Augmenter::PinkNoise(4 * kRate, rng);
  ASSERT_EQ(pink.size(), 4u * kRate);
  EXPECT_NEAR(Power(pink), 1.0, 1e-3);
  // White noise has a first difference of twice its power and no lag-1 correlation; 1/f noise
  // is dominated by low frequencies: small differences, strong correlation.
  std::vector<float> diff(pink.size() - 1);
  double lag1 = 0.0;
  for (std::size_t i = 1; i < pink.size(); ++i) {
    diff[i - 1] = pink[i] - pink[i - 1];
    lag1 += static_cast<double>(pink[i]) * pink[i - 1];
  }
  lag1 /= static_cast<double>(pink.size() - 1);
  EXPECT_LT(Power(diff), 0.6) << "white noise would give 2";
  EXPECT_GT(lag1, 0.6) << "white noise would give 0";
}

TEST(Augment, TelephonePassesTheVoiceBandAndRemovesTheRest) {
  const std::size_t n = kRate;  // 1 s
  const auto gain_db = [&](double freq_hz) {
    const auto x = Sine(freq_hz, n, 0.5);
    const auto y = Augmenter::Telephone(x, kRate);
    EXPECT_EQ(y.size(), x.size());
    // Skip the filters' and resamplers' start-up.
    return Db(Power(y, n / 4) / Power(x, n / 4));
  };
  EXPECT_NEAR(gain_db(1000.0), 0.0, 1.0);
  EXPECT_NEAR(gain_db(2000.0), 0.0, 1.5);
  EXPECT_LT(gain_db(6000.0), -40.0);  // above 4 kHz: gone with the 8 kHz rate
  EXPECT_LT(gain_db(60.0), -20.0);    // mains hum: below the 300 Hz high-pass
}

// The largest normalised cross-correlation of y with x's second second (x has at least 2 s) over
// lags of +-max_lag samples (codecs delay the signal).
double BestCorrelation(const std::vector<float>& x, const std::vector<float>& y, int max_lag) {
  double best = -1.0;
  for (int lag = -max_lag; lag <= max_lag; ++lag) {
    double xy = 0.0, xx = 0.0, yy = 0.0;
    for (std::size_t i = kRate; i < std::min<std::size_t>(x.size(), 2 * kRate); ++i) {
      const auto j = static_cast<std::ptrdiff_t>(i) + lag;
      if (j < 0 || j >= static_cast<std::ptrdiff_t>(y.size())) continue;
      xy += static_cast<double>(x[i]) * y[j];
      xx += static_cast<double>(x[i]) * x[i];
      yy += static_cast<double>(y[j]) * y[j];
    }
    if (xx > 0 && yy > 0) best = std::max(best, xy / std::sqrt(xx * yy));
  }
  return best;
}

TEST(Augment, CodecRoundTripKeepsTheSpeechAndLosesMoreAtHigherCompression) {
  const auto speech = Speech();
  for (const auto codec : {Augmenter::Codec::kOpus, Augmenter::Codec::kMp3}) {
    SCOPED_TRACE(codec == Augmenter::Codec::kOpus ? "opus" : "mp3");
    const auto mild = Augmenter::CodecRoundTrip(speech, kRate, codec, 0.85);
    const auto hard = Augmenter::CodecRoundTrip(speech, kRate, codec, 1.0);
    ASSERT_EQ(mild.size(), speech.size());
    ASSERT_EQ(hard.size(), speech.size());
    EXPECT_NE(mild, speech);
    const double c_mild = BestCorrelation(speech, mild, 2500);
    const double c_hard = BestCorrelation(speech, hard, 2500);
    EXPECT_GT(c_mild, 0.9);  // the speech is still there, delayed
    EXPECT_GT(c_hard, 0.5);
    EXPECT_LT(c_hard, c_mild);  // and more of it is lost at the smallest size
    EXPECT_LT(c_hard, 0.999);
  }
  // Opus does not take 11.025 kHz: unchanged.
  const auto odd_rate = Sine(440.0, 11025, 0.3);
  EXPECT_EQ(Augmenter::CodecRoundTrip(odd_rate, 11025, Augmenter::Codec::kOpus, 0.9), odd_rate);

  AugmentOptions o;
  o.codec_prob = 1.0;
  ASSERT_FALSE(o.IsIdentity());
  Augmenter aug(o, kRate);
  std::mt19937_64 r1(5), r2(5);
  const auto a = aug.Apply(speech, r1);
  EXPECT_EQ(a, aug.Apply(speech, r2));
  EXPECT_EQ(a.size(), speech.size());
  EXPECT_GT(BestCorrelation(speech, a, 2500), 0.5);
  EXPECT_LT(BestCorrelation(speech, a, 2500), 0.999);
}

TEST(Augment, TelephoneQuantisesToEightBitMuLaw) {
  // At 8 bits a quiet tone keeps its shape but gains quantisation noise: SNR well under 16-bit's
  // 90+ dB, and above 25 dB (G.711 gives about 38 dB).
  const auto x = Sine(1000.0, kRate, 0.3);
  const auto y = Augmenter::Telephone(x, kRate);
  double err = 0.0, sig = 0.0;
  for (std::size_t i = kRate / 4; i < x.size(); ++i) {
    sig += static_cast<double>(x[i]) * x[i];
  }
  // Compare with the same channel's filters alone: a 1 kHz tone passes with small phase shift, so
  // measure the residual after least-squares fitting y to x.
  double xy = 0.0, xx = 0.0;
  for (std::size_t i = kRate / 4; i < x.size(); ++i) {
    xy += static_cast<double>(x[i]) * y[i];
    xx += static_cast<double>(x[i]) * x[i];
  }
  const double a = xy / xx;
  for (std::size_t i = kRate / 4; i < x.size(); ++i) {
    const double e = y[i] - a * x[i];
    err += e * e;
  }
  const double snr = Db(sig * a * a / err);
  EXPECT_GT(snr, 10.0);   // still the tone (the filters' phase shift counts as error here)
  EXPECT_LT(snr, 60.0);   // but not a clean copy
}

TEST(Augment, ReverbKeepsLengthAndLevelAndSmearsAnImpulse) {
  AugmentOptions opts;
  Augmenter aug(opts, kRate);
  std::vector<float> click(kRate, 0.0f);
  click[1000] = 1.0f;
  std::mt19937_64 rng(3);
  std::vector<float> y = click;
  aug.Reverb(y, 0.6, rng);
  ASSERT_EQ(y.size(), click.size());
  EXPECT_NEAR(Power(y), Power(click), 1e-6);
  // The impulse response spreads energy after the click, decaying: more in the first 100 ms than
  // in the next 100 ms, nothing before it.
  EXPECT_LT(Power(y, 0, 999), 1e-12 * Power(y));  // FFT round-off only
  const double early = Power(y, 1001, 1001 + 1600), late = Power(y, 1001 + 1600, 1001 + 3200);
  EXPECT_GT(early, 0.0);
  EXPECT_GT(early, 2.0 * late);
  // Same seed, same result; another seed, another room.
  std::mt19937_64 rng_a(4), rng_b(4), rng_c(5);
  const auto speech = Speech();
  std::vector<float> a = speech, b = speech, c = speech;
  aug.Reverb(a, 0.5, rng_a);
  aug.Reverb(b, 0.5, rng_b);
  aug.Reverb(c, 0.5, rng_c);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NEAR(Power(a), Power(speech), 1e-3 * Power(speech));
}

TEST(Augment, BabbleSumsTalkersFromThePool) {
  const auto speech = Speech();
  const auto tone = Sine(300.0, 8000, 0.1);
  Augmenter aug(AugmentOptions{}, kRate, {&speech, &tone});
  std::mt19937_64 rng(6);
  const auto babble = aug.Babble(3 * kRate, 4, rng);
  ASSERT_EQ(babble.size(), 3u * kRate);
  // Four talkers at unit power each, partly correlated: power between 1 and 16.
  EXPECT_GT(Power(babble), 1.0);
  EXPECT_LT(Power(babble), 16.0);
  Augmenter no_pool(AugmentOptions{}, kRate);
  EXPECT_EQ(Power(no_pool.Babble(1000, 4, rng)), 0.0);
}

TEST(Augment, ApplyIsDeterministicAndIdentityWhenOff) {
  const auto speech = Speech();
  AugmentOptions off;
  ASSERT_TRUE(off.IsIdentity());
  Augmenter identity(off, kRate);
  std::mt19937_64 rng(7);
  EXPECT_EQ(identity.Apply(speech, rng), speech);

  AugmentOptions all;
  all.noise_prob = all.reverb_prob = all.telephone_prob = all.clip_prob = 1.0;
  all.gain_db = 6.0;
  ASSERT_FALSE(all.IsIdentity());
  Augmenter aug(all, kRate, {&speech});
  std::mt19937_64 r1(8), r2(8), r3(9);
  const auto a = aug.Apply(speech, r1), b = aug.Apply(speech, r2), c = aug.Apply(speech, r3);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a.size(), speech.size());
  for (float v : a) ASSERT_TRUE(std::isfinite(v));
}

// Children's crops in training use ScaleProbabilities(augment, child_augment_scale).
TEST(Augment, ScaleProbabilitiesScalesEveryEffectButNotGain) {
  AugmentOptions all;
  all.noise_prob = all.reverb_prob = all.telephone_prob = all.clip_prob = 0.8;
  all.speed_prob = all.pitch_prob = all.tilt_prob = all.codec_prob = 0.8;
  all.gain_db = 6.0;
  const AugmentOptions half = ScaleProbabilities(all, 0.5);
  for (double p : {half.noise_prob, half.reverb_prob, half.telephone_prob, half.codec_prob,
                   half.clip_prob,
                   half.speed_prob, half.pitch_prob, half.tilt_prob}) {
    EXPECT_DOUBLE_EQ(p, 0.4);
  }
  EXPECT_DOUBLE_EQ(half.gain_db, 6.0);
  EXPECT_DOUBLE_EQ(half.snr_min_db, all.snr_min_db);
  AugmentOptions none = ScaleProbabilities(all, 0.0);
  EXPECT_FALSE(none.IsIdentity());  // the gain stays
  none.gain_db = 0.0;
  EXPECT_TRUE(none.IsIdentity());
  const auto speech = Speech();
  Augmenter identity(none, kRate, {&speech});
  std::mt19937_64 rng(3);
  EXPECT_EQ(identity.Apply(speech, rng), speech);
}

TEST(Augment, ClippingAndSpeed) {
  const auto speech = Speech();
  AugmentOptions clip;
  clip.clip_prob = 1.0;
  clip.clip_min_db = clip.clip_max_db = 30.0;
  Augmenter clipper(clip, kRate);
  std::mt19937_64 rng(10);
  const auto clipped = clipper.Apply(speech, rng);
  const auto at_full_scale = std::count_if(clipped.begin(), clipped.end(),
                                           [](float v) { return std::fabs(v) >= 1.0f; });
  EXPECT_GT(at_full_scale, 0);
  EXPECT_LE(*std::max_element(clipped.begin(), clipped.end()), 1.0f);
  EXPECT_GE(*std::min_element(clipped.begin(), clipped.end()), -1.0f);

  AugmentOptions speed;
  speed.speed_prob = 1.0;
  speed.speed_range = 0.1;
  Augmenter perturb(speed, kRate);
  bool changed = false;
  for (int k = 0; k < 5; ++k) {
    const auto y = perturb.Apply(speech, rng);
    const double ratio = static_cast<double>(y.size()) / speech.size();
    EXPECT_GE(ratio, 1.0 / 1.1 - 1e-3);
    EXPECT_LE(ratio, 1.0 / 0.9 + 1e-3);
    changed = changed || y.size() != speech.size();
  }
  EXPECT_TRUE(changed);
}

// Recorded noise is a fourth kind of additive noise, drawn about a quarter of the time: with a
// 1 kHz tone as the only clip, the added noise of ~1/4 of 80 draws is the tone.
TEST(Augment, RecordedNoiseIsAFourthKindOfNoise) {
  const auto speech = Speech();
  const auto tone = Sine(1000.0, kRate / 2, 0.3);
  AugmentOptions o;
  o.noise_prob = 1.0;
  o.snr_min_db = o.snr_max_db = 0.0;
  Augmenter without(o, kRate, {&speech});
  std::mt19937_64 rng(3);
  EXPECT_TRUE(without.RecordedNoise(100, rng).empty());
  Augmenter aug(o, kRate, {&speech}, {&tone});
  const auto looped = aug.RecordedNoise(3 * tone.size(), rng);
  ASSERT_EQ(looped.size(), 3 * tone.size());
  EXPECT_NEAR(Power(looped), Power(tone), 0.01 * Power(tone));
  int tones = 0;
  for (int k = 0; k < 80; ++k) {
    const auto y = aug.Apply(speech, rng);
    std::vector<float> added(y.size());
    for (std::size_t i = 0; i < y.size(); ++i) added[i] = y[i] - speech[i];
    // Power at 1 kHz (a one-bin DFT) against the total: ~1 for the tone, ~0 for the others.
    double re = 0, im = 0;
    for (std::size_t i = 0; i < added.size(); ++i) {
      re += added[i] * std::cos(2 * M_PI * 1000.0 * i / kRate);
      im += added[i] * std::sin(2 * M_PI * 1000.0 * i / kRate);
    }
    const double at_1k = 2 * (re * re + im * im) / static_cast<double>(added.size()) / added.size();
    tones += at_1k > 0.5 * Power(added);
  }
  EXPECT_GE(tones, 8);
  EXPECT_LE(tones, 35);
}

// Pitch shift changes the length by its factor (at most 2^(4/12) either way) and is drawn from
// the generator; tilt keeps the length.
TEST(Augment, PitchAndTiltPerturbations) {
  const auto speech = Speech();
  AugmentOptions o;
  o.pitch_prob = o.tilt_prob = 1.0;
  ASSERT_FALSE(o.IsIdentity());
  Augmenter aug(o, kRate);
  std::mt19937_64 r1(5), r2(5);
  bool changed = false;
  for (int k = 0; k < 5; ++k) {
    const auto a = aug.Apply(speech, r1), b = aug.Apply(speech, r2);
    EXPECT_EQ(a, b);
    const double ratio = static_cast<double>(a.size()) / speech.size();
    EXPECT_GE(ratio, std::pow(2.0, -4.0 / 12) - 1e-3);
    EXPECT_LE(ratio, std::pow(2.0, 4.0 / 12) + 1e-3);
    changed = changed || a.size() != speech.size();
    for (float v : a) ASSERT_TRUE(std::isfinite(v));
  }
  EXPECT_TRUE(changed);
  AugmentOptions tilt;
  tilt.tilt_prob = 1.0;
  Augmenter tilter(tilt, kRate);
  const auto t = tilter.Apply(speech, r1);
  EXPECT_EQ(t.size(), speech.size());
  EXPECT_NE(t, speech);
}

TEST(Augment, InvalidOptionsThrow) {
  const auto expect_invalid = [](void (*set)(AugmentOptions&)) {
    AugmentOptions o;
    set(o);
    EXPECT_THROW(o.Validate(), ConfigError);
    EXPECT_THROW(Augmenter(o, kRate), ConfigError);
  };
  expect_invalid([](AugmentOptions& o) { o.noise_prob = 1.5; });
  expect_invalid([](AugmentOptions& o) { o.reverb_prob = -0.1; });
  expect_invalid([](AugmentOptions& o) { o.snr_min_db = 10; o.snr_max_db = 5; });
  expect_invalid([](AugmentOptions& o) { o.babble_min_talkers = 0; });
  expect_invalid([](AugmentOptions& o) { o.rt60_max_s = 10.0; });
  expect_invalid([](AugmentOptions& o) { o.speed_range = 0.5; });
  expect_invalid([](AugmentOptions& o) { o.gain_db = std::nan(""); });
  expect_invalid([](AugmentOptions& o) { o.pitch_prob = 2.0; });
  expect_invalid([](AugmentOptions& o) { o.pitch_semitones = 13.0; });
  expect_invalid([](AugmentOptions& o) { o.tilt_max = 1.0; });
  expect_invalid([](AugmentOptions& o) { o.codec_prob = -1.0; });
  expect_invalid([](AugmentOptions& o) { o.codec_min_level = 0.9; o.codec_max_level = 0.5; });
  expect_invalid([](AugmentOptions& o) { o.codec_max_level = 1.5; });
  EXPECT_THROW(Augmenter(AugmentOptions{}, 100), ConfigError);
  EXPECT_NO_THROW(AugmentOptions{}.Validate());
}

}  // namespace
}  // namespace voxsex
