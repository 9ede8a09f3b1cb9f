// Tests of the log-mel front end (src/mel.cc): golden data from torchaudio written by
// scripts/data/make_golden.py into tests/data/mel/, plus property tests.
#include "voxsex/mel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "voxsex/error.h"

namespace voxsex {
namespace {

// Tolerances (see STYLE.md, "Tests").
constexpr float kFilterbankAtol = 7e-5f;  // filterbank vs torchaudio.functional.melscale_fbanks
constexpr float kLogMelAtol = 1e-3f;      // log-mel vs torchaudio, where the reference is above
// the floor: ref > log(1e-6) + 1, i.e. mel > ~1.7e-6. Nearer the floor the log magnifies float32
// rounding in both implementations (d log / d mel = 1 / (mel + 1e-6)), so those cells are skipped.
// (Seen with torch 1.13 / torchaudio 0.13: max |diff| 1.4e-4 over all cells, floor included.)
constexpr float kLogMelFloorMargin = 1.0f;

const std::string kGoldenDir = std::string(VOXSEX_TEST_DATA) + "/mel";

std::vector<float> ReadF32(const std::string& path, std::size_t expected_count) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() != expected_count * sizeof(float)) {
    throw std::runtime_error(path + ": expected " + std::to_string(expected_count) +
                             " float32 values, got " + std::to_string(bytes.size()) + " bytes");
  }
  static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559, "float32 expected");
  std::vector<float> v(expected_count);
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(v.data()));  // little-endian host
  return v;
}

std::string Sci(float v) {
  std::ostringstream os;
  os << std::scientific << std::setprecision(2) << v;
  return os.str();
}

nlohmann::json ReadManifest() {
  std::ifstream in(kGoldenDir + "/manifest.json");
  if (!in) throw std::runtime_error("cannot open " + kGoldenDir + "/manifest.json");
  return nlohmann::json::parse(in);
}

std::vector<float> Noise(std::size_t n, float amplitude, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, amplitude);
  std::vector<float> x(n);
  for (float& v : x) v = dist(gen);
  return x;
}

TEST(MelGolden, ManifestMatchesDefaultOptions) {
  const nlohmann::json m = ReadManifest();
  const nlohmann::json& o = m.at("options");
  MelOptions expected;
  MelOptions golden;
  golden.sample_rate_hz = o.at("sample_rate_hz").get<int>();
  golden.n_fft = o.at("n_fft").get<int>();
  golden.win_length = o.at("win_length").get<int>();
  golden.hop_length = o.at("hop_length").get<int>();
  golden.num_mels = o.at("num_mels").get<int>();
  golden.f_min_hz = o.at("f_min_hz").get<float>();
  golden.f_max_hz = o.at("f_max_hz").get<float>();
  golden.log_offset = o.at("log_offset").get<float>();
  EXPECT_EQ(golden, expected) << "golden " << golden.ToString() << " vs default "
                              << expected.ToString();
}

TEST(MelGolden, FilterbankMatchesTorchaudio) {
  const nlohmann::json m = ReadManifest();
  const MelOptions opts;
  const int rows = m.at("filterbank").at("shape").at(0).get<int>();
  const int cols = m.at("filterbank").at("shape").at(1).get<int>();
  ASSERT_EQ(rows, opts.num_mels);
  ASSERT_EQ(cols, opts.n_fft / 2 + 1);
  const std::vector<float> ref =
      ReadF32(kGoldenDir + "/" + m.at("filterbank").at("file").get<std::string>(),
              static_cast<std::size_t>(rows) * cols);
  const std::vector<float> fb = MelFilterbank(opts);
  ASSERT_EQ(fb.size(), ref.size());
  float max_diff = 0.0f;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < fb.size(); ++i) {
    const float d = std::fabs(fb[i] - ref[i]);
    if (d > max_diff) max_diff = d, worst = i;
  }
  EXPECT_LE(max_diff, kFilterbankAtol)
      << "filterbank max |diff| " << max_diff << " at mel " << worst / cols << ", bin "
      << worst % cols << " (ours " << fb[worst] << ", torchaudio " << ref[worst] << ")";
  RecordProperty("filterbank_max_abs_diff", Sci(max_diff));
}

TEST(MelGolden, LogMelMatchesTorchaudio) {
  const nlohmann::json m = ReadManifest();
  MelFrontend frontend{MelOptions{}};
  const float threshold = std::log(frontend.options().log_offset) + kLogMelFloorMargin;
  ASSERT_FALSE(m.at("signals").empty());
  for (const nlohmann::json& s : m.at("signals")) {
    const std::string name = s.at("name").get<std::string>();
    SCOPED_TRACE(name + ": " + s.at("description").get<std::string>());
    const std::size_t num_samples = s.at("num_samples").get<std::size_t>();
    const int ref_frames = s.at("logmel_shape").at(0).get<int>();
    const int ref_mels = s.at("logmel_shape").at(1).get<int>();
    const std::vector<float> x =
        ReadF32(kGoldenDir + "/" + s.at("samples_file").get<std::string>(), num_samples);
    const std::vector<float> ref =
        ReadF32(kGoldenDir + "/" + s.at("logmel_file").get<std::string>(),
                static_cast<std::size_t>(ref_frames) * ref_mels);

    const LogMel y = frontend.Compute(x);
    ASSERT_EQ(y.num_frames, ref_frames);
    ASSERT_EQ(y.num_mels, ref_mels);
    ASSERT_EQ(y.data.size(), ref.size());
    ASSERT_EQ(NumFrames(num_samples, frontend.options()), ref_frames);

    float max_diff = 0.0f;
    std::size_t worst = 0, compared = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
      if (!(ref[i] > threshold)) continue;
      ++compared;
      const float d = std::fabs(y.data[i] - ref[i]);
      if (!(d <= max_diff)) max_diff = d, worst = i;  // also catches NaN
    }
    EXPECT_GT(compared, ref.size() / 2) << "too few cells above the floor to compare";
    EXPECT_LE(max_diff, kLogMelAtol)
        << name << ": log-mel max |diff| " << max_diff << " at frame " << worst / ref_mels
        << ", mel " << worst % ref_mels << " (ours " << y.data[worst] << ", torchaudio "
        << ref[worst] << "); " << compared << " of " << ref.size() << " cells above "
        << threshold;
    RecordProperty(name + "_max_abs_diff", Sci(max_diff));
  }
}

TEST(MelFrontend, ZerosGiveTheFloorExactly) {
  MelFrontend frontend{MelOptions{}};
  const float floor = std::log(frontend.options().log_offset);
  for (std::size_t n : {1u, 256u, 257u, 512u, 16000u}) {
    const LogMel y = frontend.Compute(std::vector<float>(n, 0.0f));
    for (std::size_t i = 0; i < y.data.size(); ++i) {
      ASSERT_EQ(y.data[i], floor) << "n=" << n << ", index " << i;
    }
  }
}

// Scaling by 2 is exact in floating point, so the mel energies scale by exactly 4; the log then
// differs from +log(4) only by the offset: |log(4m + e) - log(m + e) - log 4| < 3e / (4m).
// Compared where the log-mel of x is above -4 (m > 0.018): bound 4e-5, tolerance 1e-4.
TEST(MelFrontend, DoublingAmplitudeAddsLog4) {
  MelFrontend frontend{MelOptions{}};
  const std::vector<float> x = Noise(8000, 0.1f, 7);
  std::vector<float> x2(x);
  for (float& v : x2) v *= 2.0f;
  const LogMel a = frontend.Compute(x);
  const LogMel b = frontend.Compute(x2);
  ASSERT_EQ(a.data.size(), b.data.size());
  const float log4 = std::log(4.0f);
  float max_diff = 0.0f;
  std::size_t worst = 0, compared = 0;
  for (std::size_t i = 0; i < a.data.size(); ++i) {
    if (!(a.data[i] > -4.0f)) continue;
    ++compared;
    const float d = std::fabs(b.data[i] - a.data[i] - log4);
    if (!(d <= max_diff)) max_diff = d, worst = i;
  }
  EXPECT_GT(compared, a.data.size() / 2);
  EXPECT_LE(max_diff, 1e-4f) << "max |diff| " << max_diff << " at index " << worst;
}

TEST(MelFrontend, FrameCounts) {
  const MelOptions opts;  // n_fft 512, hop 160
  MelFrontend frontend(opts);
  const std::size_t lengths[] = {1, 2, 100, 159, 160, 161, 255, 256, 257, 258, 319, 320, 321,
                                 511, 512, 513, 1600, 1601, 16000, 16159, 16160};
  for (std::size_t n : lengths) {
    const int expected = 1 + static_cast<int>(n / 160);
    EXPECT_EQ(NumFrames(n, opts), expected) << "n=" << n;
    const LogMel y = frontend.Compute(Noise(n, 0.1f, static_cast<unsigned>(n)));
    EXPECT_EQ(y.num_frames, expected) << "n=" << n;
    EXPECT_EQ(y.num_mels, opts.num_mels);
    EXPECT_EQ(y.data.size(), static_cast<std::size_t>(expected) * opts.num_mels);
    for (float v : y.data) ASSERT_TRUE(std::isfinite(v)) << "n=" << n;
  }
  EXPECT_EQ(NumFrames(0, opts), 1);

  // Odd n_fft: torch pads n_fft / 2 (rounded down) on each side, so frames = 1 + (n - 1) / hop.
  MelOptions odd = opts;
  odd.n_fft = 401;
  odd.win_length = 400;
  EXPECT_EQ(NumFrames(160, odd), 1);
  EXPECT_EQ(NumFrames(161, odd), 2);
}

TEST(MelFrontend, ToneAt1kHzPeaksInTheBandContaining1kHz) {
  const MelOptions opts;
  MelFrontend frontend(opts);
  const int n_freqs = opts.n_fft / 2 + 1;
  const double bin_hz = static_cast<double>(opts.sample_rate_hz) / opts.n_fft;  // 31.25 Hz
  const int tone_bin = static_cast<int>(std::lround(1000.0 / bin_hz));          // 32
  std::vector<float> x(opts.sample_rate_hz);
  const double two_pi = 2.0 * std::acos(-1.0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<float>(0.5 * std::sin(two_pi * 1000.0 * i / opts.sample_rate_hz));
  }
  // Bands whose triangle contains 1 kHz (non-zero weight at the 1 kHz bin): 20 and 21 with the
  // default options. Hann leakage spreads the tone over +-2.5 bins and the bands are only ~46 Hz
  // apart, so these two nearly tie (torchaudio: 46.2 vs 45.4 in band 21 vs 20); either counts.
  const std::vector<float> fb = MelFilterbank(opts);
  std::vector<int> containing;
  for (int m = 0; m < opts.num_mels; ++m) {
    if (fb[static_cast<std::size_t>(m) * n_freqs + tone_bin] > 0.0f) containing.push_back(m);
  }
  ASSERT_FALSE(containing.empty());
  ASSERT_LE(containing.size(), 2u);

  const LogMel y = frontend.Compute(x);
  // Only frames whose n_fft span lies inside the signal: the reflect padding at the edges breaks
  // the tone's phase and smears it.
  const int pad = opts.n_fft / 2;
  const int first = (pad + opts.hop_length - 1) / opts.hop_length;
  const int last = (static_cast<int>(x.size()) - pad) / opts.hop_length;
  ASSERT_LT(first, last);
  for (int t = first; t <= last; ++t) {
    const float* row = y.frame(t);
    const int peak = static_cast<int>(std::max_element(row, row + y.num_mels) - row);
    EXPECT_NE(std::find(containing.begin(), containing.end(), peak), containing.end())
        << "frame " << t << ": peak in mel band " << peak << ", expected band " << containing.front()
        << (containing.size() > 1 ? " or " + std::to_string(containing.back()) : std::string());
  }
}

TEST(MelOptions, InvalidOptionsThrowConfigError) {
  auto with = [](auto edit) {
    MelOptions o;
    edit(o);
    return o;
  };
  const std::vector<MelOptions> bad = {
      with([](MelOptions& o) { o.sample_rate_hz = 0; }),
      with([](MelOptions& o) { o.n_fft = 0; }),
      with([](MelOptions& o) { o.n_fft = -512; }),
      with([](MelOptions& o) { o.win_length = 0; }),
      with([](MelOptions& o) { o.win_length = 513; }),
      with([](MelOptions& o) { o.hop_length = 0; }),
      with([](MelOptions& o) { o.num_mels = 0; }),
      with([](MelOptions& o) { o.f_min_hz = -1.0f; }),
      with([](MelOptions& o) { o.f_min_hz = 8000.0f; }),
      with([](MelOptions& o) { o.f_min_hz = std::nanf(""); }),
      with([](MelOptions& o) { o.f_max_hz = 8000.5f; }),
      with([](MelOptions& o) { o.sample_rate_hz = 8000; }),  // f_max 8 kHz > Nyquist 4 kHz
      with([](MelOptions& o) { o.log_offset = 0.0f; }),
      with([](MelOptions& o) { o.log_offset = std::numeric_limits<float>::infinity(); }),
  };
  for (const MelOptions& o : bad) {
    SCOPED_TRACE(o.ToString());
    EXPECT_THROW(o.Validate(), ConfigError);
    EXPECT_THROW(MelFrontend{o}, ConfigError);
    EXPECT_THROW(MelFilterbank(o), ConfigError);
    EXPECT_THROW(NumFrames(1000, o), ConfigError);
  }
  EXPECT_NO_THROW(MelOptions{}.Validate());
  MelOptions edge;
  edge.win_length = edge.n_fft;
  edge.f_min_hz = 100.0f;
  edge.f_max_hz = 8000.0f;
  EXPECT_NO_THROW(edge.Validate());
}

TEST(MelOptions, ToStringAndEquality) {
  const MelOptions a;
  const std::string s = a.ToString();
  for (const char* field : {"sample_rate_hz=16000 Hz", "n_fft=512 samples", "win_length=400 samples",
                            "hop_length=160 samples", "num_mels=64", "f_min_hz=0 Hz",
                            "f_max_hz=8000 Hz", "log_offset=1e-06"}) {
    EXPECT_NE(s.find(field), std::string::npos) << field << " not in " << s;
  }
  EXPECT_EQ(a, MelOptions{});
  MelOptions b;
  b.log_offset = 1e-5f;
  EXPECT_FALSE(a == b);
  b = MelOptions{};
  b.hop_length = 161;
  EXPECT_FALSE(a == b);
  b = MelOptions{};
  b.f_min_hz = 1.0f;
  EXPECT_FALSE(a == b);
}

TEST(MelFrontend, ComputeOnZeroSamplesThrows) {
  MelFrontend frontend{MelOptions{}};
  EXPECT_THROW(frontend.Compute(std::vector<float>{}), ConfigError);
  EXPECT_THROW(frontend.Compute(nullptr, 0), ConfigError);
}

TEST(MelFrontend, ReuseGivesIdenticalResults) {
  MelFrontend frontend{MelOptions{}};
  const std::vector<float> a = Noise(20000, 0.2f, 11);
  const std::vector<float> b = Noise(300, 0.2f, 12);  // short: zero-padded path
  const LogMel a1 = frontend.Compute(a);
  const LogMel b1 = frontend.Compute(b);
  const LogMel a2 = frontend.Compute(a);
  const LogMel b2 = frontend.Compute(b);
  EXPECT_EQ(a1.data, a2.data);
  EXPECT_EQ(b1.data, b2.data);
  MelFrontend fresh{MelOptions{}};
  EXPECT_EQ(fresh.Compute(b).data, b1.data);
}

// Each thread constructs and destroys frontends (FFTW planning must be serialised internally)
// and computes on the same input; every result must equal the single-threaded one bit for bit.
TEST(MelFrontend, InstancesOnTwoThreadsGiveIdenticalResults) {
  const std::vector<float> x = Noise(32000, 0.2f, 13);
  const LogMel expected = MelFrontend{MelOptions{}}.Compute(x);
  constexpr int kRounds = 20;
  std::vector<int> mismatches(2, 0);
  std::vector<std::thread> threads;
  for (int th = 0; th < 2; ++th) {
    threads.emplace_back([&, th] {
      for (int r = 0; r < kRounds; ++r) {
        MelFrontend frontend{MelOptions{}};
        if (frontend.Compute(x).data != expected.data) ++mismatches[th];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches[0], 0);
  EXPECT_EQ(mismatches[1], 0);
}

}  // namespace
}  // namespace voxsex
