// voxsex segment: the Segmenter on conversations made from the fixture clips (a male clip, 2 s of
// silence, a female clip, 2 s of silence, a male clip), its output formats, and the command's
// files and exit statuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"
#include "voxsex/audio.h"
#include "voxsex/error.h"
#include "voxsex/model.h"
#include "voxsex/segment.h"

namespace fs = std::filesystem;
using voxsex::test::Quote;
using voxsex::test::ReadFile;
using voxsex::test::RunVoxsex;
using voxsex::test::UniformNoise;
using voxsex::test::WriteWav16;

namespace {

const fs::path kData = VOXSEX_TEST_DATA;
constexpr int kRate = 16000;

// The turns of Conversation(): [start_s, end_s) of each clip and its gender
// (tests/data/expected_answers.tsv).
struct Turn {
  double start_s, end_s;
  int gender;
};

// clip_3 (male, 4 s), 2 s silence, clip_4 (female, 4 s), 2 s silence, clip_5 (male, 3.4 s); the
// silences hold noise at -70 dBFS so that no part is digital silence.
std::vector<float> Conversation(std::vector<Turn>* turns) {
  std::vector<float> x;
  const std::pair<const char*, int> clips[] = {{"clip_3_wav16_16k_mono.wav", 0},
                                               {"clip_4_mp3_48k_mono.mp3", 1},
                                               {"clip_5_vorbis_22k05_mono.ogg", 0}};
  std::uint32_t seed = 1;
  for (const auto& [name, gender] : clips) {
    if (!x.empty()) {
      const auto gap = UniformNoise(2 * kRate, -70.0, seed++);
      x.insert(x.end(), gap.begin(), gap.end());
    }
    const voxsex::Audio a = voxsex::ReadAudio((kData / name).string());
    const double start = static_cast<double>(x.size()) / kRate;
    x.insert(x.end(), a.samples.begin(), a.samples.end());
    turns->push_back({start, static_cast<double>(x.size()) / kRate, gender});
  }
  return x;
}

std::vector<std::vector<std::string>> Rows(const std::string& text, char sep = '\t') {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::istringstream l(line);
    std::string f;
    while (std::getline(l, f, sep)) fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

// Checks the segments against the turns (male, female, male): every segment lies inside one turn
// with 0.3 s of tolerance and has its label; every turn has segments covering at least 45% of it
// (the clips hold pauses and leading/trailing silence: clip_4 has 2.3 s of speech in 4 s; a pause
// of 0.3 s or more splits a turn into several segments of its label).
void ExpectMatchesTurns(const std::vector<voxsex::Segment>& segs, const std::vector<Turn>& turns) {
  ASSERT_GE(segs.size(), turns.size());
  std::vector<double> covered(turns.size(), 0.0);
  for (std::size_t k = 0; k < segs.size(); ++k) {
    SCOPED_TRACE("segment " + std::to_string(k));
    std::size_t i = 0;
    while (i < turns.size() && segs[k].start_s > turns[i].end_s) ++i;
    ASSERT_LT(i, turns.size()) << "starts after the last turn: " << segs[k].start_s;
    EXPECT_GE(segs[k].start_s, turns[i].start_s - 0.3);
    EXPECT_LE(segs[k].end_s, turns[i].end_s + 0.3);
    EXPECT_EQ(segs[k].gender, turns[i].gender);
    EXPECT_EQ(segs[k].p_female >= 0.5f, turns[i].gender == 1) << segs[k].p_female;
    covered[i] += segs[k].end_s - segs[k].start_s;
  }
  for (std::size_t i = 0; i < turns.size(); ++i) {
    EXPECT_GE(covered[i], 0.45 * (turns[i].end_s - turns[i].start_s)) << "turn " << i;
  }
}

voxsex::Segmenter LoadSegmenter(const voxsex::SegmenterOptions& opts = {}) {
  voxsex::ModelOptions mopts;
  mopts.num_threads = 1;
  return voxsex::Segmenter(voxsex::GenderModel::Load(voxsex::DefaultModelPath(), mopts), opts);
}

TEST(SegmenterOptions, InvalidValuesThrow) {
  voxsex::SegmenterOptions ok;
  EXPECT_NO_THROW(ok.Validate());
  auto bad = [](auto mutate) {
    voxsex::SegmenterOptions o;
    mutate(o);
    EXPECT_THROW(o.Validate(), voxsex::ConfigError) << o.ToString();
  };
  bad([](auto& o) { o.window_s = 0.0; });
  bad([](auto& o) { o.hop_s = 3.0; });  // longer than the window
  bad([](auto& o) { o.vad_error = 0.5; });
  bad([](auto& o) { o.switch_penalty = -1.0; });
  bad([](auto& o) { o.min_segment_s = std::nan(""); });
  bad([](auto& o) { o.max_pause_s = -0.1; });
  bad([](auto& o) { o.vad_dynamic_range_db = -3.0; });
  bad([](auto& o) { o.vad_floor_window_s = -1.0; });
  bad([](auto& o) { o.vad_threshold = INFINITY; });
}

TEST(SegmentFormats, TsvSummaryRttmTextGrid) {
  voxsex::SegmentResult b;
  b.id = "b";
  b.duration_s = 10.0;
  b.done = true;
  b.segments = {{1.0, 3.5, 0, 0.1f}, {3.5, 6.25, 1, 0.9f}};
  voxsex::SegmentResult a;
  a.id = "a";
  a.duration_s = 5.0;
  a.done = true;
  const std::vector<const voxsex::SegmentResult*> done = {&b, &a};
  EXPECT_EQ(voxsex::SegmentsTsv(done),
            "id\tstart_s\tend_s\tlabel\tp_female\n"
            "b\t1.00\t3.50\tmale\t0.1000\n"
            "b\t3.50\t6.25\tfemale\t0.9000\n");
  EXPECT_EQ(voxsex::SegmentSummaryTsv(done),
            "id\tduration_s\tspeech_s\tmale_s\tfemale_s\tfemale_share\n"
            "a\t5.00\t0.00\t0.00\t0.00\t-\n"
            "b\t10.00\t5.25\t2.50\t2.75\t0.5238\n");
  EXPECT_EQ(voxsex::SegmentsRttm(done),
            "SPEAKER b 1 1.000 2.500 <NA> <NA> male <NA> <NA>\n"
            "SPEAKER b 1 3.500 2.750 <NA> <NA> female <NA> <NA>\n");
  const std::string grid = voxsex::SegmentsTextGrid(b);
  EXPECT_NE(grid.find("intervals: size = 4 \n"), std::string::npos) << grid;
  EXPECT_NE(grid.find("intervals [4]:\n            xmin = 6.25 \n            xmax = 10 \n"
                      "            text = \"\" \n"),
            std::string::npos)
      << grid;
  const std::string empty = voxsex::SegmentsTextGrid(a);
  EXPECT_NE(empty.find("intervals: size = 1 \n"), std::string::npos) << empty;
}

// The file streamed in short blocks gives the segments of the samples segmented at once, and
// those match the turns.
TEST(Segmenter, ConversationLabelsAndBoundaries) {
  std::vector<Turn> turns;
  const std::vector<float> x = Conversation(&turns);
  const fs::path dir = voxsex::test::FreshDir("segment_lib");
  WriteWav16(dir / "conv.wav", x);
  voxsex::SegmenterOptions opts;
  opts.vad_block_s = 4.0;  // several blocks and audio chunks per file
  const voxsex::Segmenter seg = LoadSegmenter(opts);
  const voxsex::SegmentResult r = seg.SegmentFile((dir / "conv.wav").string());
  ASSERT_TRUE(r.done) << r.error;
  EXPECT_EQ(r.id, "conv");
  EXPECT_NEAR(r.duration_s, static_cast<double>(x.size()) / kRate, 1e-3);
  ExpectMatchesTurns(r.segments, turns);
  // WAV 16-bit quantisation aside, the same audio in one piece gives the same labels.
  const std::vector<voxsex::Segment> whole = seg.SegmentSamples(x);
  ASSERT_EQ(whole.size(), r.segments.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(whole[i].gender, r.segments[i].gender) << i;
    EXPECT_NEAR(whole[i].start_s, r.segments[i].start_s, 0.05) << i;
    EXPECT_NEAR(whole[i].end_s, r.segments[i].end_s, 0.05) << i;
  }
}

// A pause inside a turn (the male clip, 0.6 s of -70 dBFS noise, the male clip again: about 0.8 s
// without speech, with the clip's own leading silence) is bridged with the previous defaults and
// splits the turn with the default max_pause_s (0.3 s, the NIST convention that pauses of 0.3 s
// or more end a stretch of speech). A shorter pause between a male and a female turn (0.2 s of
// noise, then the female clip's own leading silence) is never bridged: the two segments keep
// non-speech between them.
TEST(Segmenter, PauseInsideATurnIsBridgedButNotBetweenLabels) {
  const voxsex::Audio male = voxsex::ReadAudio((kData / "clip_3_wav16_16k_mono.wav").string());
  const voxsex::Audio female = voxsex::ReadAudio((kData / "clip_4_mp3_48k_mono.mp3").string());
  std::vector<float> x = UniformNoise(kRate, -70.0, 11);
  auto append = [&x](const std::vector<float>& part) { x.insert(x.end(), part.begin(), part.end()); };
  append(male.samples);
  const double pause_start_s = static_cast<double>(x.size()) / kRate;
  append(UniformNoise(6 * kRate / 10, -70.0, 12));
  const double pause_end_s = static_cast<double>(x.size()) / kRate;
  append(male.samples);
  const double male_end_s = static_cast<double>(x.size()) / kRate;
  append(UniformNoise(2 * kRate / 10, -70.0, 13));
  const double female_start_s = static_cast<double>(x.size()) / kRate;
  append(female.samples);
  append(UniformNoise(kRate, -70.0, 14));

  auto describe = [](const std::vector<voxsex::Segment>& segs) {
    std::ostringstream d;
    d.setf(std::ios::fixed);
    d.precision(2);
    for (const auto& g : segs) {
      d << "[" << g.start_s << ", " << g.end_s << ") " << (g.gender == 1 ? "female" : "male") << "; ";
    }
    return d.str();
  };
  // The defaults before 2026-12-03 (--max-pause 1 --switch-penalty 40 --vad-range 30): the turn is
  // one male segment over the pause, then the female one after a gap. (With --max-pause 1 at
  // switch penalty 20 the bundled model's female segment starts at the male clip's trailing
  // silence, 0.8 s early.)
  voxsex::SegmenterOptions long_pauses;
  long_pauses.max_pause_s = 1.0;
  long_pauses.switch_penalty = 40.0;
  long_pauses.vad_dynamic_range_db = 30.0;
  const std::vector<voxsex::Segment> bridged = LoadSegmenter(long_pauses).SegmentSamples(x);
  ASSERT_EQ(bridged.size(), 2u) << describe(bridged);
  EXPECT_EQ(bridged[0].gender, 0) << describe(bridged);
  EXPECT_LT(bridged[0].start_s, pause_start_s - 1.0) << describe(bridged);
  EXPECT_GT(bridged[0].end_s, pause_end_s + 1.0) << describe(bridged);
  EXPECT_LE(bridged[0].end_s, male_end_s + 0.3) << describe(bridged);
  EXPECT_EQ(bridged[1].gender, 1) << describe(bridged);
  EXPECT_GE(bridged[1].start_s, female_start_s) << describe(bridged);
  EXPECT_GT(bridged[1].start_s, bridged[0].end_s + 0.2) << describe(bridged);

  // Defaults: the pause splits the turn into two male segments (the female clip's own pauses
  // may split it too).
  const std::vector<voxsex::Segment> split = LoadSegmenter().SegmentSamples(x);
  ASSERT_GE(split.size(), 3u) << describe(split);
  EXPECT_EQ(split[0].gender, 0) << describe(split);
  EXPECT_EQ(split[1].gender, 0) << describe(split);
  for (std::size_t i = 2; i < split.size(); ++i) EXPECT_EQ(split[i].gender, 1) << describe(split);
  EXPECT_LE(split[0].end_s, pause_start_s + 0.1) << describe(split);
  EXPECT_GE(split[1].start_s, pause_end_s - 0.1) << describe(split);
}

// `x` scaled so that its loudest 10 ms frame has a mean square of `dbfs` dB.
std::vector<float> LoudestFrameAt(std::vector<float> x, double dbfs) {
  double loudest = 0.0;
  for (std::size_t i = 0; i + 160 <= x.size(); i += 160) {
    double ms = 0.0;
    for (std::size_t k = i; k < i + 160; ++k) ms += static_cast<double>(x[k]) * x[k];
    loudest = std::max(loudest, ms / 160.0);
  }
  const double gain = std::pow(10.0, dbfs / 20.0) / std::sqrt(loudest);
  for (auto& v : x) v = static_cast<float>(v * gain);
  return x;
}

// A speaker recorded with a noise floor 28 dB under their loudest frame (the female clip, 1.2 s of
// that floor alone, the female clip again), between two clean male turns (every clip's loudest
// frame at -10 dBFS, the gaps -70 dBFS noise).
struct NoisyRecording {
  std::vector<float> x;
  double noisy_start_s, pause_start_s, pause_end_s, noisy_end_s;
};

NoisyRecording MakeNoisyRecording() {
  const auto male = LoudestFrameAt(voxsex::ReadAudio((kData / "clip_3_wav16_16k_mono.wav").string()).samples, -10.0);
  const auto female = LoudestFrameAt(voxsex::ReadAudio((kData / "clip_4_mp3_48k_mono.mp3").string()).samples, -10.0);
  std::vector<float> x = UniformNoise(kRate, -70.0, 21);
  auto append = [&x](const std::vector<float>& part) { x.insert(x.end(), part.begin(), part.end()); };
  append(male);
  append(UniformNoise(kRate, -70.0, 22));
  const std::size_t pause = 12 * kRate / 10;
  const std::size_t noisy_start = x.size();
  std::vector<float> noisy = UniformNoise(female.size() + pause + female.size(), -38.0, 23);
  for (std::size_t i = 0; i < female.size(); ++i) {
    noisy[i] += female[i];
    noisy[female.size() + pause + i] += female[i];
  }
  append(noisy);
  const double pause_start_s = static_cast<double>(noisy_start + female.size()) / kRate;
  const double pause_end_s = pause_start_s + static_cast<double>(pause) / kRate;
  const double noisy_end_s = static_cast<double>(x.size()) / kRate;
  append(UniformNoise(kRate, -70.0, 24));
  append(male);
  append(UniformNoise(kRate, -70.0, 25));
  return {x, static_cast<double>(noisy_start) / kRate, pause_start_s, pause_end_s, noisy_end_s};
}

// Seconds called speech in [a, b).
double SpeechIn(const std::vector<voxsex::Segment>& segs, double a, double b) {
  double s = 0.0;
  for (const auto& g : segs) s += std::max(0.0, std::min(b, g.end_s) - std::max(a, g.start_s));
  return s;
}

// The noisy speaker's pause is not speech, the speech on either side of it is found, and all of it
// is labelled female.
void ExpectNoisyRecordingSegmented(const NoisyRecording& r, const std::vector<voxsex::Segment>& segs) {
  EXPECT_LT(SpeechIn(segs, r.pause_start_s + 0.2, r.pause_end_s - 0.2), 0.1);
  EXPECT_GT(SpeechIn(segs, r.noisy_start_s, r.pause_start_s), 0.45 * (r.pause_start_s - r.noisy_start_s));
  EXPECT_GT(SpeechIn(segs, r.pause_end_s, r.noisy_end_s), 0.45 * (r.noisy_end_s - r.pause_end_s));
  for (const auto& g : segs) {
    if (g.start_s >= r.noisy_start_s && g.end_s <= r.noisy_end_s) {
      EXPECT_EQ(g.gender, 1) << g.start_s;
    }
  }
}

// The energy detector: the floor is within the VAD block's 35 dB range, so with the block's floor
// only the pause is bridged as speech; the floor tracked over vad_floor_window_s (the default)
// finds it.
TEST(Segmenter, LocalNoiseFloorFindsThePausesOfANoisyRecording) {
  const NoisyRecording r = MakeNoisyRecording();
  voxsex::SegmenterOptions block_floor;
  block_floor.vad_model = voxsex::kEnergyDetector;
  block_floor.vad_floor_window_s = 0.0;
  const auto before = LoadSegmenter(block_floor).SegmentSamples(r.x);
  EXPECT_GT(SpeechIn(before, r.pause_start_s + 0.2, r.pause_end_s - 0.2), 0.6);

  voxsex::SegmenterOptions local_floor;
  local_floor.vad_model = voxsex::kEnergyDetector;
  ExpectNoisyRecordingSegmented(r, LoadSegmenter(local_floor).SegmentSamples(r.x));
}

// The bundled learned detector (the default) on the same recording.
TEST(Segmenter, LearnedDetectorFindsThePausesOfANoisyRecording) {
  const NoisyRecording r = MakeNoisyRecording();
  ExpectNoisyRecordingSegmented(r, LoadSegmenter().SegmentSamples(r.x));
}

// --vad-floor-gate: a learned detector whose threshold calls every frame speech bridges the noisy
// speaker's pause; gated by the local noise floor, the pause is found and the speech kept.
TEST(Segmenter, FloorGateClearsALearnedDetectorsFramesUnderTheLocalFloor) {
  const NoisyRecording r = MakeNoisyRecording();
  voxsex::SegmenterOptions everything;
  everything.vad_threshold = -1e6;
  const auto ungated = LoadSegmenter(everything).SegmentSamples(r.x);
  EXPECT_GT(SpeechIn(ungated, r.pause_start_s + 0.2, r.pause_end_s - 0.2), 0.6);

  voxsex::SegmenterOptions gated = everything;
  gated.vad_floor_gate = true;
  const auto segs = LoadSegmenter(gated).SegmentSamples(r.x);
  ExpectNoisyRecordingSegmented(r, segs);
  // The -70 dBFS silences before the noisy speaker and after the male one are not speech either.
  EXPECT_LT(SpeechIn(segs, r.noisy_start_s - 0.8, r.noisy_start_s - 0.2), 0.1);
  const double end_s = static_cast<double>(r.x.size()) / kRate;
  EXPECT_LT(SpeechIn(segs, end_s - 0.8, end_s), 0.1);
}

// The bundled detector's logits on Conversation(): its clips' speech above the threshold, the
// -70 dBFS gaps between them below it (frame by frame, all but a few frames at the edges).
TEST(SpeechDetector, BundledDetectorSeparatesSpeechFromTheGaps) {
  const std::string path = voxsex::DefaultSpeechDetectorPath();
  ASSERT_FALSE(path.empty()) << "no bundled speech detector (models/voxsex-vad.pt)";
  const voxsex::GenderModel model = voxsex::GenderModel::Load(voxsex::DefaultModelPath());
  const voxsex::SpeechDetector detector = voxsex::SpeechDetector::Load(path, model.mel_options());
  std::vector<Turn> turns;
  const std::vector<float> x = Conversation(&turns);
  const voxsex::LogMel log_mel = voxsex::MelFrontend(model.mel_options()).Compute(x.data(), x.size());
  const std::vector<float> logits = detector.Logits(log_mel);
  ASSERT_EQ(logits.size(), static_cast<std::size_t>(log_mel.num_frames));
  // Gaps: 0.2 s away from the turns; at most 2% of their frames called speech.
  for (std::size_t i = 0; i + 1 < turns.size(); ++i) {
    const int a = static_cast<int>((turns[i].end_s + 0.2) * 100);
    const int b = static_cast<int>((turns[i + 1].start_s - 0.2) * 100);
    int speech = 0;
    for (int t = a; t < b; ++t) speech += logits[static_cast<std::size_t>(t)] >= detector.threshold;
    EXPECT_LE(speech, (b - a) / 50) << "gap " << i;
  }
  // Turns: the clips hold pauses, but at least 45% of each is speech.
  for (std::size_t i = 0; i < turns.size(); ++i) {
    const int a = static_cast<int>(turns[i].start_s * 100), b = static_cast<int>(turns[i].end_s * 100);
    int speech = 0;
    for (int t = a; t < b; ++t) speech += logits[static_cast<std::size_t>(t)] >= detector.threshold;
    EXPECT_GE(speech, 0.45 * (b - a)) << "turn " << i;
  }
}

TEST(SpeechDetector, LoadErrorsNameTheFile) {
  const voxsex::MelOptions mel;
  const fs::path dir = voxsex::test::FreshDir("speech_detector_errors");
  auto expect_error = [](const std::string& path, const std::string& reason) {
    try {
      voxsex::SpeechDetector::Load(path, voxsex::MelOptions{});
      ADD_FAILURE() << "loaded " << path;
    } catch (const voxsex::ModelError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      EXPECT_NE(what.find(reason), std::string::npos) << what;
    }
  };
  expect_error((dir / "missing.pt").string(), "no such file");
  std::ofstream(dir / "text.pt") << "not a TorchScript archive";
  expect_error((dir / "text.pt").string(), "not a TorchScript file");
  // A gender model is TorchScript but carries no speech detector metadata.
  expect_error(voxsex::DefaultModelPath(), "not a voxsex speech detector");
  // The bundled detector against another front end.
  voxsex::MelOptions other = mel;
  other.num_mels = 40;
  try {
    voxsex::SpeechDetector::Load(voxsex::DefaultSpeechDetectorPath(), other);
    ADD_FAILURE() << "loaded against 40 mel bands";
  } catch (const voxsex::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("another front end"), std::string::npos) << e.what();
  }
}

TEST(Segmenter, LowLevelNoiseHasNoSegments) {
  const voxsex::Segmenter seg = LoadSegmenter();
  EXPECT_TRUE(seg.SegmentSamples(UniformNoise(10 * kRate, -50.0, 7)).empty());
}

TEST(SegmentCli, OutputsAndBrokenFile) {
  std::vector<Turn> turns;
  const std::vector<float> x = Conversation(&turns);
  const fs::path dir = voxsex::test::FreshDir("segment_cli");
  const fs::path in = dir / "in";
  fs::create_directories(in);
  WriteWav16(in / "conv.wav", x);
  WriteWav16(in / "noise.wav", UniformNoise(8 * kRate, -50.0, 3));
  std::ofstream(in / "broken.wav") << "RIFF but not a wave file";
  const fs::path out = dir / "out";
  fs::create_directories(out);
  const auto r = RunVoxsex("segment " + Quote(in.string()) + " " + Quote((out / "seg.tsv").string()) +
                               " --summary " + Quote((out / "summary.tsv").string()) + " --rttm " +
                               Quote((out / "seg.rttm").string()) + " --textgrid " +
                               Quote((out / "grids").string()) + " --threads 1",
                           dir);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("broken.wav"), std::string::npos) << r.err;
  EXPECT_TRUE(voxsex::test::TempFilesIn(out).empty());

  // segments.tsv: the conversation's turns; the noise file has none.
  const auto seg = Rows(ReadFile(out / "seg.tsv"));
  ASSERT_GE(seg.size(), 2u);
  EXPECT_EQ(seg[0], (std::vector<std::string>{"id", "start_s", "end_s", "label", "p_female"}));
  std::vector<voxsex::Segment> segs;
  for (std::size_t i = 1; i < seg.size(); ++i) {
    ASSERT_EQ(seg[i].size(), 5u);
    EXPECT_EQ(seg[i][0], "conv");
    ASSERT_TRUE(seg[i][3] == "male" || seg[i][3] == "female") << seg[i][3];
    segs.push_back({std::stod(seg[i][1]), std::stod(seg[i][2]), seg[i][3] == "female" ? 1 : 0,
                    std::stof(seg[i][4])});
  }
  ExpectMatchesTurns(segs, turns);

  // summary.tsv: one row per segmented file, sums of the segments.
  const auto sum = Rows(ReadFile(out / "summary.tsv"));
  ASSERT_EQ(sum.size(), 3u);
  EXPECT_EQ(sum[1][0], "conv");
  double male = 0.0, female = 0.0;
  for (const auto& s : segs) (s.gender == 1 ? female : male) += s.end_s - s.start_s;
  EXPECT_NEAR(std::stod(sum[1][1]), static_cast<double>(x.size()) / kRate, 0.01);
  EXPECT_NEAR(std::stod(sum[1][2]), male + female, 0.03);
  EXPECT_NEAR(std::stod(sum[1][3]), male, 0.03);
  EXPECT_NEAR(std::stod(sum[1][4]), female, 0.03);
  EXPECT_NEAR(std::stod(sum[1][5]), female / (male + female), 0.01);
  EXPECT_EQ(sum[2], (std::vector<std::string>{"noise", "8.00", "0.00", "0.00", "0.00", "-"}));

  // RTTM: one line per segment.
  const auto rttm = Rows(ReadFile(out / "seg.rttm"), ' ');
  ASSERT_EQ(rttm.size(), segs.size());
  for (std::size_t i = 0; i < rttm.size(); ++i) {
    ASSERT_EQ(rttm[i].size(), 10u);
    EXPECT_EQ(rttm[i][0], "SPEAKER");
    EXPECT_EQ(rttm[i][1], "conv");
    EXPECT_EQ(rttm[i][2], "1");
    EXPECT_NEAR(std::stod(rttm[i][3]), segs[i].start_s, 0.006);
    EXPECT_NEAR(std::stod(rttm[i][4]), segs[i].end_s - segs[i].start_s, 0.011);
    EXPECT_EQ(rttm[i][7], segs[i].gender == 1 ? "female" : "male");
    for (int k : {5, 6, 8, 9}) EXPECT_EQ(rttm[i][k], "<NA>");
  }

  // TextGrid (Praat long text format): header, one IntervalTier, contiguous intervals from 0 to
  // the duration whose non-empty texts are the segments.
  ASSERT_TRUE(fs::exists(out / "grids" / "noise.TextGrid"));
  EXPECT_FALSE(fs::exists(out / "grids" / "broken.TextGrid"));
  const auto lines = Rows(ReadFile(out / "grids" / "conv.TextGrid"), '\n');
  ASSERT_GE(lines.size(), 20u);
  auto line = [&lines](std::size_t i) { return lines[i].empty() ? std::string() : lines[i][0]; };
  EXPECT_EQ(line(0), "File type = \"ooTextFile\"");
  EXPECT_EQ(line(1), "Object class = \"TextGrid\"");
  EXPECT_EQ(line(3), "xmin = 0 ");
  const double xmax = std::stod(line(4).substr(7));
  EXPECT_NEAR(xmax, static_cast<double>(x.size()) / kRate, 0.001);
  EXPECT_EQ(line(5), "tiers? <exists> ");
  EXPECT_EQ(line(6), "size = 1 ");
  EXPECT_EQ(line(9), "        class = \"IntervalTier\" ");
  EXPECT_EQ(line(10), "        name = \"gender\" ");
  const int n = std::stoi(line(13).substr(line(13).find('=') + 1));
  ASSERT_EQ(lines.size(), 14u + 4u * static_cast<std::size_t>(n));
  double prev = 0.0;
  std::size_t labelled = 0;
  for (int i = 0; i < n; ++i) {
    const std::size_t at = 14 + 4 * static_cast<std::size_t>(i);
    EXPECT_EQ(line(at), "        intervals [" + std::to_string(i + 1) + "]:");
    const double a = std::stod(line(at + 1).substr(line(at + 1).find('=') + 1));
    const double b = std::stod(line(at + 2).substr(line(at + 2).find('=') + 1));
    const std::string text = line(at + 3).substr(line(at + 3).find('=') + 2);
    EXPECT_DOUBLE_EQ(a, prev) << "interval " << i + 1;
    EXPECT_LT(a, b) << "interval " << i + 1;
    prev = b;
    if (text != "\"\" ") {
      ASSERT_LT(labelled, segs.size());
      EXPECT_EQ(text, segs[labelled].gender == 1 ? "\"female\" " : "\"male\" ");
      EXPECT_NEAR(a, segs[labelled].start_s, 0.006);
      ++labelled;
    }
  }
  EXPECT_DOUBLE_EQ(prev, xmax);
  EXPECT_EQ(labelled, segs.size());
}

// The errors of `stderr_text`: its `[error] ` lines without that prefix.
std::vector<std::string> ErrorLines(const std::string& stderr_text) {
  std::vector<std::string> errors;
  for (const auto& row : Rows(stderr_text, '\n')) {
    if (!row.empty() && row[0].rfind("[error] ", 0) == 0) errors.push_back(row[0].substr(8));
  }
  return errors;
}

// A directory `in` of a broken file between two good ones, in path order: a_good.wav,
// b_broken.wav, c_good.wav (c_good.wav a copy of the male clip, a_good.wav of the female one);
// with `second_broken`, d_broken.wav after them.
fs::path BrokenBetweenGood(const fs::path& dir, bool second_broken) {
  const fs::path in = dir / "in";
  fs::create_directories(in);
  fs::copy_file(kData / "clip_4_mp3_48k_mono.mp3", in / "a_good.mp3");
  std::ofstream(in / "b_broken.wav") << "RIFF but not a wave file";
  fs::copy_file(kData / "clip_3_wav16_16k_mono.wav", in / "c_good.wav");
  if (second_broken) std::ofstream(in / "d_broken.wav") << "not audio at all";
  return in;
}

// --errors: the broken file with its reason (the line stderr gave), the good files still
// segmented and written, status 1: predict's errors.tsv and status for the same files.
TEST(SegmentCli, ErrorsFileNamesTheBrokenFileAndTheOthersAreWritten) {
  const fs::path dir = voxsex::test::FreshDir("segment_errors");
  const fs::path in = BrokenBetweenGood(dir, false);
  const fs::path out = dir / "out";
  fs::create_directories(out);
  { std::ofstream(out / "e.tsv") << "stale\trow from an earlier run\n"; }
  const auto r = RunVoxsex("segment " + Quote(in.string()) + " " +
                               Quote((out / "seg.tsv").string()) + " --summary " +
                               Quote((out / "summary.tsv").string()) + " --errors " +
                               Quote((out / "e.tsv").string()) + " --threads 1",
                           dir);
  EXPECT_EQ(r.status, 1) << r.err;
  const std::string broken = (in / "b_broken.wav").string();
  const auto errors = Rows(ReadFile(out / "e.tsv"));
  ASSERT_EQ(errors.size(), 2u) << ReadFile(out / "e.tsv");
  EXPECT_EQ(errors[0], (std::vector<std::string>{"path", "reason"}));
  ASSERT_EQ(errors[1].size(), 2u);
  EXPECT_EQ(errors[1][0], broken);
  EXPECT_NE(errors[1][1].find("'" + broken + "': "), std::string::npos) << errors[1][1];
  EXPECT_GT(errors[1][1].size(), broken.size() + 6) << "no reason: " << errors[1][1];
  EXPECT_EQ(ErrorLines(r.err), std::vector<std::string>{errors[1][1]}) << r.err;
  EXPECT_NE(r.err.find("3 files: 2 segmented, 1 failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("errors in '" + (out / "e.tsv").string() + "'"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("failed: " + broken), std::string::npos) << r.err;
  EXPECT_TRUE(voxsex::test::TempFilesIn(out).empty());

  // The good files are segmented: a_good (female) and c_good (male) have segments of their
  // gender, and one summary row each.
  std::map<std::string, std::set<std::string>> labels;
  for (const auto& row : Rows(ReadFile(out / "seg.tsv"))) {
    ASSERT_EQ(row.size(), 5u);
    if (row[0] != "id") labels[row[0]].insert(row[3]);
  }
  EXPECT_EQ(labels, (std::map<std::string, std::set<std::string>>{{"a_good", {"female"}},
                                                                  {"c_good", {"male"}}}));
  const auto summary = Rows(ReadFile(out / "summary.tsv"));
  ASSERT_EQ(summary.size(), 3u);
  EXPECT_EQ(summary[1][0], "a_good");
  EXPECT_EQ(summary[2][0], "c_good");

  // predict on the same files: the same status and the same errors.tsv.
  const auto p = RunVoxsex("predict " + Quote(in.string()) + " " +
                               Quote((out / "answers.tsv").string()) + " --errors " +
                               Quote((out / "p.tsv").string()) + " --threads 1",
                           dir);
  EXPECT_EQ(p.status, r.status) << p.err;
  EXPECT_EQ(ReadFile(out / "p.tsv"), ReadFile(out / "e.tsv"));
}

// --fail-fast: the run stops at b_broken.wav (d_broken.wav is never reached, so never reported),
// writes --errors with that one failure and nothing else (the previous segments.tsv stays, the
// summary and TextGrids are not made, no temporary file is left), status 1: as predict.
TEST(SegmentCli, FailFastStopsAtTheFirstFailureAndWritesOnlyErrors) {
  const fs::path dir = voxsex::test::FreshDir("segment_fail_fast");
  const fs::path in = BrokenBetweenGood(dir, true);
  const fs::path out = dir / "out";
  fs::create_directories(out);
  { std::ofstream(out / "seg.tsv") << "previous\n"; }
  const auto r = RunVoxsex("segment " + Quote(in.string()) + " " +
                               Quote((out / "seg.tsv").string()) + " --summary " +
                               Quote((out / "summary.tsv").string()) + " --textgrid " +
                               Quote((out / "grids").string()) + " --errors " +
                               Quote((out / "e.tsv").string()) + " --fail-fast --threads 1",
                           dir);
  EXPECT_EQ(r.status, 1) << r.err;
  const std::string broken = (in / "b_broken.wav").string();
  const std::string errors_tsv = ReadFile(out / "e.tsv");
  const auto errors = Rows(errors_tsv);
  ASSERT_EQ(errors.size(), 2u) << errors_tsv;
  EXPECT_EQ(errors[1].at(0), broken);
  EXPECT_NE(errors[1].at(1).find("'" + broken + "': "), std::string::npos) << errors[1][1];
  EXPECT_EQ(ReadFile(out / "seg.tsv"), "previous\n");
  EXPECT_FALSE(fs::exists(out / "summary.tsv"));
  EXPECT_FALSE(fs::exists(out / "grids"));
  EXPECT_TRUE(voxsex::test::TempFilesIn(out).empty());
  const auto lines = ErrorLines(r.err);
  ASSERT_EQ(lines.size(), 2u) << r.err;  // the failure, then the stop
  EXPECT_EQ(lines[0], errors[1][1]);
  EXPECT_EQ(lines[1].rfind("stopped at the first failure (--fail-fast) after ", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find(broken + "; '" + (out / "seg.tsv").string() +
                          "', summary and TextGrids not written; errors in '" +
                          (out / "e.tsv").string() + "'"),
            std::string::npos)
      << lines[1];
  EXPECT_EQ(r.err.find("d_broken.wav"), std::string::npos) << r.err;

  // Without --errors the stop is the same, and nothing is written at all.
  fs::remove(out / "e.tsv");
  const auto q = RunVoxsex("segment " + Quote(in.string()) + " " +
                               Quote((out / "seg.tsv").string()) + " --fail-fast --threads 1",
                           dir);
  EXPECT_EQ(q.status, 1) << q.err;
  EXPECT_EQ(ReadFile(out / "seg.tsv"), "previous\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator()), 1);  // seg.tsv

  // predict on the same files: the same status and the same errors.tsv.
  const auto p = RunVoxsex("predict " + Quote(in.string()) + " " +
                               Quote((out / "answers.tsv").string()) + " --errors " +
                               Quote((out / "p.tsv").string()) + " --fail-fast --threads 1",
                           dir);
  EXPECT_EQ(p.status, r.status) << p.err;
  EXPECT_EQ(ReadFile(out / "p.tsv"), errors_tsv);
  EXPECT_FALSE(fs::exists(out / "answers.tsv"));
}

TEST(SegmentCli, ErrorsFileIsHeaderOnlyWhenEveryFileIsSegmented) {
  const fs::path dir = voxsex::test::FreshDir("segment_no_errors");
  const fs::path in = dir / "in";
  fs::create_directories(in);
  fs::copy_file(kData / "clip_3_wav16_16k_mono.wav", in / "male.wav");
  { std::ofstream(dir / "e.tsv") << "stale\trow from an earlier run\n"; }
  const auto r = RunVoxsex("segment " + Quote(in.string()) + " " +
                               Quote((dir / "seg.tsv").string()) + " --errors " +
                               Quote((dir / "e.tsv").string()) + " --fail-fast --threads 1",
                           dir);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(ReadFile(dir / "e.tsv"), "path\treason\n");
  const std::string segments = ReadFile(dir / "seg.tsv");
  EXPECT_NE(segments.find("\nmale\t"), std::string::npos) << segments;
}

TEST(SegmentCli, UsageErrorsExit2) {
  const fs::path dir = voxsex::test::FreshDir("segment_usage");
  EXPECT_EQ(RunVoxsex("segment " + Quote((dir / "missing").string()) + " seg.tsv", dir).status, 2);
  EXPECT_EQ(RunVoxsex("segment " + Quote(kData.string()) + " " + Quote((dir / "s.tsv").string()) +
                          " --hop 5 --window 2",
                      dir)
                .status,
            2);
  EXPECT_EQ(RunVoxsex("segment " + Quote(kData.string()) + " " + Quote((dir / "s.tsv").string()) +
                          " --max-pause -1",
                      dir)
                .status,
            2);
  // A speech detector that cannot be loaded: exit 2, its path in the message.
  const auto bad_vad = RunVoxsex("segment " + Quote(kData.string()) + " " +
                                     Quote((dir / "s.tsv").string()) + " --vad-model " +
                                     Quote((dir / "no_vad.pt").string()),
                                 dir);
  EXPECT_EQ(bad_vad.status, 2);
  EXPECT_NE(bad_vad.err.find((dir / "no_vad.pt").string()), std::string::npos) << bad_vad.err;
  EXPECT_FALSE(fs::exists(dir / "s.tsv"));
  // --errors needs a file of its own.
  for (const std::string& errors : {std::string("-"), (dir / "s.tsv").string()}) {
    const auto r = RunVoxsex("segment " + Quote(kData.string()) + " " +
                                 Quote((dir / "s.tsv").string()) + " --errors " + Quote(errors),
                             dir);
    EXPECT_EQ(r.status, 2) << errors;
    EXPECT_NE(r.err.find("--errors"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir / "s.tsv"));
}

}  // namespace
