// End-to-end tests of the `voxsex predict` options (--scores, --recursive, --list, - for stdout,
// --shard, --device, progress) on the real clips in tests/data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"
#include "voxsex/audio.h"
#include "voxsex/tsv.h"

namespace fs = std::filesystem;
using voxsex::test::FreshDir;
using voxsex::test::Quote;
using voxsex::test::ReadFile;
using voxsex::test::RunVoxsex;
using voxsex::test::WriteWav16;

namespace {

const fs::path kData = VOXSEX_TEST_DATA;
const fs::path kClip3 = kData / "clip_3_wav16_16k_mono.wav";  // a man, 4 s, 16 kHz mono

std::string Model() { return " --model " + Quote(voxsex::test::BundledModel()); }

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Clip 3 with its samples multiplied by `gain` and cut to at most `max_s` seconds.
void WriteClip3Variant(const fs::path& path, float gain, double max_s) {
  voxsex::AudioReaderOptions opts;
  opts.target_sample_rate_hz = 0;
  voxsex::Audio audio = voxsex::ReadAudio(kClip3.string(), opts);
  const auto keep = static_cast<std::size_t>(max_s * audio.sample_rate_hz);
  if (audio.samples.size() > keep) audio.samples.resize(keep);
  for (float& x : audio.samples) x *= gain;
  WriteWav16(path, audio.samples, audio.sample_rate_hz);
}

// scores.tsv rows by id.
std::map<std::string, std::map<std::string, std::string>> ScoresById(const fs::path& path) {
  const voxsex::Table table = voxsex::ReadTable(path.string());
  std::map<std::string, std::map<std::string, std::string>> rows;
  for (const auto& row : table.rows) rows[row.at("id")] = row;
  return rows;
}

std::vector<std::string> Flags(const std::string& column) {
  std::vector<std::string> flags;
  std::istringstream in(column);
  for (std::string f; std::getline(in, f, ',');) flags.push_back(f);
  return flags;
}

bool HasFlag(const std::string& column, const std::string& flag) {
  const auto flags = Flags(column);
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

}  // namespace

TEST(PredictCli, ScoresFileHasTheHeaderAndOneRowPerClassifiedFile) {
  const auto dir = FreshDir("predict_cli_scores");
  const auto answers = dir / "answers.tsv", scores = dir / "scores.tsv";
  auto r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()) +
                         " --scores " + Quote(scores.string()) + Model(),
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;

  // answers.tsv keeps its two-column form, byte for byte the labels of the fixtures.
  EXPECT_EQ(ReadFile(answers), ReadFile(kData / "expected_answers.tsv"));

  const auto lines = Lines(ReadFile(scores));
  ASSERT_EQ(lines.size(), 7u) << ReadFile(scores);
  EXPECT_EQ(lines[0], "id\tp_female\tconfidence\tduration_s\tspeech_s\tflags");
  EXPECT_TRUE(std::is_sorted(lines.begin() + 1, lines.end()));

  std::map<std::string, int> gender;
  for (const auto& a : voxsex::ReadAnswers(answers.string())) gender[a.id] = a.gender;
  std::map<std::string, double> fixture_duration_s;
  for (const auto& row : voxsex::ReadTable((kData / "fixtures.tsv").string()).rows) {
    fixture_duration_s[row.at("id")] = std::stod(row.at("duration_s"));
  }
  const auto rows = ScoresById(scores);
  ASSERT_EQ(rows.size(), 6u);
  for (const auto& [id, row] : rows) {
    SCOPED_TRACE(id);
    ASSERT_EQ(gender.count(id), 1u);
    const double p = std::stod(row.at("p_female"));
    const double confidence = std::stod(row.at("confidence"));
    const double duration_s = std::stod(row.at("duration_s"));
    EXPECT_GE(p, 0.0);
    EXPECT_LE(p, 1.0);
    EXPECT_EQ(p >= 0.5 ? 1 : 0, gender[id]) << "p_female " << p;
    EXPECT_NEAR(confidence, std::max(p, 1.0 - p), 1.5e-4);
    EXPECT_NEAR(duration_s, fixture_duration_s.at(id), 0.05);
    // The VAD keeps most of a read utterance and never more than the whole file (10 ms frames).
    const double speech_s = std::stod(row.at("speech_s"));
    EXPECT_GT(speech_s, 0.3 * duration_s);
    EXPECT_LE(speech_s, duration_s + 0.02);
    // 4, 4 and 3 decimals.
    EXPECT_EQ(row.at("p_female").size(), 6u) << row.at("p_female");
    EXPECT_EQ(row.at("confidence").size(), 6u) << row.at("confidence");
    EXPECT_EQ(row.at("duration_s").substr(row.at("duration_s").find('.')).size(), 4u);
    // The fixtures are >= 1.09 s, above -32 dBFS RMS and peak below 0.85.
    EXPECT_EQ(row.at("flags"), "-");
  }
}

TEST(PredictCli, ScoresFlagQuietShortAndClippedAudio) {
  const auto dir = FreshDir("predict_cli_flags");
  const auto in = dir / "in";
  fs::create_directories(in);
  WriteClip3Variant(in / "quiet.wav", 0.005f, 10.0);  // about -70 dBFS RMS
  WriteClip3Variant(in / "short.wav", 1.0f, 0.5);
  WriteClip3Variant(in / "loud.wav", 20.0f, 10.0);
  fs::copy_file(kClip3, in / "normal.wav");
  {  // 3 s of steady noise: no frame stands out from the background
    std::mt19937_64 rng(1);
    std::normal_distribution<float> g(0.0f, 0.05f);
    std::vector<float> noise(48000);
    for (float& v : noise) v = g(rng);
    WriteWav16(in / "noise.wav", noise, 16000);
  }
  const auto answers = dir / "answers.tsv", scores = dir / "scores.tsv";
  auto r = RunVoxsex("predict " + Quote(in.string()) + " " + Quote(answers.string()) +
                         " --scores " + Quote(scores.string()) + Model(),
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto rows = ScoresById(scores);
  ASSERT_EQ(rows.size(), 5u) << ReadFile(scores);
  EXPECT_EQ(rows.at("noise").at("flags"), "no_speech");
  EXPECT_EQ(std::stod(rows.at("noise").at("speech_s")), 0.0);
  EXPECT_GT(std::stod(rows.at("normal").at("speech_s")), 0.5);
  EXPECT_TRUE(HasFlag(rows.at("quiet").at("flags"), "low_level")) << rows.at("quiet").at("flags");
  EXPECT_FALSE(HasFlag(rows.at("quiet").at("flags"), "too_short"));
  EXPECT_TRUE(HasFlag(rows.at("short").at("flags"), "too_short")) << rows.at("short").at("flags");
  EXPECT_NEAR(std::stod(rows.at("short").at("duration_s")), 0.5, 0.01);
  EXPECT_EQ(rows.at("loud").at("flags"), "clipped");
  EXPECT_EQ(rows.at("normal").at("flags"), "-");
}

TEST(PredictCli, RecursiveFindsFilesInSubdirectoriesWithoutFollowingLinks) {
  const auto dir = FreshDir("predict_cli_recursive");
  const auto in = dir / "in", outside = dir / "outside";
  fs::create_directories(in / "a");
  fs::create_directories(in / "b" / "c");
  fs::create_directories(outside);
  fs::copy_file(kData / "clip_1_aiff24_32k_stereo.aiff", in / "top.aiff");
  fs::copy_file(kData / "clip_2_flac16_44k1_stereo.flac", in / "a" / "one.flac");
  fs::copy_file(kData / "clip_3_wav16_16k_mono.wav", in / "b" / "c" / "deep.wav");
  fs::copy_file(kData / "clip_4_mp3_48k_mono.mp3", outside / "linked.mp3");
  fs::create_directory_symlink(in, in / "b" / "loop");  // would loop if followed
  fs::create_directory_symlink(outside, in / "link");   // not followed
  const auto answers = dir / "answers.tsv";

  auto r = RunVoxsex("predict " + Quote(in.string()) + " " + Quote(answers.string()) + Model(),
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  auto got = voxsex::ReadAnswers(answers.string());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, "top");

  r = RunVoxsex("predict -r " + Quote(in.string()) + " " + Quote(answers.string()) + Model(), dir);
  ASSERT_EQ(r.status, 0) << r.err;
  got = voxsex::ReadAnswers(answers.string());
  ASSERT_EQ(got.size(), 3u) << ReadFile(answers);
  EXPECT_EQ(got[0].id, "deep");
  EXPECT_EQ(got[0].gender, 0);
  EXPECT_EQ(got[1].id, "one");
  EXPECT_EQ(got[1].gender, 1);
  EXPECT_EQ(got[2].id, "top");

  // The same id in two subdirectories: both fail, each message naming the other.
  fs::copy_file(kData / "clip_5_vorbis_22k05_mono.ogg", in / "a" / "deep.ogg");
  r = RunVoxsex("predict --recursive " + Quote(in.string()) + " " + Quote(answers.string()) +
                    Model(),
                dir);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Contains(r.err, (in / "a" / "deep.ogg").string())) << r.err;
  EXPECT_TRUE(Contains(r.err, (in / "b" / "c" / "deep.wav").string())) << r.err;
  got = voxsex::ReadAnswers(answers.string());
  ASSERT_EQ(got.size(), 2u) << ReadFile(answers);
}

TEST(PredictCli, ListClassifiesTheListedPathsAndReportsAMissingOne) {
  const auto dir = FreshDir("predict_cli_list");
  const auto missing = dir / "no_such_clip.wav";
  const auto relative = fs::relative(kData / "clip_2_flac16_44k1_stereo.flac", fs::current_path());
  ASSERT_TRUE(relative.is_relative()) << relative;
  {
    std::ofstream list(dir / "files.txt");
    list << "# clips to classify\n\n"
         << (kData / "clip_1_aiff24_32k_stereo.aiff").string() << "\n"
         << relative.string() << "\r\n"
         << missing.string() << "\n"
         << "   \n"
         << (kData / "clip_6_ulaw_8k_mono.wav").string() << "\n";
  }
  const auto answers = dir / "answers.tsv";
  // With --list the single positional argument is ANSWERS.
  auto r = RunVoxsex("predict --list " + Quote((dir / "files.txt").string()) + " " +
                         Quote(answers.string()) + Model(),
                     dir);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Contains(r.err, missing.string())) << r.err;
  EXPECT_TRUE(Contains(r.err, "3 classified, 1 failed")) << r.err;
  const auto got = voxsex::ReadAnswers(answers.string());
  ASSERT_EQ(got.size(), 3u) << ReadFile(answers);
  EXPECT_EQ(got[0].id, "clip_1_aiff24_32k_stereo");
  EXPECT_EQ(got[0].gender, 0);
  EXPECT_EQ(got[1].id, "clip_2_flac16_44k1_stereo");
  EXPECT_EQ(got[1].gender, 1);
  EXPECT_EQ(got[2].id, "clip_6_ulaw_8k_mono");
  EXPECT_EQ(got[2].gender, 1);
}

TEST(PredictCli, InputMustBeExactlyOneOfDirOrList) {
  const auto dir = FreshDir("predict_cli_input_usage");
  { std::ofstream(dir / "files.txt") << kClip3.string() << "\n"; }
  const std::string list = " --list " + Quote((dir / "files.txt").string());
  const std::string out = Quote((dir / "answers.tsv").string());
  auto r = RunVoxsex("predict " + Quote(kData.string()) + " " + out + list, dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(Contains(r.err, "not both")) << r.err;
  r = RunVoxsex("predict " + out, dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(Contains(r.err, "--list")) << r.err;
  r = RunVoxsex("predict -r" + list + " " + out, dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(Contains(r.err, "--recursive")) << r.err;
  r = RunVoxsex("predict --list " + Quote((dir / "nope.txt").string()) + " " + out, dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(Contains(r.err, "nope.txt")) << r.err;
  r = RunVoxsex("predict " + Quote(kData.string()) + " -  --scores -", dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_FALSE(fs::exists(dir / "answers.tsv"));
}

TEST(PredictCli, DashWritesExactlyTheAnswersToStdout) {
  const auto dir = FreshDir("predict_cli_stdout");
  const auto answers = dir / "answers.tsv", scores = dir / "scores.tsv";
  auto r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()) +
                         " --scores " + Quote(scores.string()) + Model(),
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunVoxsex("predict " + Quote(kData.string()) + " -" + Model(), dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, ReadFile(answers));
  EXPECT_TRUE(Contains(r.err, "answers on stdout")) << r.err;
  r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote((dir / "a2.tsv").string()) +
                    " --scores -" + Model(),
                dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, ReadFile(scores));
  EXPECT_EQ(ReadFile(dir / "a2.tsv"), ReadFile(answers));
}

TEST(PredictCli, ShardsPartitionTheAnswers) {
  const auto dir = FreshDir("predict_cli_shard");
  const auto whole = dir / "answers.tsv";
  auto r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(whole.string()) + Model(),
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<std::string> merged;
  for (int k = 1; k <= 3; ++k) {
    const auto part = dir / ("part" + std::to_string(k) + ".tsv");
    r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(part.string()) + " --shard " +
                      std::to_string(k) + "/3" + Model(),
                  dir);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(Contains(r.err, "shard " + std::to_string(k) + "/3")) << r.err;
    const auto lines = Lines(ReadFile(part));
    EXPECT_TRUE(std::is_sorted(lines.begin(), lines.end())) << ReadFile(part);
    merged.insert(merged.end(), lines.begin(), lines.end());
  }
  std::sort(merged.begin(), merged.end());
  EXPECT_EQ(merged, Lines(ReadFile(whole)));

  for (const std::string bad : {"0/3", "4/3", "x", "1/0", "/3", "1/", "-1/3", "1/3/4", "a/b"}) {
    r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote((dir / "bad.tsv").string()) +
                      " --shard " + Quote(bad),
                  dir);
    EXPECT_EQ(r.status, 2) << bad;
    EXPECT_TRUE(Contains(r.err, "--shard")) << bad << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(dir / "bad.tsv"));
}

TEST(PredictCli, CudaDeviceIsRefusedWithoutCuda) {
  const auto dir = FreshDir("predict_cli_cuda");
  const auto answers = dir / "answers.tsv";
  auto r = RunVoxsex(
      "predict " + Quote(kData.string()) + " " + Quote(answers.string()) + " --device cuda", dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(Contains(r.err, "CUDA is not available: this voxsex is built against a CPU-only "
                              "LibTorch or no GPU is visible"))
      << r.err;
  EXPECT_FALSE(fs::exists(answers));
  r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()) +
                    " --device cpu" + Model(),
                dir);
  EXPECT_EQ(r.status, 0) << r.err;
  r = RunVoxsex(
      "predict " + Quote(kData.string()) + " " + Quote(answers.string()) + " --device tpu", dir);
  EXPECT_EQ(r.status, 2);
}

TEST(PredictCli, ProgressIsLoggedWhenStderrIsNotATerminalUnlessQuiet) {
  const auto dir = FreshDir("predict_cli_progress");
  const auto in = dir / "in";
  fs::create_directories(in);
  WriteClip3Variant(dir / "short.wav", 1.0f, 0.3);
  for (int i = 0; i < 1001; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "f%04d.wav", i);
    fs::create_symlink(dir / "short.wav", in / name);
  }
  const auto answers = dir / "answers.tsv";
  auto r = RunVoxsex("predict " + Quote(in.string()) + " " + Quote(answers.string()) + Model(),
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  // Every 1000 files (or 10 s): the count, the rate and the ETA.
  bool found = false;
  for (const auto& line : Lines(r.err)) {
    if (Contains(line, "[info] progress: ") && Contains(line, "/1001 files") &&
        Contains(line, "files/s") && Contains(line, "ETA ")) {
      found = true;
    }
  }
  EXPECT_TRUE(found) << r.err;
  EXPECT_FALSE(Contains(r.err, "\r")) << "no terminal redraws when stderr is a file";

  r = RunVoxsex("-q predict " + Quote(in.string()) + " " + Quote(answers.string()) + Model(), dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(Contains(r.err, "[info]")) << r.err;
  EXPECT_FALSE(Contains(r.err, "files/s")) << r.err;
  EXPECT_EQ(voxsex::ReadAnswers(answers.string()).size(), 1001u);
}

TEST(PredictCli, ProgressIsOneRedrawnLineOnATerminal) {
  if (!fs::exists("/usr/bin/script")) GTEST_SKIP() << "needs script(1) for a pseudo-terminal";
  const auto dir = FreshDir("predict_cli_progress_tty");
  const auto answers = dir / "answers.tsv";
  const std::string inner = Quote(VOXSEX_BIN) + " predict " + Quote(kData.string()) + " " +
                            Quote(answers.string()) + Model();
  const auto transcript = dir / "tty.txt";
  const std::string cmd = "/usr/bin/script -qec " + Quote(inner) + " /dev/null >" +
                          Quote(transcript.string()) + " 2>&1 </dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadFile(transcript);
  const std::string tty = ReadFile(transcript);
  EXPECT_TRUE(Contains(tty, "\r[####################] 6/6 files  ")) << tty;
  EXPECT_FALSE(Contains(tty, "progress: ")) << tty;
  EXPECT_EQ(voxsex::ReadAnswers(answers.string()).size(), 6u);
}

TEST(PredictCli, AnswersAndScoresAreReplacedTogetherOrNotAtAll) {
  const auto dir = FreshDir("predict_cli_pair");
  const auto scores = dir / "scores.tsv";
  { std::ofstream(scores) << "old scores\n"; }
  const auto answers = dir / "no_such_dir" / "answers.tsv";
  auto r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()) +
                         " --scores " + Quote(scores.string()) + Model(),
                     dir);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(ReadFile(scores), "old scores\n") << "scores.tsv replaced although answers failed";
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
}
