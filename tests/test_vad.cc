// Tests of the speech-frame selection (include/voxsex/vad.h).
#include "voxsex/vad.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "voxsex/audio.h"
#include "voxsex/error.h"
#include "voxsex/mel.h"

namespace voxsex {
namespace {

constexpr int kRate = 16000;

LogMel Mel(const std::vector<float>& x) {
  MelFrontend frontend(MelOptions{});
  return frontend.Compute(x);
}

std::vector<float> Noise(std::size_t n, double rms, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, static_cast<float>(rms));
  std::vector<float> x(n);
  for (float& v : x) v = g(rng);
  return x;
}

TEST(Vad, SelectsTheSpeechBetweenPausesOfARealUtterance) {
  // 1 s of quiet room noise, a real utterance, 1 s of quiet room noise.
  const auto speech =
      ReadAudio(std::string(VOXSEX_TEST_DATA) + "/clip_3_wav16_16k_mono.wav").samples;
  std::vector<float> x = Noise(kRate, 1e-3, 1);
  const std::size_t speech_start = x.size();
  x.insert(x.end(), speech.begin(), speech.end());
  const std::size_t speech_end = x.size();
  const auto tail = Noise(kRate, 1e-3, 2);
  x.insert(x.end(), tail.begin(), tail.end());

  const LogMel lm = Mel(x);
  const SpeechSelection sel = SelectSpeech(lm, VadOptions{});
  ASSERT_FALSE(sel.no_speech);
  ASSERT_FALSE(sel.frames.empty());
  EXPECT_EQ(sel.num_speech_frames, static_cast<int>(sel.frames.size()));
  EXPECT_TRUE(std::is_sorted(sel.frames.begin(), sel.frames.end()));
  // Every selected frame lies within the utterance (one frame of slack for the 25 ms window) ...
  const int first = static_cast<int>(speech_start / 160) - 2;
  const int last = static_cast<int>(speech_end / 160) + 2;
  for (int f : sel.frames) {
    ASSERT_GE(f, first);
    ASSERT_LE(f, last);
  }
  // ... and a good share of it is kept: the utterance is mostly voiced.
  const int utterance_frames = static_cast<int>(speech.size() / 160);
  EXPECT_GT(sel.num_speech_frames, utterance_frames / 3);
}

TEST(Vad, ADcOffsetDoesNotHideTheSpeech) {
  // AudioMNIST-like: a real utterance riding on a DC offset of -0.085 (full scale 1). The DC
  // leaks into the lowest mel bands of every frame; from first_band up the speech stands out.
  auto x = ReadAudio(std::string(VOXSEX_TEST_DATA) + "/clip_3_wav16_16k_mono.wav").samples;
  const auto quiet = Noise(kRate / 2, 1e-3, 5);
  x.insert(x.begin(), quiet.begin(), quiet.end());
  for (float& v : x) v = v * 0.3f - 0.085f;
  const LogMel lm = Mel(x);
  const SpeechSelection sel = SelectSpeech(lm, VadOptions{});
  EXPECT_FALSE(sel.no_speech);
  EXPECT_GE(sel.frames.front(), 48);  // the leading half second of offset alone is not speech
  VadOptions all_bands;
  all_bands.first_band = 0;
  EXPECT_LT(SelectSpeech(lm, all_bands).num_speech_frames, sel.num_speech_frames);
}

TEST(Vad, StationaryNoiseAndToneHaveNoSpeech) {
  for (const auto& x : {Noise(3 * kRate, 0.1, 3), Noise(3 * kRate, 1e-4, 4)}) {
    const LogMel lm = Mel(x);
    const SpeechSelection sel = SelectSpeech(lm, VadOptions{});
    EXPECT_TRUE(sel.no_speech);
    EXPECT_EQ(sel.num_speech_frames, 0);
    ASSERT_EQ(static_cast<int>(sel.frames.size()), lm.num_frames);  // every frame is used
    for (int t = 0; t < lm.num_frames; ++t) ASSERT_EQ(sel.frames[t], t);
  }
  std::vector<float> tone(2 * kRate);
  for (std::size_t i = 0; i < tone.size(); ++i) tone[i] = 0.5f * std::sin(2 * M_PI * 440.0 * i / kRate);
  EXPECT_TRUE(SelectSpeech(Mel(tone), VadOptions{}).no_speech);
}

TEST(Vad, OptionsChangeTheSelection) {
  const auto speech =
      ReadAudio(std::string(VOXSEX_TEST_DATA) + "/clip_1_aiff24_32k_stereo.aiff").samples;
  const LogMel lm = Mel(speech);
  VadOptions loose, strict;
  loose.background_margin_db = 0.0;
  loose.dynamic_range_db = 120.0;
  strict.dynamic_range_db = 10.0;
  const auto n_loose = SelectSpeech(lm, loose).frames.size();
  const auto n_default = SelectSpeech(lm, VadOptions{}).frames.size();
  const auto n_strict = SelectSpeech(lm, strict).frames.size();
  EXPECT_GE(n_loose, n_default);
  EXPECT_GT(n_default, n_strict);
  VadOptions need_many;
  need_many.min_speech_frames = lm.num_frames + 1;
  EXPECT_TRUE(SelectSpeech(lm, need_many).no_speech);
}

TEST(Vad, EmptyInputAndKeepFrames) {
  LogMel empty;
  empty.num_mels = 64;
  const SpeechSelection sel = SelectSpeech(empty, VadOptions{});
  EXPECT_TRUE(sel.no_speech);
  EXPECT_TRUE(sel.frames.empty());

  LogMel lm;
  lm.num_frames = 4;
  lm.num_mels = 2;
  lm.data = {0, 1, 10, 11, 20, 21, 30, 31};
  const LogMel kept = KeepFrames(lm, {1, 3});
  EXPECT_EQ(kept.num_frames, 2);
  EXPECT_EQ(kept.num_mels, 2);
  EXPECT_EQ(kept.data, (std::vector<float>{10, 11, 30, 31}));
}

TEST(Vad, InvalidOptionsThrow) {
  VadOptions o;
  EXPECT_NO_THROW(o.Validate());
  o.dynamic_range_db = 0;
  EXPECT_THROW(o.Validate(), ConfigError);
  o = VadOptions{};
  o.background_percentile = 101;
  EXPECT_THROW(o.Validate(), ConfigError);
  o = VadOptions{};
  o.min_speech_frames = 0;
  EXPECT_THROW(o.Validate(), ConfigError);
  o = VadOptions{};
  o.first_band = -1;
  EXPECT_THROW(o.Validate(), ConfigError);
  o = VadOptions{};
  o.background_margin_db = std::nan("");
  EXPECT_THROW(o.Validate(), ConfigError);
}

}  // namespace
}  // namespace voxsex
