// Tests for voxsex/audio.h: ReadAudio on the real fixtures in tests/data (made by
// scripts/data/make_fixtures.sh), on files written here with libsndfile, and on broken inputs;
// Resample on pure tones; HasAudioExtension; AudioReaderOptions::Validate.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "voxsex/audio.h"
#include "voxsex/error.h"
#include "voxsex/mel.h"

namespace voxsex {
namespace {

// Largest |a[i] - b[i]| and its index, over b's length (a must be at least as long).
template <typename A, typename B>
std::pair<double, size_t> MaxAbsDiff(const A& a, const B& b) {
  double max_diff = 0.0;
  size_t worst = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    const double diff = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (diff > max_diff) {
      max_diff = diff;
      worst = i;
    }
  }
  return {max_diff, worst};
}

namespace fs = std::filesystem;

constexpr double kPi = 3.14159265358979323846;

// One row of tests/data/fixtures.tsv.
struct Fixture {
  std::string id;
  std::string file;
  std::string source_id;
  std::string split;
  std::string format;
  int sample_rate_hz = 0;
  int channels = 0;
  double duration_s = 0.0;
};

// MP3 and Ogg Vorbis: the decoded length may differ from the source by codec frames.
bool IsLossy(const Fixture& f) {
  return f.format.rfind("mp3", 0) == 0 || f.format.rfind("vorbis", 0) == 0;
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream ss(line);
  std::string field;
  while (std::getline(ss, field, '\t')) fields.push_back(field);
  return fields;
}

// Parses fixtures.tsv by column name (independent of tsv.cc, which has its own tests).
std::vector<Fixture> ReadFixtures() {
  const std::string path = std::string(VOXSEX_TEST_DATA) + "/fixtures.tsv";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = SplitTabs(line);
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  for (const char* name :
       {"id", "file", "source_id", "split", "format", "sample_rate_hz", "channels", "duration_s"}) {
    EXPECT_TRUE(col.count(name)) << path << " lacks column " << name;
  }
  std::vector<Fixture> fixtures;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const std::vector<std::string> f = SplitTabs(line);
    if (f.size() != header.size()) {
      ADD_FAILURE() << path << ": bad line '" << line << "'";
      continue;
    }
    Fixture x;
    x.id = f[col["id"]];
    x.file = f[col["file"]];
    x.source_id = f[col["source_id"]];
    x.split = f[col["split"]];
    x.format = f[col["format"]];
    x.sample_rate_hz = std::stoi(f[col["sample_rate_hz"]]);
    x.channels = std::stoi(f[col["channels"]]);
    x.duration_s = std::stod(f[col["duration_s"]]);
    fixtures.push_back(x);
  }
  return fixtures;
}

// A fresh directory under the build tree for the current test (tests may run in parallel).
std::string TestTempDir() {
  const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::path(VOXSEX_BUILD_DIR) / "test_audio_tmp" /
                       (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

// Writes interleaved `frames` (values as given, no clipping by libsndfile) with libsndfile.
void WriteSndfile(const std::string& path, int format, int channels, int sample_rate_hz,
                  const std::vector<double>& interleaved) {
  SF_INFO info{};
  info.channels = channels;
  info.samplerate = sample_rate_hz;
  info.format = format;
  ASSERT_TRUE(sf_format_check(&info)) << "bad format for " << path;
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(file, nullptr) << path << ": " << sf_strerror(nullptr);
  const sf_count_t frames = static_cast<sf_count_t>(interleaved.size()) / channels;
  EXPECT_EQ(sf_writef_double(file, interleaved.data(), frames), frames);
  EXPECT_EQ(sf_close(file), 0);
}

std::vector<double> Sine(double freq_hz, int sample_rate_hz, size_t n, double amplitude) {
  std::vector<double> x(n);
  for (size_t i = 0; i < n; ++i)
    x[i] = amplitude * std::sin(2.0 * kPi * freq_hz * i / sample_rate_hz);
  return x;
}

double Rms(const std::vector<float>& x, size_t begin = 0, size_t end = SIZE_MAX) {
  end = std::min(end, x.size());
  double sum = 0.0;
  for (size_t i = begin; i < end; ++i) sum += static_cast<double>(x[i]) * x[i];
  return end > begin ? std::sqrt(sum / static_cast<double>(end - begin)) : 0.0;
}

// Power of `x[begin, end)` at `freq_hz` (Goertzel), as a fraction of the segment's total power:
// 1 for a pure tone at that frequency.
double ToneFraction(const std::vector<float>& x, size_t begin, size_t end, double freq_hz,
                    int sample_rate_hz) {
  const double n = static_cast<double>(end - begin);
  double re = 0.0, im = 0.0, energy = 0.0;
  for (size_t i = begin; i < end; ++i) {
    const double phase = 2.0 * kPi * freq_hz * static_cast<double>(i - begin) / sample_rate_hz;
    re += x[i] * std::cos(phase);
    im += x[i] * std::sin(phase);
    energy += static_cast<double>(x[i]) * x[i];
  }
  // A sinusoid of amplitude A gives |X| = A n / 2 and energy A^2 n / 2.
  return energy > 0.0 ? 2.0 * (re * re + im * im) / (n * energy) : 0.0;
}

// Sign changes in x[begin, end).
int ZeroCrossings(const std::vector<float>& x, size_t begin, size_t end) {
  int count = 0;
  for (size_t i = begin + 1; i < end; ++i) {
    if ((x[i - 1] < 0.0f) != (x[i] < 0.0f)) ++count;
  }
  return count;
}

// Largest normalised cross-correlation of a[i] and b[i + lag] over i < window and lags in
// [min_lag, max_lag]; the best lag goes to *best_lag.
double BestCorrelation(const std::vector<float>& a, const std::vector<float>& b, size_t window,
                       int min_lag, int max_lag, int* best_lag) {
  double best = -1.0;
  window = std::min(window, a.size());
  for (int lag = min_lag; lag <= max_lag; ++lag) {
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (size_t i = 0; i < window; ++i) {
      const long j = static_cast<long>(i) + lag;
      if (j < 0 || j >= static_cast<long>(b.size())) continue;
      ab += static_cast<double>(a[i]) * b[j];
      aa += static_cast<double>(a[i]) * a[i];
      bb += static_cast<double>(b[j]) * b[j];
    }
    const double r = (aa > 0.0 && bb > 0.0) ? ab / std::sqrt(aa * bb) : 0.0;
    if (r > best) {
      best = r;
      *best_lag = lag;
    }
  }
  return best;
}

// Asserts `fn` throws AudioError whose message contains `path` and `reason`.
template <typename Fn>
void ExpectAudioError(Fn fn, const std::string& path, const std::string& reason = "") {
  try {
    fn();
    ADD_FAILURE() << "no AudioError for " << path;
  } catch (const AudioError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << "message lacks the path: " << what;
    EXPECT_NE(what.find(reason), std::string::npos) << "message lacks '" << reason << "': " << what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected AudioError for " << path << ", got: " << e.what();
  }
}

// ---------------------------------------------------------------- real fixtures (tests/data)

TEST(AudioFixtures, TableDescribesSixAdultTrainOrDevClips) {
  const std::vector<Fixture> fixtures = ReadFixtures();
  ASSERT_EQ(fixtures.size(), 6u);
  for (const Fixture& f : fixtures) {
    EXPECT_TRUE(f.split == "train" || f.split == "dev") << f.id << " comes from " << f.split;
    EXPECT_TRUE(fs::exists(std::string(VOXSEX_TEST_DATA) + "/" + f.file)) << f.file;
  }
}

// The fixture files are what fixtures.tsv says they are (checked by libsndfile directly).
TEST(AudioFixtures, HeadersMatchTable) {
  for (const Fixture& f : ReadFixtures()) {
    const std::string path = std::string(VOXSEX_TEST_DATA) + "/" + f.file;
    SF_INFO info{};
    SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
    ASSERT_NE(file, nullptr) << path << ": " << sf_strerror(nullptr);
    EXPECT_EQ(info.samplerate, f.sample_rate_hz) << f.id;
    EXPECT_EQ(info.channels, f.channels) << f.id;
    sf_close(file);
  }
}

// Every fixture decodes to mono 16 kHz, as long as the source clip, within [-1, 1], not silent.
TEST(AudioFixtures, EveryFixtureReadsAsMono16kHz) {
  for (const Fixture& f : ReadFixtures()) {
    SCOPED_TRACE(f.id);
    const Audio audio = ReadAudio(std::string(VOXSEX_TEST_DATA) + "/" + f.file);
    EXPECT_EQ(audio.sample_rate_hz, 16000);
    // Lossless and u-law files keep their length to the sample (+-1 from rate conversion).
    // MP3 without a LAME/Xing gapless tag (sox writes none) decodes with the encoder delay and
    // padding to whole 1152-sample frames: +32 ms here; allow 50 ms for MP3 and Vorbis.
    const double tolerance_s = IsLossy(f) ? 0.050 : 0.002;
    EXPECT_NEAR(audio.duration_s(), f.duration_s, tolerance_s);
    const auto [lo, hi] = std::minmax_element(audio.samples.begin(), audio.samples.end());
    EXPECT_GE(*lo, -1.0f);
    EXPECT_LE(*hi, 1.0f);
    // Speech clips: RMS well above silence (-50 dBFS ~ 0.003) and peaks well above the noise.
    EXPECT_GT(Rms(audio.samples), 0.01) << "max " << *hi << " min " << *lo;
    EXPECT_GT(std::max(-*lo, *hi), 0.1f);
  }
}

// Pearson correlation of the log-mel cells (default MelOptions, 16 kHz) of the first `seconds` of
// a and b, both 16 kHz.
double LogMelCorrelation(const std::vector<float>& a, const std::vector<float>& b, double seconds) {
  MelFrontend frontend{MelOptions{}};
  const std::size_t n = std::min({a.size(), b.size(), static_cast<std::size_t>(seconds * 16000)});
  const LogMel ma = frontend.Compute(a.data(), n), mb = frontend.Compute(b.data(), n);
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  const double count = static_cast<double>(ma.data.size());
  for (std::size_t i = 0; i < ma.data.size(); ++i) {
    sa += ma.data[i];
    sb += mb.data[i];
    saa += static_cast<double>(ma.data[i]) * ma.data[i];
    sbb += static_cast<double>(mb.data[i]) * mb.data[i];
    sab += static_cast<double>(ma.data[i]) * mb.data[i];
  }
  const double cov = sab / count - sa / count * sb / count;
  return cov / std::sqrt((saa / count - sa / count * sa / count) * (sbb / count - sb / count * sb / count));
}

// Decoded fixtures match the corpus file they were made from. The fixtures were made from corpus
// v1's FLAC files (scripts/data/make_fixtures.sh); v2 keeps FLAC for v1's dev and test files only
// and stores the train clips as Ogg Opus at 32 kbit/s (voxsex-data/README.md).
// - FLAC source: the waveforms, compared at the fixture's own rate (fixture read with target 0,
//   source resampled to it by soxr), over the first 2 s: lossless correlation > 0.999, u-law /
//   Vorbis / MP3 > 0.99. MP3 is aligned first: sox writes no gapless tag, so the decoder output
//   starts with the encoder delay (LAME: 1105 samples), searched in [0, 50 ms]; a fractional-sample
//   misalignment at 16 kHz would cost several per cent.
// - Opus source: a perceptual codec at 32 kbit/s keeps the spectrum, not the waveform (waveform
//   correlation 0.45-0.998 for these six pairs), so the log-mel of the first 2 s at 16 kHz is
//   compared instead: correlation > 0.85. Measured 0.89-0.99 for the six pairs (lowest: MP3, not
//   aligned), and at most 0.50 between a fixture and another fixture's source (torchaudio).
TEST(AudioFixtures, MatchTheirCorpusSource) {
  const std::string corpus = VOXSEX_CORPUS_DIR;
  if (!fs::exists(corpus + "/meta.tsv")) GTEST_SKIP() << "corpus not found at " << corpus;
  for (const Fixture& f : ReadFixtures()) {
    SCOPED_TRACE(f.id);
    const std::string stem = corpus + "/" + f.split + "/" + f.source_id;
    const std::string fixture = std::string(VOXSEX_TEST_DATA) + "/" + f.file;
    if (fs::exists(stem + ".opus")) {
      const double r = LogMelCorrelation(ReadAudio(stem + ".opus").samples,
                                         ReadAudio(fixture).samples, 2.0);
      EXPECT_GT(r, 0.85) << "log-mel correlation with " << stem << ".opus";
      continue;
    }
    const std::string source = stem + ".flac";
    ASSERT_TRUE(fs::exists(source)) << source << " (nor .opus)";
    AudioReaderOptions native;
    native.target_sample_rate_hz = f.sample_rate_hz;
    const Audio ref = ReadAudio(source, native);
    native.target_sample_rate_hz = 0;
    const Audio got = ReadAudio(fixture, native);
    ASSERT_EQ(got.sample_rate_hz, f.sample_rate_hz);
    const bool mp3 = f.format.rfind("mp3", 0) == 0;
    const bool lossless = f.format.rfind("ulaw", 0) != 0 && !IsLossy(f);
    int lag = 0;
    const double r = BestCorrelation(ref.samples, got.samples, 2 * f.sample_rate_hz, 0,
                                     mp3 ? f.sample_rate_hz / 20 : 0, &lag);
    EXPECT_GT(r, lossless ? 0.999 : 0.99) << "lag " << lag;
  }
}

TEST(AudioFixtures, TargetZeroKeepsTheFileRate) {
  for (const Fixture& f : ReadFixtures()) {
    SCOPED_TRACE(f.id);
    AudioReaderOptions opts;
    opts.target_sample_rate_hz = 0;
    const Audio audio = ReadAudio(std::string(VOXSEX_TEST_DATA) + "/" + f.file, opts);
    EXPECT_EQ(audio.sample_rate_hz, f.sample_rate_hz);
    EXPECT_NEAR(audio.duration_s(), f.duration_s, IsLossy(f) ? 0.050 : 0.0005);
  }
}

// ---------------------------------------------------------------- resampling

struct ToneCase {
  int from_hz;
  int to_hz;
};

void PrintTo(const ToneCase& c, std::ostream* os) {
  *os << c.from_hz << " Hz -> " << c.to_hz << " Hz";
}

class AudioResampleTone : public testing::TestWithParam<ToneCase> {};

// A 1 kHz tone keeps its frequency (zero crossings and Goertzel power) and its duration
// (output length = round(n * to / from)) through Resample().
TEST_P(AudioResampleTone, KeepsFrequencyAndLength) {
  const ToneCase c = GetParam();
  const size_t n = static_cast<size_t>(c.from_hz);  // 1 s
  const std::vector<double> tone = Sine(1000.0, c.from_hz, n, 0.5);
  const std::vector<float> in(tone.begin(), tone.end());
  const std::vector<float> out = Resample(in, c.from_hz, c.to_hz);
  ASSERT_EQ(out.size(), static_cast<size_t>(c.to_hz));
  // Skip 10 ms at each end (filter transients); 1 kHz = 2 crossings per ms.
  const size_t edge = static_cast<size_t>(c.to_hz / 100);
  const int crossings = ZeroCrossings(out, edge, out.size() - edge);
  EXPECT_NEAR(crossings, 2 * 980, 2);
  EXPECT_GT(ToneFraction(out, edge, out.size() - edge, 1000.0, c.to_hz), 0.999);
  EXPECT_NEAR(Rms(out, edge, out.size() - edge), 0.5 / std::sqrt(2.0), 0.005);
}

INSTANTIATE_TEST_SUITE_P(Rates, AudioResampleTone,
                         testing::Values(ToneCase{44100, 16000}, ToneCase{8000, 16000},
                                         ToneCase{48000, 16000}, ToneCase{16000, 22050}),
                         [](const testing::TestParamInfo<ToneCase>& info) {
                           return std::to_string(info.param.from_hz) + "_to_" +
                                  std::to_string(info.param.to_hz);
                         });

// Same through ReadAudio on WAV files written at 44.1 kHz and 8 kHz.
TEST(AudioRead, ResamplesToneFileTo16kHz) {
  const std::string dir = TestTempDir();
  for (int rate_hz : {44100, 8000}) {
    SCOPED_TRACE(rate_hz);
    const std::string path = dir + "/tone_" + std::to_string(rate_hz) + ".wav";
    WriteSndfile(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, rate_hz,
                 Sine(1000.0, rate_hz, static_cast<size_t>(2 * rate_hz), 0.5));
    const Audio audio = ReadAudio(path);
    EXPECT_EQ(audio.sample_rate_hz, 16000);
    ASSERT_EQ(audio.samples.size(), 32000u);
    EXPECT_NEAR(ZeroCrossings(audio.samples, 160, 32000 - 160), 2 * 1980, 2);
    EXPECT_GT(ToneFraction(audio.samples, 160, 32000 - 160, 1000.0, 16000), 0.999);
  }
}

// Streaming resampling does not depend on how the input is cut: ReadAudio (8192-frame reads) and
// one Resample() call over 5 s (blocks of 65536) agree to float rounding.
TEST(AudioRead, ChunkedResamplingMatchesWholeSignalResample) {
  const std::string path = TestTempDir() + "/chirp.wav";
  const int rate_hz = 44100;
  std::vector<double> chirp(5 * rate_hz);
  for (size_t i = 0; i < chirp.size(); ++i) {
    const double t = static_cast<double>(i) / rate_hz;
    chirp[i] = 0.8 * std::sin(2.0 * kPi * (100.0 * t + 300.0 * t * t));  // 100 Hz -> 3.1 kHz
  }
  WriteSndfile(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, rate_hz, chirp);
  const Audio audio = ReadAudio(path);
  const std::vector<float> whole =
      Resample(std::vector<float>(chirp.begin(), chirp.end()), rate_hz, 16000);
  ASSERT_EQ(audio.samples.size(), 80000u);
  ASSERT_EQ(whole.size(), 80000u);
  const auto [max_diff, worst] = MaxAbsDiff(audio.samples, whole);
  EXPECT_LE(max_diff, 1e-5) << "max |diff| " << max_diff << " at index " << worst;
  EXPECT_NEAR(Rms(whole, 160, whole.size() - 160), 0.8 / std::sqrt(2.0), 0.01);
}

TEST(AudioResample, SameRateOrEmptyIsIdentity) {
  const std::vector<float> x = {0.1f, -0.2f, 0.3f};
  EXPECT_EQ(Resample(x, 16000, 16000), x);
  EXPECT_TRUE(Resample({}, 44100, 16000).empty());
}

TEST(AudioResample, NonPositiveRatesThrowAudioError) {
  const std::vector<float> x(100, 0.0f);
  EXPECT_THROW(Resample(x, 0, 16000), AudioError);
  EXPECT_THROW(Resample(x, 16000, -1), AudioError);
}

// ---------------------------------------------------------------- decoding and downmix

// Channels are averaged: L = -R cancels to ~0, L = 0.5 / R = 0.1 gives 0.3.
TEST(AudioRead, StereoIsAveragedToMono) {
  const std::string dir = TestTempDir();
  const size_t n = 16000;
  const std::vector<double> tone = Sine(440.0, 16000, n, 0.5);
  std::vector<double> opposite(2 * n), constant(2 * n);
  for (size_t i = 0; i < n; ++i) {
    opposite[2 * i] = tone[i];
    opposite[2 * i + 1] = -tone[i];
    constant[2 * i] = 0.5;
    constant[2 * i + 1] = 0.1;
  }
  WriteSndfile(dir + "/opposite.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 2, 16000, opposite);
  WriteSndfile(dir + "/constant.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 2, 16000, constant);

  const Audio a = ReadAudio(dir + "/opposite.wav");
  ASSERT_EQ(a.samples.size(), n);
  float max_abs = 0.0f;
  for (float x : a.samples) max_abs = std::max(max_abs, std::abs(x));
  EXPECT_LT(max_abs, 1e-6f);

  const Audio b = ReadAudio(dir + "/constant.wav");
  ASSERT_EQ(b.samples.size(), n);
  for (size_t i = 0; i < n; ++i) ASSERT_NEAR(b.samples[i], 0.3f, 1e-6f) << "index " << i;
}

struct PcmCase {
  const char* name;
  int subtype;
  // Two quantisation steps: libsndfile writes round(x * (2^(bits-1) - 1)) and reads
  // int / 2^(bits-1), so the round trip is off by up to half a step plus |x| of a step.
  double tolerance;
};

void PrintTo(const PcmCase& c, std::ostream* os) { *os << c.name; }

class AudioReadPcm : public testing::TestWithParam<PcmCase> {};

// WAVs written by libsndfile at each sample format read back with the values written.
TEST_P(AudioReadPcm, ReadsBackWrittenValues) {
  const PcmCase c = GetParam();
  const std::string path = TestTempDir() + "/" + c.name + ".wav";
  const std::vector<double> values = {0.0, 0.5, -0.5, 0.25, -0.75, 0.9, -0.9, 0.123, -0.456, 0.0};
  WriteSndfile(path, SF_FORMAT_WAV | c.subtype, 1, 16000, values);
  const Audio audio = ReadAudio(path);
  EXPECT_EQ(audio.sample_rate_hz, 16000);
  ASSERT_EQ(audio.samples.size(), values.size());
  const auto [max_diff, worst] = MaxAbsDiff(audio.samples, values);
  EXPECT_LE(max_diff, c.tolerance) << "max |diff| " << max_diff << " at index " << worst;
}

INSTANTIATE_TEST_SUITE_P(Formats, AudioReadPcm,
                         testing::Values(PcmCase{"pcm_u8", SF_FORMAT_PCM_U8, 2.0 / 128},
                                         PcmCase{"pcm_16", SF_FORMAT_PCM_16, 2.0 / 32768},
                                         PcmCase{"pcm_24", SF_FORMAT_PCM_24, 2.0 / 8388608},
                                         PcmCase{"pcm_32", SF_FORMAT_PCM_32, 1e-7},
                                         PcmCase{"float", SF_FORMAT_FLOAT, 1e-7},
                                         PcmCase{"double", SF_FORMAT_DOUBLE, 1e-7}),
                         [](const testing::TestParamInfo<PcmCase>& info) {
                           return std::string(info.param.name);
                         });

// Float files may hold values outside [-1, 1] and NaN/Inf: clamped, and non-finite become 0.
TEST(AudioRead, FloatOutOfRangeIsClampedAndNonFiniteZeroed) {
  const std::string path = TestTempDir() + "/wild.wav";
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> values = {1.5, -2.0, std::nan(""), inf, -inf, 0.25};
  WriteSndfile(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 16000, values);
  const Audio audio = ReadAudio(path);
  const std::vector<float> expected = {1.0f, -1.0f, 0.0f, 0.0f, 0.0f, 0.25f};
  EXPECT_EQ(audio.samples, expected);
  EXPECT_EQ(audio.num_nonfinite_frames, 3u);
}

// A frame counts once however many of its channels are non-finite.
TEST(AudioRead, NonFiniteFramesAreCountedOncePerFrame) {
  const std::string path = TestTempDir() + "/wild_stereo.wav";
  const double nan = std::nan("");
  WriteSndfile(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 2, 16000,
               {nan, nan, 0.5, nan, 0.5, 0.5, 0.25, 0.25});
  const Audio audio = ReadAudio(path);
  EXPECT_EQ(audio.num_nonfinite_frames, 2u);
  EXPECT_EQ(audio.samples, (std::vector<float>{0.0f, 0.25f, 0.5f, 0.25f}));
}

// The header's frame count is not trusted: a WAV cut short reads the frames actually present.
TEST(AudioRead, TruncatedWavReadsTheFramesPresent) {
  const std::string path = TestTempDir() + "/cut.wav";
  WriteSndfile(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, Sine(300.0, 16000, 16000, 0.5));
  const uintmax_t size = fs::file_size(path);  // 44-byte header + 32000 bytes
  fs::resize_file(path, size - 20000);         // drop the last 10000 frames
  const Audio audio = ReadAudio(path);
  EXPECT_EQ(audio.samples.size(), 6000u);
}

TEST(AudioRead, LongerThanMaxDurationThrows) {
  const std::string path = TestTempDir() + "/two_seconds.wav";
  WriteSndfile(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 8000, Sine(300.0, 8000, 16000, 0.5));
  AudioReaderOptions opts;
  opts.max_duration_s = 1.0;
  ExpectAudioError([&] { ReadAudio(path, opts); }, path, "max_duration_s");
  opts.max_duration_s = 2.5;
  EXPECT_EQ(ReadAudio(path, opts).samples.size(), 32000u);
  opts.max_duration_s = 0.0;  // no limit
  EXPECT_EQ(ReadAudio(path, opts).samples.size(), 32000u);
}

// ---------------------------------------------------------------- broken inputs

TEST(AudioErrors, MissingFile) {
  const std::string path = TestTempDir() + "/does_not_exist.wav";
  ExpectAudioError([&] { ReadAudio(path); }, path, "cannot read");
}

TEST(AudioErrors, Directory) {
  const std::string path = TestTempDir();
  ExpectAudioError([&] { ReadAudio(path); }, path, "directory");
}

TEST(AudioErrors, ZeroByteFile) {
  const std::string path = TestTempDir() + "/empty.wav";
  std::ofstream(path).close();
  ExpectAudioError([&] { ReadAudio(path); }, path);
}

TEST(AudioErrors, TextFileRenamedWav) {
  const std::string path = TestTempDir() + "/notes.wav";
  std::ofstream(path) << "id\tgender\nabc\t1\nThis is not audio, just text in a .wav file.\n";
  // libsndfile 1.2.0 says "Format not recognised." for this one.
  ExpectAudioError([&] { ReadAudio(path); }, path, "cannot read");
}

TEST(AudioErrors, WavWithNoFrames) {
  const std::string path = TestTempDir() + "/no_frames.wav";
  WriteSndfile(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, {});
  ExpectAudioError([&] { ReadAudio(path); }, path, "no audio frames");
}

TEST(AudioErrors, SampleRateOutsideTheSupportedRange) {
  for (const int rate : {1, 3999, 1000000}) {
    const std::string path = TestTempDir() + "/rate_" + std::to_string(rate) + ".wav";
    WriteSndfile(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, rate, Sine(300.0, 48000, 4800, 0.5));
    ExpectAudioError([&] { ReadAudio(path); }, path, std::to_string(rate) + " Hz is outside");
  }
  const std::string path = TestTempDir() + "/rate_4000.wav";
  WriteSndfile(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, kMinFileSampleRateHz,
               Sine(300.0, 4000, 4000, 0.5));
  EXPECT_EQ(ReadAudio(path).samples.size(), 16000u);
}

// One frame at 44.1 kHz rounds to no sample at 8 kHz: an error naming the file, not empty audio.
TEST(AudioErrors, TooFewFramesForOneSampleAtTheTargetRate) {
  const std::string path = TestTempDir() + "/one_frame.wav";
  WriteSndfile(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 44100, {0.5});
  AudioReaderOptions opts;
  opts.target_sample_rate_hz = 8000;
  ExpectAudioError([&] { ReadAudio(path, opts); }, path, "give no samples at 8000 Hz");
}

// A name that cannot be opened says why in the user's terms, not libsndfile's.
TEST(AudioErrors, OpenFailuresSayWhy) {
  const std::string dir = TestTempDir();
  fs::create_symlink("nowhere.wav", dir + "/dangling.wav");
  ExpectAudioError([&] { ReadAudio(dir + "/dangling.wav"); }, dir + "/dangling.wav",
                   "broken symbolic link");
  std::ofstream(dir + "/empty.wav").close();
  ExpectAudioError([&] { ReadAudio(dir + "/empty.wav"); }, dir + "/empty.wav",
                   "empty file (0 bytes)");
  std::ofstream(dir + "/random.mp3") << std::string(5000, '\x33');
  ExpectAudioError([&] { ReadAudio(dir + "/random.mp3"); }, dir + "/random.mp3",
                   "not a readable audio file");
}

// ---------------------------------------------------------------- CheckAudio

Audio MakeAudio(std::vector<float> samples, std::size_t nonfinite = 0) {
  Audio a;
  a.samples = std::move(samples);
  a.sample_rate_hz = 16000;
  a.num_nonfinite_frames = nonfinite;
  return a;
}

std::vector<float> ToFloat(const std::vector<double>& x) { return {x.begin(), x.end()}; }

TEST(CheckAudio, SpeechLevelToneHasNoFlags) {
  const AudioCheck c = CheckAudio(MakeAudio(ToFloat(Sine(200.0, 16000, 32000, 0.1))));
  EXPECT_EQ(c.refusal, "");
  EXPECT_TRUE(c.flags.empty());
}

TEST(CheckAudio, RefusesTooShortSilentAndConstantAudio) {
  EXPECT_NE(CheckAudio(MakeAudio(ToFloat(Sine(200.0, 16000, 1599, 0.1)))).refusal.find(
                "too short"),
            std::string::npos);
  EXPECT_NE(CheckAudio(MakeAudio(std::vector<float>(16000, 0.0f))).refusal.find(
                "digital silence"),
            std::string::npos);
  EXPECT_NE(CheckAudio(MakeAudio(std::vector<float>(16000, 0.5f))).refusal.find("constant (DC)"),
            std::string::npos);
  EXPECT_NE(CheckAudio(MakeAudio(std::vector<float>(16000, 0.0f), 16000)).refusal.find(
                "16000 frames of NaN or infinite"),
            std::string::npos);
  // One 16-bit step of noise is still above -90 dBFS: quiet, not refused.
  std::vector<float> lsb(16000);
  for (std::size_t i = 0; i < lsb.size(); ++i) lsb[i] = (i % 2 ? 1.0f : -1.0f) / 16384.0f;
  EXPECT_EQ(CheckAudio(MakeAudio(lsb)).refusal, "");
}

TEST(CheckAudio, FlagsShortQuietClippedOffsetAndNonFinite) {
  const auto flags = [](const Audio& a) {
    const AudioCheck c = CheckAudio(a);
    EXPECT_EQ(c.refusal, "");
    return c.flags;
  };
  using F = std::vector<std::string>;
  EXPECT_EQ(flags(MakeAudio(ToFloat(Sine(200.0, 16000, 8000, 0.1)))), F{"too_short"});
  EXPECT_EQ(flags(MakeAudio(ToFloat(Sine(200.0, 16000, 32000, 0.01)))), F{"low_level"});
  std::vector<float> square(32000);
  for (std::size_t i = 0; i < square.size(); ++i) square[i] = (i / 40) % 2 ? 1.0f : -1.0f;
  EXPECT_EQ(flags(MakeAudio(square)), F{"clipped"});
  std::vector<float> offset = ToFloat(Sine(200.0, 16000, 32000, 0.1));
  for (float& x : offset) x += 0.2f;
  EXPECT_EQ(flags(MakeAudio(offset)), F{"dc_offset"});
  EXPECT_EQ(flags(MakeAudio(ToFloat(Sine(200.0, 16000, 32000, 0.1)), 3)), F{"nonfinite"});
  EXPECT_EQ(flags(MakeAudio(ToFloat(Sine(200.0, 16000, 8000, 0.01)), 1)),
            (F{"too_short", "low_level", "nonfinite"}));
}

// ---------------------------------------------------------------- extensions and options

TEST(AudioExtension, KnownExtensionsAnyCase) {
  for (const char* name : {"a.wav", "a.WAV", "dir/b.Flac", "c.mp3", "d.ogg", "e.opus", "f.aiff",
                           "g.AIF", "h.au", "i.caf", "j.w64", "k.rf64", "l.voc", "m.oga", "n.wave",
                           "o.aifc", "p.snd", "x.y.z.wav", "/abs/path/q.FLAC"}) {
    EXPECT_TRUE(HasAudioExtension(name)) << name;
  }
}

TEST(AudioExtension, OtherNamesAreNotAudio) {
  for (const char* name : {"notes.txt", "wav", "noext", "a.wav.txt", "a.", "", "dir.wav/",
                           "targets.tsv", "a.m4a", ".wav", "a.wavx"}) {
    EXPECT_FALSE(HasAudioExtension(name)) << name;
  }
}

TEST(AudioOptions, DefaultsAreValid) {
  const AudioReaderOptions opts;
  EXPECT_EQ(opts.target_sample_rate_hz, 16000);
  EXPECT_NO_THROW(opts.Validate());
  const std::string s = opts.ToString();
  EXPECT_NE(s.find("target_sample_rate_hz=16000"), std::string::npos) << s;
  EXPECT_NE(s.find("max_duration_s="), std::string::npos) << s;
}

TEST(AudioOptions, OutOfRangeThrowsConfigError) {
  AudioReaderOptions opts;
  opts.target_sample_rate_hz = -1;
  EXPECT_THROW(opts.Validate(), ConfigError);
  opts.target_sample_rate_hz = 384001;
  EXPECT_THROW(opts.Validate(), ConfigError);
  opts.target_sample_rate_hz = 384000;
  EXPECT_NO_THROW(opts.Validate());
  opts.target_sample_rate_hz = 0;
  EXPECT_NO_THROW(opts.Validate());
  opts.max_duration_s = -1.0;
  EXPECT_THROW(opts.Validate(), ConfigError);
  opts.max_duration_s = std::nan("");
  EXPECT_THROW(opts.Validate(), ConfigError);
  opts.max_duration_s = 0.0;
  EXPECT_NO_THROW(opts.Validate());
}

TEST(AudioOptions, ReadAudioValidatesOptions) {
  AudioReaderOptions opts;
  opts.target_sample_rate_hz = -16000;
  const std::string path = std::string(VOXSEX_TEST_DATA) + "/clip_3_wav16_16k_mono.wav";
  EXPECT_THROW(ReadAudio(path, opts), ConfigError);
}

}  // namespace
}  // namespace voxsex
