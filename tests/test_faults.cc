// Faults: predict and train killed at many moments leave every output file as it was or whole;
// a directory of 20,000 files runs in flat memory without leaking file descriptors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"
#include "voxsex/tsv.h"

namespace fs = std::filesystem;
using voxsex::test::FreshDir;
using voxsex::test::ReadFile;
using voxsex::test::TempFilesIn;
using Clock = std::chrono::steady_clock;

namespace {

const fs::path kData = VOXSEX_TEST_DATA;

// A started voxsex process: stdout and stderr go to files in `log_dir`. With `max_open_files` > 0
// the child's RLIMIT_NOFILE is lowered to it before exec.
pid_t Spawn(const std::vector<std::string>& args, const fs::path& log_dir,
            rlim_t max_open_files = 0) {
  // Everything the child needs is prepared before fork: it only makes system calls.
  const std::string out = (log_dir / "stdout.txt").string(), err = (log_dir / "stderr.txt").string();
  std::string bin = VOXSEX_BIN;
  std::vector<std::string> copy = args;
  std::vector<char*> argv{bin.data()};
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const rlimit limit{max_open_files, max_open_files};
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    if (max_open_files > 0 && ::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::_exit(126);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for `pid`; returns its wait status and, in `rusage`, its resource use.
int Wait(pid_t pid, rusage* usage = nullptr) {
  int status = 0;
  rusage ignored{};
  ::wait4(pid, &status, 0, usage ? usage : &ignored);
  return status;
}

// Puts `count` links to the fixture clips into `dir`, named n_<clip file name>.
void LinkClips(const fs::path& dir, int count) {
  std::vector<fs::path> clips;
  for (const auto& e : fs::directory_iterator(kData)) {
    if (e.path().filename().string().rfind("clip_", 0) == 0) clips.push_back(e.path());
  }
  std::sort(clips.begin(), clips.end());
  for (int i = 0; i < count; ++i) {
    const fs::path& clip = clips[static_cast<std::size_t>(i) % clips.size()];
    fs::create_symlink(clip, dir / (std::to_string(i) + "_" + clip.filename().string()));
  }
}

// Whether output `index` (its current content given) is a whole new file.
using IsWhole = std::function<bool(std::size_t index, const std::string& content)>;

// Every output is either its old content or a whole new one, all of them old or all new, and no
// temporary file is left beside them; returns true when new.
bool ExpectOldOrWhole(const std::vector<fs::path>& outputs, const std::vector<std::string>& old,
                      const IsWhole& is_whole, const std::string& what) {
  const bool first_new = is_whole(0, ReadFile(outputs[0]));
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const std::string now = ReadFile(outputs[i]);
    const bool whole = now != old[i] && is_whole(i, now);
    EXPECT_TRUE(now == old[i] || whole)
        << what << ": " << outputs[i] << " is neither the old file nor a whole new one ("
        << now.size() << " bytes)";
    EXPECT_EQ(whole, first_new) << what << ": " << outputs[i] << " not replaced with the others";
  }
  EXPECT_TRUE(TempFilesIn(outputs[0].parent_path()).empty()) << what;
  return first_new;
}

struct Kill {
  int signal;
  double at_fraction;  // of the uninterrupted run's wall time
};

// `count` kills spread from 2% to 200% of a full run's time (runs vary under load: the late
// ones make sure some runs end first), with SIGKILL, SIGTERM and SIGINT in turn.
std::vector<Kill> KillSchedule(int count) {
  std::vector<Kill> kills;
  const int signals[] = {SIGKILL, SIGTERM, SIGINT};
  for (int i = 0; i < count; ++i) {
    kills.push_back({signals[i % 3], 0.02 + 1.98 * i / std::max(1, count - 1)});
  }
  return kills;
}

// Runs `args` once to the end (its outputs: `reference`), then again and again killed at moments
// spread over that run's time, checking the outputs each time. `is_whole` is given the reference.
void RunKills(const std::vector<std::string>& args, const std::vector<fs::path>& outputs,
              const fs::path& dir, int num_kills,
              const std::function<bool(const std::vector<std::string>& reference,
                                       std::size_t index, const std::string& content)>& whole_as) {
  for (const auto& o : outputs) fs::remove(o);
  const auto t0 = Clock::now();
  const int status = Wait(Spawn(args, dir));
  const double full_s = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFile(dir / "stderr.txt");
  std::vector<std::string> reference;
  for (const auto& o : outputs) reference.push_back(ReadFile(o));
  const IsWhole is_whole = [&](std::size_t i, const std::string& content) {
    return whole_as(reference, i, content);
  };

  int num_old = 0, num_new = 0;
  for (const Kill& k : KillSchedule(num_kills)) {
    std::vector<std::string> old;
    for (const auto& o : outputs) {
      old.push_back("old " + o.filename().string() + "\n");
      std::ofstream(o, std::ios::binary) << old.back();
    }
    const pid_t pid = Spawn(args, dir);
    std::this_thread::sleep_for(std::chrono::duration<double>(k.at_fraction * full_s));
    ::kill(pid, k.signal);
    const int st = Wait(pid);
    const std::string what = std::string(strsignal(k.signal)) + " at " +
                             std::to_string(k.at_fraction * full_s) + " s";
    // Killed by the signal, or finished first.
    EXPECT_TRUE(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 0))
        << what << ": status " << st << "\n" << ReadFile(dir / "stderr.txt");
    (ExpectOldOrWhole(outputs, old, is_whole, what) ? num_new : num_old)++;
  }
  std::cout << "[ NOTE     ] " << num_old << " kills left the old outputs, " << num_new
            << " found them whole (full run " << full_s << " s)\n";
  // The schedule spans the run: both outcomes happen, so both were checked.
  EXPECT_GT(num_old, 0);
  EXPECT_GT(num_new, 0);
}

TEST(Faults, PredictKilledAtAnyMomentLeavesOutputsOldOrWhole) {
  const auto dir = FreshDir("kill_predict");
  const auto input = dir / "input";
  fs::create_directories(input);
#ifdef __SANITIZE_ADDRESS__
  // Under ASan a run is about four times slower (this test took 15 of CI's 64 minutes with 200
  // clips); with 50 the kills still land both before and after the outputs are replaced (the
  // schedule is in fractions of a full run's time, and the test checks both happen).
  LinkClips(input, 50);
#else
  LinkClips(input, 200);
#endif
  const std::vector<fs::path> outputs = {dir / "answers.tsv", dir / "scores.tsv",
                                         dir / "errors.tsv"};
  // Predict is deterministic: a whole output has the reference's bytes.
  RunKills({"predict", input.string(), outputs[0].string(), "--scores", outputs[1].string(),
            "--errors", outputs[2].string(), "--threads", "2"},
           outputs, dir, 15,
           [](const std::vector<std::string>& reference, std::size_t i,
              const std::string& content) { return content == reference[i]; });
}

TEST(Faults, TrainKilledAtAnyMomentLeavesModelAndLogOldOrWhole) {
  const auto dir = FreshDir("kill_train");
  const std::vector<fs::path> outputs = {dir / "model.pt", dir / "model.training.tsv"};
  const std::string targets = (kData / "expected_answers.tsv").string();
  // The weights are deterministic, but the files record timings: a whole model is one that
  // `voxsex info` loads; a whole log has the reference's number of lines.
  const auto count_lines = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n'); };
  RunKills({"train", "--targets", targets, "--val-targets", targets, "--init",
            voxsex::test::UntrainedModel(), "--out", outputs[0].string(), "--epochs", "4",
            "--batch-size", "3", "--threads", "2", "--seed", "5"},
           outputs, dir, 9,
           [&](const std::vector<std::string>& reference, std::size_t i,
               const std::string& content) {
             if (i == 1) return count_lines(content) == count_lines(reference[1]);
             const auto copy = dir / "check.pt";  // outside the checked directory listing
             { std::ofstream(copy, std::ios::binary) << content; }
             const bool loads =
                 std::system((voxsex::test::Quote(VOXSEX_BIN) + " info " +
                              voxsex::test::Quote(copy.string()) + " >/dev/null 2>&1")
                                 .c_str()) == 0;
             fs::remove(copy);
             return loads;
           });
}

// Peak resident memory (KiB) of predict over `count` links to one 0.5 s clip, run with at most
// `max_open_files` descriptors; checks every file was answered.
long PredictPeakKiB(int count, rlim_t max_open_files) {
  const auto dir = FreshDir("many_files_" + std::to_string(count));
  const auto input = dir / "input", clip = dir / "clip.wav";
  fs::create_directories(input);
  const std::string cut = "sox " + voxsex::test::Quote((kData / "clip_3_wav16_16k_mono.wav").string()) +
                          " " + voxsex::test::Quote(clip.string()) + " trim 1 0.5";
  EXPECT_EQ(std::system(cut.c_str()), 0) << cut;
  for (int i = 0; i < count; ++i) fs::create_symlink(clip, input / (std::to_string(i) + ".wav"));
  const auto answers = dir / "answers.tsv";
  rusage usage{};
  const int status = Wait(Spawn({"predict", input.string(), answers.string(), "--threads", "2"},
                                dir, max_open_files),
                          &usage);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "status " << status << "\n" << ReadFile(dir / "stderr.txt");
  EXPECT_EQ(voxsex::ReadAnswers(answers.string()).size(), static_cast<std::size_t>(count));
  fs::remove_all(input);
  return usage.ru_maxrss;
}

TEST(Faults, TwentyThousandFilesRunInFlatMemoryWithoutLeakingDescriptors) {
  // 64 descriptors: LibTorch, the loader and the reader threads need a few dozen; one leaked per
  // file would run out after a few dozen files, so 2,000 answers already prove there is no leak,
  // and 20,000 that memory stays flat.
  constexpr rlim_t kMaxOpenFiles = 64;
#ifdef __SANITIZE_ADDRESS__
  // AddressSanitizer holds freed memory back (its use-after-free quarantine), so peak RSS says
  // nothing about voxsex here: the ASan build checks the descriptors only, on 500 files (eight
  // times the limit; the 2,000 files it ran before took 112 s under ASan on 2 cores).
  constexpr int kAsanFiles = 500;
  PredictPeakKiB(kAsanFiles, kMaxOpenFiles);
  std::cout << "[ NOTE     ] ASan build: " << kAsanFiles << " files answered with " << kMaxOpenFiles
            << " descriptors; memory flatness (20,000 files) judged in the Release build only\n";
#else
  const long small_kib = PredictPeakKiB(2000, kMaxOpenFiles);
  const long large_kib = PredictPeakKiB(20000, kMaxOpenFiles);
  std::cout << "[ NOTE     ] peak RSS: 2,000 files " << small_kib / 1024 << " MiB, 20,000 files "
            << large_kib / 1024 << " MiB\n";
  // Flat: ten times the files may add the per-file bookkeeping (ids, answers; well under 1 KiB
  // per file), not their audio or features.
  EXPECT_LT(large_kib - small_kib, 20 * 1024) << small_kib << " KiB vs " << large_kib << " KiB";
#endif
}

}  // namespace
