// voxsex train-vad (TrainSpeechDetector): the bundled untrained detector, trained on a conversation
// made from three fixture clips, learns to tell speech from the gaps of a conversation made from
// the other three; the same seed gives the same detector; bad inputs are errors naming the file,
// with nothing written.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "test_util.h"
#include "voxsex/audio.h"
#include "voxsex/error.h"
#include "voxsex/mel.h"
#include "voxsex/model.h"
#include "voxsex/segment.h"
#include "voxsex/train_vad.h"

namespace fs = std::filesystem;
using voxsex::test::FreshDir;
using voxsex::test::Quote;
using voxsex::test::RunVoxsex;
using voxsex::test::UniformNoise;
using voxsex::test::TempFilesIn;
using voxsex::test::WriteWav16;

namespace {

const fs::path kData = VOXSEX_TEST_DATA;
constexpr int kRate = 16000;

std::string UntrainedDetector() {
  return std::string(VOXSEX_SOURCE_DIR) + "/models/voxsex-vad-untrained.pt";
}

struct Stretch {
  double start_s, end_s;
};

// The clips one after the other with 2 s of noise at `gap_dbfs` before, between and after them;
// each clip, pauses and all, is one stretch of speech.
std::vector<float> Conversation(const std::vector<std::string>& clips, double gap_dbfs,
                                std::vector<Stretch>* speech) {
  std::vector<float> x = UniformNoise(2 * kRate, gap_dbfs, 7);
  std::uint32_t seed = 11;
  for (const std::string& name : clips) {
    const voxsex::Audio a = voxsex::ReadAudio((kData / name).string());
    const double start = static_cast<double>(x.size()) / kRate;
    x.insert(x.end(), a.samples.begin(), a.samples.end());
    speech->push_back({start, static_cast<double>(x.size()) / kRate});
    const auto gap = UniformNoise(2 * kRate, gap_dbfs, seed++);
    x.insert(x.end(), gap.begin(), gap.end());
  }
  return x;
}

// A conversation directory as make_conversations.py writes one: truth.tsv and clean/<id>.wav.
void WriteConversationDir(const fs::path& dir) {
  fs::create_directories(dir / "clean");
  std::ofstream truth(dir / "truth.tsv");
  truth << "id\tstart_s\tend_s\tlabel\n";
  const std::vector<std::vector<std::string>> convs = {
      {"clip_1_aiff24_32k_stereo.aiff", "clip_2_flac16_44k1_stereo.flac", "clip_6_ulaw_8k_mono.wav"},
      {"clip_6_ulaw_8k_mono.wav", "clip_1_aiff24_32k_stereo.aiff", "clip_2_flac16_44k1_stereo.flac"}};
  for (std::size_t c = 0; c < convs.size(); ++c) {
    std::vector<Stretch> speech;
    const std::string id = "conv_" + std::to_string(c);
    WriteWav16(dir / "clean" / (id + ".wav"), Conversation(convs[c], c == 0 ? -70.0 : -55.0, &speech));
    for (const Stretch& s : speech) truth << id << '\t' << s.start_s << '\t' << s.end_s << "\tspeech\n";
  }
}

voxsex::SpeechDetectorTrainOptions Options(const fs::path& dir, const std::string& out, int steps) {
  voxsex::SpeechDetectorTrainOptions o;
  o.conversation_dirs = {dir.string()};
  o.init_path = UntrainedDetector();
  o.out_path = out;
  o.steps = steps;
  o.batch_size = 8;
  o.crop_s = 4.0;
  o.num_threads = 1;
  return o;
}

// Fraction of frames the detector gets right on the held-out conversation (the fixture clips 3,
// 4 and 5; truth: the clips are speech, the -70 dBFS gaps 0.2 s away from them are not), and the
// fraction of gap frames called speech.
struct Scores {
  double turn_speech, gap_speech;
};
Scores ScoreOnHeldOut(const std::string& detector_path) {
  const voxsex::MelOptions mel;
  const voxsex::SpeechDetector d = voxsex::SpeechDetector::Load(detector_path, mel);
  std::vector<Stretch> speech;
  const std::vector<float> x = Conversation(
      {"clip_3_wav16_16k_mono.wav", "clip_4_mp3_48k_mono.mp3", "clip_5_vorbis_22k05_mono.ogg"},
      -70.0, &speech);
  const std::vector<float> logits = d.Logits(voxsex::MelFrontend(mel).Compute(x));
  std::vector<int> label(logits.size(), -1);  // -1: near an edge, not scored
  for (std::size_t t = 0; t < logits.size(); ++t) {
    const double s = t / 100.0;
    bool near_edge = false, inside = false;
    for (const Stretch& st : speech) {
      inside = inside || (s >= st.start_s && s < st.end_s);
      near_edge = near_edge || std::abs(s - st.start_s) < 0.2 || std::abs(s - st.end_s) < 0.2;
    }
    if (!near_edge) label[t] = inside ? 1 : 0;
  }
  double turn = 0, turn_n = 0, gap = 0, gap_n = 0;
  for (std::size_t t = 0; t < logits.size(); ++t) {
    const bool called = logits[t] >= d.threshold;
    if (label[t] == 1) turn += called, ++turn_n;
    if (label[t] == 0) gap += called, ++gap_n;
  }
  return {turn / turn_n, gap / gap_n};
}

TEST(TrainVad, LearnsSpeechFromGapsOnAHeldOutConversation) {
  const fs::path dir = FreshDir("train_vad_learns");
  WriteConversationDir(dir / "conv");
  const std::string out = (dir / "vad.pt").string();
  const voxsex::SpeechDetectorTrainResult r = voxsex::TrainSpeechDetector(Options(dir / "conv", out, 150));
  EXPECT_EQ(r.num_recordings, 2);
  EXPECT_GT(r.speech_fraction, 0.3);
  EXPECT_LT(r.speech_fraction, 0.8);
  EXPECT_TRUE(TempFilesIn(dir).empty());

  const Scores untrained = ScoreOnHeldOut(UntrainedDetector());
  const Scores trained = ScoreOnHeldOut(out);
  std::cout << "speech called on the held-out turns / gaps: trained " << trained.turn_speech << " / "
            << trained.gap_speech << ", untrained " << untrained.turn_speech << " / "
            << untrained.gap_speech << "\n";
  // The clips hold pauses, yet most of each is speech; the gaps are not.
  EXPECT_GE(trained.turn_speech, 0.6) << "untrained: " << untrained.turn_speech;
  EXPECT_LE(trained.gap_speech, 0.02) << "untrained: " << untrained.gap_speech;
  // The untrained detector does not already do it.
  EXPECT_GT((trained.turn_speech - trained.gap_speech) - (untrained.turn_speech - untrained.gap_speech), 0.3);
}

TEST(TrainVad, SameSeedSameDetector) {
  const fs::path dir = FreshDir("train_vad_seed");
  WriteConversationDir(dir / "conv");
  std::vector<std::vector<float>> logits;
  for (const char* name : {"a.pt", "b.pt", "c.pt"}) {
    auto o = Options(dir / "conv", (dir / name).string(), 10);
    if (std::string(name) == "c.pt") o.seed = 2;
    voxsex::TrainSpeechDetector(o);
    const voxsex::MelOptions mel;
    const auto d = voxsex::SpeechDetector::Load(o.out_path, mel);
    std::vector<Stretch> speech;
    logits.push_back(d.Logits(voxsex::MelFrontend(mel).Compute(
        Conversation({"clip_3_wav16_16k_mono.wav"}, -70.0, &speech))));
  }
  EXPECT_EQ(logits[0], logits[1]);
  EXPECT_NE(logits[0], logits[2]);
}

TEST(TrainVadCli, BadInputsAreErrorsNamingTheFileAndNothingIsWritten) {
  const fs::path dir = FreshDir("train_vad_cli");
  const fs::path out = dir / "vad.pt";
  const std::string base = "train-vad --threads 1 --steps 2 --out " + Quote(out.string());

  // No truth.tsv.
  fs::create_directories(dir / "empty");
  auto r = RunVoxsex(base + " --conversations " + Quote((dir / "empty").string()), dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("empty': no truth.tsv"), std::string::npos) << r.err;

  // An id of truth.tsv without an audio file.
  WriteConversationDir(dir / "conv");
  fs::remove(dir / "conv" / "clean" / "conv_1.wav");
  r = RunVoxsex(base + " --conversations " + Quote((dir / "conv").string()), dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("id 'conv_1' has no audio file"), std::string::npos) << r.err;

  // A broken audio file: named.
  std::ofstream(dir / "conv" / "clean" / "conv_1.wav") << "not audio";
  r = RunVoxsex(base + " --conversations " + Quote((dir / "conv").string()), dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("conv_1.wav"), std::string::npos) << r.err;

  // An end before its start.
  WriteConversationDir(dir / "conv2");
  std::ofstream(dir / "conv2" / "truth.tsv", std::ios::app) << "conv_0\t5.0\t4.0\tspeech\n";
  r = RunVoxsex(base + " --conversations " + Quote((dir / "conv2").string()), dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("end_s before start_s"), std::string::npos) << r.err;

  // A gender model is not a speech detector.
  r = RunVoxsex(base + " --conversations " + Quote((dir / "conv2").string()) + " --init " +
                    Quote(voxsex::test::BundledModel()),
                dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("voxsex.pt"), std::string::npos) << r.err;

  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(TempFilesIn(dir).empty());

  // And a good run writes a detector segment accepts.
  fs::remove(dir / "conv" / "clean" / "conv_1.wav");
  WriteConversationDir(dir / "conv");
  r = RunVoxsex(base + " --conversations " + Quote((dir / "conv").string()), dir);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NO_THROW(voxsex::SpeechDetector::Load(out.string(), voxsex::MelOptions{}));
}

}  // namespace
