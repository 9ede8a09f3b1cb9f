// End-to-end tests of the voxsex command line on the real clips in tests/data.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "voxsex/error.h"
#include "voxsex/tsv.h"

namespace fs = std::filesystem;
using voxsex::test::FreshDir;
using voxsex::test::Quote;
using voxsex::test::RunVoxsex;
using voxsex::test::TempFilesIn;

namespace {

const fs::path kData = VOXSEX_TEST_DATA;

// Copies the six fixture clips (several formats, rates and channel counts) into `dir`.
void CopyClips(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(kData)) {
    if (e.is_regular_file() && e.path().filename().string().rfind("clip_", 0) == 0) {
      fs::copy_file(e.path(), dir / e.path().filename());
    }
  }
}

void ExpectAnswersEqual(const std::vector<voxsex::Answer>& got,
                        const std::vector<voxsex::Answer>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id) << "line " << i + 1;
    EXPECT_EQ(got[i].gender, want[i].gender) << "id " << got[i].id;
  }
}

}  // namespace

TEST(E2E, PredictClassifiesEveryFormatLikeTheLabels) {
  const auto dir = FreshDir("predict_formats");
  const auto answers = dir / "answers.tsv";
  auto r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()) +
                         " --model " + Quote(voxsex::test::BundledModel()),
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("6 classified, 0 failed"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << "predict must write data only to the answers file: " << r.out;
  // The file is sorted by id, two columns, one line per clip.
  const std::string text = voxsex::test::ReadFile(answers);
  EXPECT_EQ(text.rfind("clip_1_aiff24_32k_stereo\t", 0), 0u) << text;
  ExpectAnswersEqual(voxsex::ReadAnswers(answers.string()),
                     voxsex::ReadAnswers((kData / "expected_answers.tsv").string()));
}

TEST(E2E, PredictUsesTheBundledModelByDefault) {
  const auto dir = FreshDir("predict_default_model");
  const auto answers = dir / "answers.tsv";
  auto r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()), dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(voxsex::ReadAnswers(answers.string()).size(), 6u);
}

TEST(E2E, BadFileIsReportedAndTheRestAreClassified) {
  const auto dir = FreshDir("predict_bad_file");
  const auto in = dir / "in";
  fs::create_directories(in);
  CopyClips(in);
  { std::ofstream(in / "not_audio.wav") << "this is text, not a RIFF file\n"; }
  { std::ofstream(in / "notes.txt") << "ignored: not an audio extension\n"; }
  fs::copy_file(kData / "clip_3_wav16_16k_mono.wav", in / "UPPER.WAV");
  const auto answers = dir / "answers.tsv";
  auto r = RunVoxsex("predict " + Quote(in.string()) + " " + Quote(answers.string()) +
                         " --model " + Quote(voxsex::test::BundledModel()),
                     dir);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find((in / "not_audio.wav").string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("7 classified, 1 failed"), std::string::npos) << r.err;
  const auto got = voxsex::ReadAnswers(answers.string());
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(got[0].id, "UPPER");
  EXPECT_EQ(got[0].gender, 0);  // a copy of clip 3, a man
  EXPECT_TRUE(TempFilesIn(dir).empty());
}

TEST(E2E, DuplicateIdsFailNamingBothFiles) {
  const auto dir = FreshDir("predict_duplicate_ids");
  const auto in = dir / "in";
  fs::create_directories(in);
  fs::copy_file(kData / "clip_3_wav16_16k_mono.wav", in / "same.wav");
  fs::copy_file(kData / "clip_2_flac16_44k1_stereo.flac", in / "same.flac");
  fs::copy_file(kData / "clip_4_mp3_48k_mono.mp3", in / "other.mp3");
  const auto answers = dir / "answers.tsv";
  auto r = RunVoxsex("predict " + Quote(in.string()) + " " + Quote(answers.string()), dir);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("same.wav"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("same.flac"), std::string::npos) << r.err;
  const auto got = voxsex::ReadAnswers(answers.string());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, "other");
}

TEST(E2E, MissingOrForeignModelIsAConfigurationError) {
  const auto dir = FreshDir("predict_bad_model");
  const auto answers = dir / "answers.tsv";
  auto r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()) +
                         " --model " + Quote((dir / "nope.pt").string()),
                     dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("nope.pt"), std::string::npos) << r.err;
  r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()) +
                    " --model " + Quote((kData / "expected_answers.tsv").string()),
                dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("not a TorchScript file"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Exception raised from"), std::string::npos) << "backtrace leaked: " << r.err;
  EXPECT_FALSE(fs::exists(answers));
}

TEST(E2E, UnwritableOutputKeepsNothingHalfWritten) {
  const auto dir = FreshDir("predict_unwritable");
  const auto answers = dir / "no_such_dir" / "answers.tsv";
  auto r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()), dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("answers.tsv"), std::string::npos) << r.err;
  EXPECT_TRUE(TempFilesIn(dir).empty());
}

TEST(E2E, UsageErrorsExitTwo) {
  const auto dir = FreshDir("usage");
  EXPECT_EQ(RunVoxsex("predict", dir).status, 2);
  EXPECT_EQ(RunVoxsex("predict /no/such/dir out.tsv", dir).status, 2);
  EXPECT_EQ(RunVoxsex("frobnicate", dir).status, 2);
  auto r = RunVoxsex("--version", dir);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("voxsex "), std::string::npos) << r.out;
  r = RunVoxsex("predict --help", dir);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("Example"), std::string::npos) << r.out;
}

TEST(E2E, TrainOneEpochOnTheClipsGivesAModelPredictLoads) {
  const auto dir = FreshDir("train_small");
  const auto model = dir / "small.pt";
  auto r = RunVoxsex("train --targets " + Quote((kData / "expected_answers.tsv").string()) +
                         " --val-targets " + Quote((kData / "expected_answers.tsv").string()) +
                         " --init " + Quote(voxsex::test::UntrainedModel()) + " --out " +
                         Quote(model.string()) + " --epochs 1 --batch-size 3 --seed 3",
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("epoch   1/1"), std::string::npos) << r.err;
  ASSERT_TRUE(fs::exists(model));
  EXPECT_TRUE(TempFilesIn(dir).empty());

  const auto answers = dir / "answers.tsv";
  r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()) +
                    " --model " + Quote(model.string()),
                dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(voxsex::ReadAnswers(answers.string()).size(), 6u);
}

TEST(E2E, TrainShowsProgressOnATerminalOnly) {
  if (!fs::exists("/usr/bin/script")) GTEST_SKIP() << "needs script(1) for a pseudo-terminal";
  const auto dir = FreshDir("train_progress");
  const std::string args = " train --targets " + Quote((kData / "expected_answers.tsv").string()) +
                           " --init " + Quote(voxsex::test::UntrainedModel()) + " --out " +
                           Quote((dir / "m.pt").string()) + " --epochs 2 --batch-size 2";
  const auto transcript = dir / "tty.txt";
  const std::string cmd = "/usr/bin/script -qec " + Quote(Quote(VOXSEX_BIN) + args) +
                          " /dev/null >" + Quote(transcript.string()) + " 2>&1 </dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << voxsex::test::ReadFile(transcript);
  const std::string tty = voxsex::test::ReadFile(transcript);
  EXPECT_NE(tty.find("\r[####################] 6/6 examples  "), std::string::npos) << tty;
  // Without a terminal the per-epoch log lines are the only progress.
  auto r = RunVoxsex(args, dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("examples/s"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("epoch   2/2"), std::string::npos) << r.err;
}

TEST(E2E, TrainRejectsATargetWithoutAudio) {
  const auto dir = FreshDir("train_missing_audio");
  { std::ofstream(dir / "targets.tsv") << "clip_that_does_not_exist\t0\nother\t1\n"; }
  const auto model = dir / "m.pt";
  auto r = RunVoxsex("train --targets " + Quote((dir / "targets.tsv").string()) + " --audio-dir " +
                         Quote(kData.string()) + " --init " +
                         Quote(voxsex::test::UntrainedModel()) + " --out " + Quote(model.string()),
                     dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("clip_that_does_not_exist"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(model));
}

TEST(E2E, EvalScoresPredictOutput) {
  const auto dir = FreshDir("eval_fixtures");
  const auto answers = dir / "answers.tsv";
  ASSERT_EQ(RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()), dir).status,
            0);
  const auto json_path = dir / "report.json";
  auto r = RunVoxsex("eval --targets " + Quote((kData / "expected_answers.tsv").string()) +
                         " --answers " + Quote(answers.string()) + " --json " +
                         Quote(json_path.string()),
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto report = nlohmann::json::parse(voxsex::test::ReadFile(json_path));
  EXPECT_EQ(report["overall"]["files"].get<int>(), 6);
  EXPECT_DOUBLE_EQ(report["overall"]["accuracy"].get<double>(), 1.0);
}
