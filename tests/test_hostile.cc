// Hostile input: the generated hostile corpus (scripts/data/make_hostile_corpus.py) through
// predict, file by file; --errors and --fail-fast; exit statuses; a closed stdout; broken models;
// bad targets files for train and eval.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"
#include "voxsex/tsv.h"

namespace fs = std::filesystem;
using voxsex::test::FreshDir;
using voxsex::test::Quote;
using voxsex::test::ReadFile;
using voxsex::test::RunVoxsex;
using voxsex::test::TempFilesIn;

namespace {

const fs::path kData = VOXSEX_TEST_DATA;

// One row of the corpus' expected.tsv (see scripts/data/make_hostile_corpus.py).
struct Expected {
  std::string name;
  std::string outcome;  // ok, fail, fail_unless_root, ignored
  std::string flags;
  std::string gender;
  std::string reason;
};

std::vector<std::string> Split(const std::string& line, char sep) {
  std::vector<std::string> fields;
  std::stringstream s(line);
  std::string f;
  while (std::getline(s, f, sep)) fields.push_back(f);
  return fields;
}

// The lines of a TSV file after its header, split on tabs.
std::vector<std::vector<std::string>> Rows(const fs::path& path) {
  std::vector<std::vector<std::string>> rows;
  std::stringstream s(ReadFile(path));
  std::string line;
  std::getline(s, line);  // header
  while (std::getline(s, line)) rows.push_back(Split(line, '\t'));
  return rows;
}

// Generates the hostile corpus into build/tests/work/hostile_corpus_<pid>: ctest runs each test in
// a process of its own, possibly in parallel, so each generates (2-3 s) and removes its own.
class HostileCorpus : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    fs::remove_all(root_);
    fs::remove(Log());
  }
  static void SetUpTestSuite() {
    root_ = fs::path(VOXSEX_BUILD_DIR) / "work" / ("hostile_corpus_" + std::to_string(::getpid()));
    const std::string cmd = "/usr/bin/python3 " +
                            Quote(std::string(VOXSEX_SOURCE_DIR) +
                                  "/scripts/data/make_hostile_corpus.py") +
                            " " + Quote(root_.string()) + " 2>" + Quote(Log().string());
    generated_ = std::system(cmd.c_str()) == 0;
    if (!generated_) return;
    for (const auto& row : Rows(root_ / "expected.tsv")) {
      if (row.size() == 5) expected_.push_back({row[0], row[1], row[2], row[3], row[4]});
    }
  }
  void SetUp() override {
    ASSERT_TRUE(generated_) << "scripts/data/make_hostile_corpus.py failed (needs numpy and sox, "
                               "installed by scripts/setup.sh): "
                            << ReadFile(Log());
    ASSERT_GE(expected_.size(), 60u);
  }
  static fs::path Audio() { return root_ / "audio"; }
  static fs::path Log() { return root_.string() + ".log"; }

  static inline fs::path root_;
  static inline bool generated_ = false;
  static inline std::vector<Expected> expected_;
};

TEST_F(HostileCorpus, EveryFileGetsItsOutcomeAndEveryFailureNamesTheFile) {
  const auto dir = FreshDir("hostile_predict");
  const auto answers = dir / "answers.tsv", scores = dir / "scores.tsv",
             errors = dir / "errors.tsv";
  const auto r = RunVoxsex("predict " + Quote(Audio().string()) + " " + Quote(answers.string()) +
                               " --scores " + Quote(scores.string()) + " --errors " +
                               Quote(errors.string()) + " --threads 2",
                           dir);
  ASSERT_EQ(r.status, 1) << r.err;  // some files failed, the rest were written

  std::map<std::string, int> answer_of;
  for (const auto& a : voxsex::ReadAnswers(answers.string())) answer_of[a.id] = a.gender;
  std::map<std::string, std::string> flags_of;
  for (const auto& row : Rows(scores)) flags_of[row.at(0)] = row.at(5);
  std::map<std::string, std::string> reason_of;
  for (const auto& row : Rows(errors)) reason_of[row.at(0)] = row.at(1);

  const bool root = ::geteuid() == 0;
  std::size_t num_ok = 0, num_fail = 0;
  for (const Expected& e : expected_) {
    SCOPED_TRACE(e.name + " (" + e.outcome + ")");
    const std::string path = (Audio() / e.name).string();
    const std::string id = fs::path(e.name).stem().string();
    const bool ok = e.outcome == "ok" || (e.outcome == "fail_unless_root" && root);
    const bool fail = e.outcome == "fail" || (e.outcome == "fail_unless_root" && !root);
    if (ok) {
      ++num_ok;
      ASSERT_EQ(answer_of.count(id), 1u) << "not classified: " << reason_of[path];
      if (e.outcome == "ok") {
        EXPECT_EQ(flags_of[id], e.flags);
      }
      if (e.gender != "-") {
        EXPECT_EQ(std::to_string(answer_of[id]), e.gender);
      }
      EXPECT_EQ(reason_of.count(path), 0u);
    } else if (fail) {
      ++num_fail;
      ASSERT_EQ(reason_of.count(path), 1u) << "no row in errors.tsv";
      if (e.reason != "-") {
        EXPECT_NE(reason_of[path].find(e.reason), std::string::npos);
      }
      EXPECT_NE(reason_of[path].find(path), std::string::npos) << "reason does not name the file";
      // One error line on stderr about the file ("[error] cannot read 'PATH': reason").
      std::size_t lines = 0;
      for (const auto& line : Split(r.err, '\n')) {
        if (line.rfind("[error]", 0) == 0 && line.find("'" + path + "': ") != std::string::npos) {
          ++lines;
        }
      }
      EXPECT_EQ(lines, 1u) << r.err;
      if (e.reason.find("is also the id of") == std::string::npos) {
        EXPECT_EQ(answer_of.count(id), 0u);
      }
    } else {  // ignored: not audio, in no output
      EXPECT_EQ(e.outcome, "ignored");
      EXPECT_EQ(answer_of.count(id), 0u);
      EXPECT_EQ(reason_of.count(path), 0u);
    }
  }
  if (root) std::cout << "[ NOTE     ] running as root: unreadable.wav is read, not refused\n";
  EXPECT_EQ(answer_of.size(), num_ok);
  EXPECT_EQ(reason_of.size(), num_fail);
  // The summary counts both and names where the errors went.
  EXPECT_NE(r.err.find(std::to_string(num_ok) + " classified, " + std::to_string(num_fail) +
                       " failed"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("errors in '" + errors.string() + "'"), std::string::npos) << r.err;
  EXPECT_TRUE(TempFilesIn(dir).empty());
}

TEST_F(HostileCorpus, FailFastStopsAtTheFirstFailureAndKeepsThePreviousAnswers) {
  const auto dir = FreshDir("hostile_fail_fast");
  const auto answers = dir / "answers.tsv", errors = dir / "errors.tsv";
  { std::ofstream(answers) << "previous\t1\n"; }
  const auto r = RunVoxsex("predict " + Quote(Audio().string()) + " " + Quote(answers.string()) +
                               " --errors " + Quote(errors.string()) + " --fail-fast",
                           dir);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(ReadFile(answers), "previous\t1\n");
  const auto rows = Rows(errors);
  ASSERT_EQ(rows.size(), 1u) << ReadFile(errors);
  EXPECT_NE(r.err.find("stopped at the first failure (--fail-fast)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(rows[0].at(0)), std::string::npos) << r.err;
}

TEST(Hostile, ErrorsFileIsHeaderOnlyWhenEveryFileIsClassified) {
  const auto dir = FreshDir("hostile_no_errors");
  const auto errors = dir / "errors.tsv";
  { std::ofstream(errors) << "stale\trow from an earlier run\n"; }
  const auto r = RunVoxsex("predict " + Quote(kData.string()) + " " +
                               Quote((dir / "a.tsv").string()) + " --errors " +
                               Quote(errors.string()),
                           dir);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(ReadFile(errors), "path\treason\n");
}

TEST(Hostile, ErrorsMustNotOverwriteAnotherOutput) {
  const auto dir = FreshDir("hostile_errors_clash");
  const auto answers = dir / "a.tsv";
  auto r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()) +
                         " --errors " + Quote(answers.string()),
                     dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--errors"), std::string::npos) << r.err;
  r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()) +
                    " --errors -",
                dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_FALSE(fs::exists(answers));
}

TEST(Hostile, ClosedStdoutIsAnErrorNotASignal) {
  const auto dir = FreshDir("hostile_sigpipe");
  // `true` exits at once, so by the time the answers are written nobody reads the pipe.
  const std::string cmd = "bash -c " +
                          Quote(Quote(VOXSEX_BIN) + " predict " + Quote(kData.string()) +
                                " - 2>" + Quote((dir / "err.txt").string()) +
                                " | true; exit ${PIPESTATUS[0]}");
  const int rc = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(rc));
  EXPECT_EQ(WEXITSTATUS(rc), 2) << ReadFile(dir / "err.txt");
  EXPECT_NE(ReadFile(dir / "err.txt").find("cannot write to stdout"), std::string::npos)
      << ReadFile(dir / "err.txt");
}

TEST(Hostile, TruncatedOrForeignModelIsAClearErrorWithoutABacktrace) {
  const auto dir = FreshDir("hostile_models");
  const std::string model = ReadFile(voxsex::test::BundledModel());
  ASSERT_GT(model.size(), 1000u);
  const std::map<std::string, std::string> broken = {
      {"truncated.pt", model.substr(0, model.size() / 2)},
      {"header_only.pt", model.substr(0, 64)},
      {"empty.pt", ""},
      {"random.pt", std::string(4096, '\x5a')},
  };
  for (const auto& [name, bytes] : broken) {
    SCOPED_TRACE(name);
    { std::ofstream(dir / name, std::ios::binary) << bytes; }
    const auto answers = dir / "answers.tsv";
    const auto r = RunVoxsex("predict " + Quote(kData.string()) + " " + Quote(answers.string()) +
                                 " --model " + Quote((dir / name).string()),
                             dir);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(name), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("Exception raised from"), std::string::npos) << "backtrace: " << r.err;
    EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(answers));
  }
}

// Bad targets files: train and eval give the file and line, and write nothing.
class BadTargets : public ::testing::Test {
 protected:
  // One directory per test: ctest runs the tests of this suite in parallel.
  void SetUp() override {
    dir_ = FreshDir(std::string("bad_targets_") +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  // Writes targets.tsv (bytes as given) and runs train on the fixture clips with it.
  voxsex::test::RunResult Train(const std::string& targets, const std::string& extra = "") {
    { std::ofstream(dir_ / "targets.tsv", std::ios::binary) << targets; }
    return RunVoxsex("train --targets " + Quote((dir_ / "targets.tsv").string()) +
                         " --audio-dir " + Quote(audio_dir_.string()) + " --init " +
                         Quote(voxsex::test::UntrainedModel()) + " --out " +
                         Quote(Model().string()) +
                         " --epochs 1 --batch-size 2 --threads 2 " + extra,
                     dir_);
  }
  voxsex::test::RunResult Eval(const std::string& targets) {
    { std::ofstream(dir_ / "targets.tsv", std::ios::binary) << targets; }
    return RunVoxsex("eval --targets " + Quote((dir_ / "targets.tsv").string()) + " --answers " +
                         Quote((kData / "expected_answers.tsv").string()),
                     dir_);
  }
  fs::path Model() const { return dir_ / "model.pt"; }

  fs::path dir_;
  fs::path audio_dir_ = kData;
};

TEST_F(BadTargets, MalformedDuplicatedUnknownAndMissingAreErrorsWithTheLine) {
  const std::string ok = "clip_1_aiff24_32k_stereo\t0\nclip_2_flac16_44k1_stereo\t1\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {ok + "clip_3_wav16_16k_mono\t0\textra\n", "targets.tsv:3: expected 'id<TAB>gender'"},
      {ok + "clip_1_aiff24_32k_stereo\t1\n", "targets.tsv:3: duplicate id"},
      {ok + "clip_3_wav16_16k_mono\tmale\n", "targets.tsv:3: unknown label 'male'"},
      {ok + "no_such_clip\t0\n", "targets.tsv:3: no audio file for id 'no_such_clip'"},
  };
  for (const auto& [targets, message] : cases) {
    SCOPED_TRACE(message);
    auto r = Train(targets);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(Model()));
    if (message.find("no audio file") != std::string::npos) continue;  // eval needs no audio
    r = Eval(targets);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
}

TEST_F(BadTargets, CrlfBomAndTrailingWhitespaceAreAccepted) {
  std::string targets = "\xEF\xBB\xBF";
  for (const auto& a : voxsex::ReadAnswers((kData / "expected_answers.tsv").string())) {
    targets += a.id + "\t" + std::to_string(a.gender) + " \t \r\n";
  }
  auto r = Train(targets);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(Model()));
  r = Eval(targets);
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST_F(BadTargets, UnreadableAudioIsSkippedWithACountOrFailsWithStrict) {
  audio_dir_ = dir_ / "audio";
  fs::create_directories(audio_dir_);
  std::string targets;
  for (const auto& a : voxsex::ReadAnswers((kData / "expected_answers.tsv").string())) {
    targets += a.id + "\t" + std::to_string(a.gender) + "\n";
    for (const auto& e : fs::directory_iterator(kData)) {
      if (e.path().stem() == a.id) fs::copy_file(e.path(), audio_dir_ / e.path().filename());
    }
  }
  { std::ofstream(audio_dir_ / "broken.wav") << "not audio"; }
  { std::ofstream(audio_dir_ / "silent.wav", std::ios::binary); }  // replaced below
  ASSERT_EQ(std::system(("sox -n -r 16000 -b 16 " + Quote((audio_dir_ / "silent.wav").string()) +
                         " trim 0 2 2>/dev/null")
                            .c_str()),
            0);
  targets += "broken\t0\nsilent\t1\n";

  auto r = Train(targets, "--strict");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("broken.wav"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("silent.wav"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 of 8 audio files cannot be used (--strict)"), std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(Model()));

  r = Train(targets);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("skipped 2 of 8 audio files"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(Model()));
  EXPECT_TRUE(TempFilesIn(dir_).empty());
}

}  // namespace
