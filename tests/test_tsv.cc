// Tests of the answers/targets TSV contract and meta tables (include/voxsex/tsv.h).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "voxsex/error.h"
#include "voxsex/tsv.h"

namespace fs = std::filesystem;

namespace {

// A fresh empty directory per test under the build tree: <build>/tsv_tmp/<suite>.<test>.
class TsvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(VOXSEX_BUILD_DIR) / "tsv_tmp" /
           (std::string(info->test_suite_name()) + "." + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  std::string Write(const std::string& name, const std::string& content) const {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  // Names of the files in the test directory.
  std::set<std::string> Listing() const {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      names.insert(entry.path().filename().string());
    }
    return names;
  }

  fs::path dir_;
};

// Runs `fn`, expecting an error of kind E (named `kind` in failures) whose message contains
// `expected`; returns the message. Another voxsex::Error kind is a failure.
template <typename E, typename Fn>
std::string ExpectError(const char* kind, Fn fn, const std::string& expected) {
  try {
    fn();
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << expected;
    return e.what();
  } catch (const voxsex::Error& e) {
    ADD_FAILURE() << "expected a " << kind << ", got another error kind: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no " << kind << " thrown; expected one containing: " << expected;
  return "";
}

// Malformed content.
template <typename Fn>
std::string ExpectFormatError(Fn fn, const std::string& expected) {
  return ExpectError<voxsex::FormatError>("FormatError", fn, expected);
}

// A file that cannot be opened, read, created, written or renamed.
template <typename Fn>
std::string ExpectIoError(Fn fn, const std::string& expected) {
  return ExpectError<voxsex::IoError>("IoError", fn, expected);
}

std::vector<std::pair<std::string, int>> Pairs(const std::vector<voxsex::Answer>& answers) {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& a : answers) out.emplace_back(a.id, a.gender);
  return out;
}

using PairList = std::vector<std::pair<std::string, int>>;

TEST_F(TsvTest, ReadsPlainLinesInFileOrder) {
  const std::string path = Write("t.tsv", "b\t1\na\t0\nc\t1\n");
  EXPECT_EQ(Pairs(voxsex::ReadAnswers(path)), (PairList{{"b", 1}, {"a", 0}, {"c", 1}}));
}

TEST_F(TsvTest, AcceptsCrlfBomTrailingWhitespaceBlankLinesAndHeader) {
  const std::string path =
      Write("t.tsv", "\xEF\xBB\xBFid\tgender\r\n\r\na\t0  \r\nb\t1\t\r\n   \n\nc\t0");
  EXPECT_EQ(Pairs(voxsex::ReadAnswers(path)), (PairList{{"a", 0}, {"b", 1}, {"c", 0}}));
  EXPECT_EQ(Pairs(voxsex::ReadTargets(path)), (PairList{{"a", 0}, {"b", 1}, {"c", 0}}));
}

TEST_F(TsvTest, EmptyFileGivesNoAnswers) {
  EXPECT_TRUE(voxsex::ReadAnswers(Write("empty.tsv", "")).empty());
  EXPECT_TRUE(voxsex::ReadAnswers(Write("blank.tsv", "\n\r\n  \n")).empty());
  EXPECT_TRUE(voxsex::ReadAnswers(Write("header.tsv", "id\tgender\n")).empty());
}

TEST_F(TsvTest, AllowDuplicatesReturnsEveryLine) {
  const std::string path = Write("t.tsv", "a\t0\nb\t1\na\t1\n");
  EXPECT_EQ(Pairs(voxsex::ReadAnswers(path, /*allow_duplicates=*/true)),
            (PairList{{"a", 0}, {"b", 1}, {"a", 1}}));
}

struct MalformedCase {
  const char* name;
  const char* content;
  const char* expected;  // message after "<path>:"
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const MalformedCase& c, std::ostream* os) { *os << c.name; }

class TsvMalformedTest : public TsvTest, public ::testing::WithParamInterface<MalformedCase> {};

TEST_P(TsvMalformedTest, ThrowsFormatErrorWithPathAndLine) {
  const std::string path = Write("targets.tsv", GetParam().content);
  ExpectFormatError([&] { voxsex::ReadAnswers(path); }, path + ":" + GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TsvMalformedTest,
    ::testing::Values(
        MalformedCase{"ThreeFields", "a\t0\nb\t0\t1\n",
                      "2: expected 'id<TAB>gender', got 3 fields"},
        MalformedCase{"SpaceNotTab", "a\t0\n\nb 1\n", "3: expected 'id<TAB>gender', got 1 field"},
        MalformedCase{"MissingLabel", "a\t0\nb\t\n", "2: expected 'id<TAB>gender', got 1 field"},
        MalformedCase{"LabelTwo", "a\t2\n", "1: unknown label '2' (expected 0 or 1)"},
        MalformedCase{"LabelFloat", "a\t0\nb\t1.0\n", "2: unknown label '1.0' (expected 0 or 1)"},
        MalformedCase{"LabelWord", "a\tfemale\n", "1: unknown label 'female' (expected 0 or 1)"},
        MalformedCase{"HeaderNotFirst", "a\t0\nid\tgender\n", "2: unknown label 'gender'"},
        MalformedCase{"EmptyId", "a\t0\n\t1\n", "2: empty id"},
        MalformedCase{"Duplicate", "a\t0\nb\t1\n\na\t1\n", "4: duplicate id 'a' (first on line 1)"},
        MalformedCase{"LineNumbersCountBomCrlfAndBlank",
                      "\xEF\xBB\xBFid\tgender\r\n\r\na\t0\r\nb\tx\r\n",
                      "4: unknown label 'x' (expected 0 or 1)"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(TsvTest, UnreadableFileNamesThePath) {
  const std::string missing = (dir_ / "no-such.tsv").string();
  ExpectIoError([&] { voxsex::ReadAnswers(missing); }, missing + ": cannot open");
  const std::string directory = dir_.string();
  ExpectIoError([&] { voxsex::ReadAnswers(directory); }, directory + ": cannot");
  ExpectIoError([&] { voxsex::ReadTable(missing); }, missing + ": cannot open");
}

TEST_F(TsvTest, ReadsRealDevTargets) {
  const fs::path corpus = VOXSEX_CORPUS_DIR;
  const fs::path path = corpus / "dev" / "targets.tsv";
  if (!fs::exists(path)) GTEST_SKIP() << "corpus not found: " << path;
  const std::vector<voxsex::Target> targets = voxsex::ReadTargets(path.string());
  // Counts from voxsex-data/README.md (v2): dev has 407 files; each label agrees with meta.tsv's
  // gender column for that id.
  ASSERT_EQ(targets.size(), 407u);
  std::map<std::string, std::string> meta_gender;
  for (const auto& row : voxsex::ReadTable((corpus / "meta.tsv").string()).rows) {
    if (row.at("split") == "dev") meta_gender[row.at("id")] = row.at("gender");
  }
  EXPECT_EQ(meta_gender.size(), targets.size());
  std::set<std::string> ids;
  for (const auto& t : targets) {
    ids.insert(t.id);
    EXPECT_EQ(t.id.size(), 16u) << t.id;
    EXPECT_EQ(meta_gender[t.id], std::to_string(t.gender)) << t.id;
  }
  EXPECT_EQ(ids.size(), targets.size());
}

TEST_F(TsvTest, WriteAnswersSortsAndRoundTrips) {
  const std::string path = (dir_ / "answers.tsv").string();
  const std::vector<voxsex::Answer> answers = {{"c", 1}, {"a", 1}, {"b", 0}, {"B", 1}};
  voxsex::WriteAnswers(path, answers);
  EXPECT_EQ(Slurp(path), "B\t1\na\t1\nb\t0\nc\t1\n");
  EXPECT_EQ(Pairs(voxsex::ReadAnswers(path)), (PairList{{"B", 1}, {"a", 1}, {"b", 0}, {"c", 1}}));
  EXPECT_EQ(Listing(), (std::set<std::string>{"answers.tsv"}));  // no temporary file left

  voxsex::WriteAnswers(path, {});  // overwrites
  EXPECT_EQ(Slurp(path), "");
  EXPECT_EQ(Listing(), (std::set<std::string>{"answers.tsv"}));
}

TEST_F(TsvTest, WriteFileAtomicHonoursUmaskNotTempFileMode) {
  const mode_t old_mask = ::umask(022);
  const std::string path = (dir_ / "report.json").string();
  voxsex::WriteFileAtomic(path, "{}\n");
  ::umask(old_mask);
  EXPECT_EQ(Slurp(path), "{}\n");
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
}

TEST_F(TsvTest, WritesInCurrentDirectoryWithoutSlash) {
  const fs::path old_cwd = fs::current_path();
  fs::current_path(dir_);
  try {
    voxsex::WriteAnswers("answers.tsv", {{"x", 0}});
  } catch (...) {
    fs::current_path(old_cwd);
    throw;
  }
  fs::current_path(old_cwd);
  EXPECT_EQ(Slurp((dir_ / "answers.tsv").string()), "x\t0\n");
  EXPECT_EQ(Listing(), (std::set<std::string>{"answers.tsv"}));
}

TEST_F(TsvTest, UnwritableDestinationThrowsAndKeepsOldFile) {
  // Destination is a (non-empty) directory: the rename fails.
  const fs::path as_dir = dir_ / "answers.tsv";
  fs::create_directories(as_dir);
  const std::string inside = Write("answers.tsv/old.tsv", "a\t0\n");
  ExpectIoError(
      [&] {
        voxsex::WriteAnswers(as_dir.string(), {{"a", 1}});
      },
      as_dir.string() + ": cannot rename");
  EXPECT_TRUE(fs::is_directory(as_dir));
  EXPECT_EQ(Slurp(inside), "a\t0\n");
  EXPECT_EQ(Listing(), (std::set<std::string>{"answers.tsv"}));  // temporary file removed

  // Parent directory does not exist.
  const std::string no_dir = (dir_ / "no-such-dir" / "answers.tsv").string();
  ExpectIoError(
      [&] {
        voxsex::WriteAnswers(no_dir, {{"a", 1}});
      },
      no_dir + ": cannot create a temporary file beside it: No such file");

  // Parent is a regular file.
  const std::string old = Write("old.tsv", "a\t0\n");
  ExpectIoError([&] { voxsex::WriteFileAtomic(old + "/x.tsv", "x"); }, old + "/x.tsv: ");
  EXPECT_EQ(Slurp(old), "a\t0\n");

  // Invalid answers are rejected before anything is written.
  ExpectFormatError([&] { voxsex::WriteAnswers(old, {{"b", 2}}); }, old + ": cannot write label 2");
  ExpectFormatError([&] { voxsex::WriteAnswers(old, {{"b\tc", 1}}); }, old + ": cannot write id");
  ExpectFormatError([&] { voxsex::WriteAnswers(old, {{"", 1}}); }, old + ": cannot write id");
  EXPECT_EQ(Slurp(old), "a\t0\n");
  EXPECT_EQ(Listing(), (std::set<std::string>{"answers.tsv", "old.tsv"}));
}

// scores.tsv's p_female agrees with the answer at the boundary: 0.49996 would round to 0.5000
// beside a male answer.
TEST(FormatPFemale, FourDecimalsOnTheAnswersSideOfOneHalf) {
  EXPECT_EQ(voxsex::FormatPFemale(0.123456), "0.1235");
  EXPECT_EQ(voxsex::FormatPFemale(0.0), "0.0000");
  EXPECT_EQ(voxsex::FormatPFemale(1.0), "1.0000");
  EXPECT_EQ(voxsex::FormatPFemale(0.99996), "1.0000");
  EXPECT_EQ(voxsex::FormatPFemale(0.5), "0.5000");
  EXPECT_EQ(voxsex::FormatPFemale(0.50004), "0.5000");
  EXPECT_EQ(voxsex::FormatPFemale(0.49996), "0.4999");
  EXPECT_EQ(voxsex::FormatPFemale(0.4999999999), "0.4999");
  EXPECT_EQ(voxsex::FormatPFemale(0.49994), "0.4999");
  EXPECT_EQ(voxsex::FormatPFemale(0.49985), "0.4999");
  for (int i = 0; i <= 100000; ++i) {  // printed >= 0.5 exactly when p >= 0.5
    const double p = 0.49 + 0.02 * i / 100000.0;
    EXPECT_EQ(std::stod(voxsex::FormatPFemale(p)) >= 0.5, p >= 0.5) << p;
  }
}

TEST_F(TsvTest, ReadTableWithBomCrlfAndBlankLines) {
  const std::string path =
      Write("meta.tsv", "\xEF\xBB\xBFid\tsource\tage_group\r\n\r\na\tx\tchild\r\nb\ty\t\r\n\r\n");
  const voxsex::Table table = voxsex::ReadTable(path);
  EXPECT_EQ(table.columns, (std::vector<std::string>{"id", "source", "age_group"}));
  ASSERT_EQ(table.rows.size(), 2u);
  EXPECT_EQ(table.rows[0].at("id"), "a");
  EXPECT_EQ(table.rows[0].at("source"), "x");
  EXPECT_EQ(table.rows[0].at("age_group"), "child");
  EXPECT_EQ(table.rows[1].at("age_group"), "");  // empty last field
}

TEST_F(TsvTest, ReadTableErrors) {
  const std::string short_row = Write("a.tsv", "id\tsource\na\tx\n\nb\n");
  ExpectFormatError([&] { voxsex::ReadTable(short_row); },
                    short_row + ":4: expected 2 fields as in the header (line 1), got 1");
  const std::string long_row = Write("b.tsv", "id\tsource\na\tx\ty\n");
  ExpectFormatError([&] { voxsex::ReadTable(long_row); }, long_row + ":2: expected 2 fields");
  const std::string empty = Write("c.tsv", "\r\n\n");
  ExpectFormatError([&] { voxsex::ReadTable(empty); }, empty + ": empty, expected a header line");
  const std::string dup = Write("d.tsv", "id\tid\n");
  ExpectFormatError([&] { voxsex::ReadTable(dup); }, dup + ":1: duplicate column 'id'");
}

TEST_F(TsvTest, ReadsRealMetaTable) {
  const fs::path path = fs::path(VOXSEX_CORPUS_DIR) / "meta.tsv";
  if (!fs::exists(path)) GTEST_SKIP() << "corpus not found: " << path;
  const voxsex::Table table = voxsex::ReadTable(path.string());
  // voxsex-data/README.md (v2): its columns, 8,963 files, 2,974 of them from corpus v1.
  EXPECT_EQ(table.columns,
            (std::vector<std::string>{"id", "split", "source", "speaker", "gender", "age_group",
                                      "duration_s", "age", "language", "v1"}));
  EXPECT_EQ(table.rows.size(), 8963u);
  long v1 = 0;
  for (const auto& row : table.rows) v1 += row.at("v1") == "yes";
  EXPECT_EQ(v1, 2974);
}

}  // namespace

namespace {

// What a forked child did: its wait status and what it wrote to the pipe it was given.
struct ChildRun {
  int status = 0;
  std::string written;
};

// Runs `body(pipe_fd)` in a forked child that then exits with status 0.
template <typename Body>
ChildRun RunInChild(Body body) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    body(fds[1]);
    ::_exit(0);
  }
  ::close(fds[1]);
  ChildRun run;
  char buffer[256];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0) run.written.append(buffer, n);
  ::close(fds[0]);
  ::waitpid(pid, &run.status, 0);
  return run;
}

// Writes text for the parent to check. gtest cannot report a failure from a forked child, so a
// short write ends the child with status 3, which every parent check then reports.
void Say(int fd, const std::string& text) {
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) ::_exit(3);
}

// A thread that started before any hold, so its signal mask blocks nothing (as LibTorch's workers).
void StartIdleWorker() {
  std::thread([] {
    for (;;) ::pause();
  }).detach();
}

}  // namespace

// The failure this guards against: a SIGTERM sent to the process while WriteFilesAtomic renamed
// train's model and log landed on a LibTorch worker thread, which did not block it, and ended the
// process between the two renames.
TEST(TerminationHold, SignalLandingOnAnotherThreadWaitsForTheHoldToEnd) {
  const ChildRun run = RunInChild([](int fd) {
    voxsex::DeferTerminationDuringAtomicWrites();
    StartIdleWorker();
    {
      voxsex::TerminationHold hold;
      ::kill(::getpid(), SIGTERM);
      ::usleep(200 * 1000);  // the worker, the only thread not blocking it, takes the signal
      Say(fd, "end of hold;");
    }
    Say(fd, "after the hold");
  });
  EXPECT_EQ(run.written, "end of hold;");
  ASSERT_TRUE(WIFSIGNALED(run.status)) << "status " << run.status;
  EXPECT_EQ(WTERMSIG(run.status), SIGTERM);
}

TEST(TerminationHold, SignalOutsideAHoldEndsTheProcessAtOnce) {
  const ChildRun run = RunInChild([](int fd) {
    voxsex::DeferTerminationDuringAtomicWrites();
    StartIdleWorker();
    ::kill(::getpid(), SIGINT);
    ::usleep(500 * 1000);
    Say(fd, "still running");
  });
  EXPECT_EQ(run.written, "");
  ASSERT_TRUE(WIFSIGNALED(run.status)) << "status " << run.status;
  EXPECT_EQ(WTERMSIG(run.status), SIGINT);
}

TEST(TerminationHold, IgnoredSignalStaysIgnored) {  // nohup's SIGHUP
  const ChildRun run = RunInChild([](int fd) {
    ::signal(SIGHUP, SIG_IGN);
    voxsex::DeferTerminationDuringAtomicWrites();
    ::kill(::getpid(), SIGHUP);
    {
      voxsex::TerminationHold hold;
      ::kill(::getpid(), SIGHUP);
    }
    Say(fd, "still running");
  });
  EXPECT_EQ(run.written, "still running");
  EXPECT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0) << "status " << run.status;
}
