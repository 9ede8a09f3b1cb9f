// Drawing an eval report's pictures with scripts/eval/plot_report.py (src/plot_report.h).
#include "plot_report.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "install_paths.h"

namespace voxsex {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultPython = "/usr/bin/python3";
constexpr const char* kPlotScript = "plot_report.py";
// Exit status of plot_report.py when matplotlib cannot be imported (EXIT_NO_MATPLOTLIB there).
constexpr int kPlotNoMatplotlib = 3;

// Where plot_report.py is looked for (see DrawPictures).
std::vector<InstallDir> PlotScriptDirs() {
  if (const char* env = std::getenv("VOXSEX_SCRIPTS_DIR"); env != nullptr && *env != '\0') {
    return {{InstallBase::kAbsolute, env}};
  }
  return {{InstallBase::kExecutableDir, "../share/voxsex/scripts"},
          {InstallBase::kExecutableDir, "../scripts/eval"},
          {InstallBase::kExecutableDir, "../../scripts/eval"}};
}

// Single-quotes `arg` for /bin/sh, for logging a command line that can be pasted.
std::string ShellQuote(const std::string& arg) {
  std::string quoted = "'";
  for (const char ch : arg) quoted += (ch == '\'') ? std::string("'\\''") : std::string(1, ch);
  return quoted + "'";
}

// Runs argv[0] with `argv` (no shell), its stdout sent to our stderr so stdout keeps only the
// report. Returns "" on exit status 0, else what went wrong.
std::string RunProgram(const std::vector<std::string>& argv) {
  std::string command_line;
  for (const std::string& arg : argv) {
    command_line += (command_line.empty() ? "" : " ") + ShellQuote(arg);
  }
  spdlog::debug("eval: running {}", command_line);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  std::cout.flush();
  pid_t pid = 0;
  const int err = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return fmt::format("cannot run {}: {}", argv[0], std::strerror(err));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return fmt::format("cannot wait for {}: {}", argv[0], std::strerror(errno));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (WIFEXITED(status) && WEXITSTATUS(status) == kPlotNoMatplotlib) {
    return fmt::format("{} cannot import matplotlib (install python3-matplotlib)", argv[0]);
  }
  const std::string how = WIFEXITED(status)
                              ? fmt::format("exited with status {}", WEXITSTATUS(status))
                              : fmt::format("was killed by signal {}", WTERMSIG(status));
  return fmt::format("{} {} (command: {})", argv[1], how, command_line);
}

}  // namespace

Pictures DrawPictures(const PlotRequest& request) {
  const fs::path dir = request.out_dir;
  std::vector<std::string> expected = {kConfusionPng};
  if (request.with_groups) expected.push_back(kAccuracyByGroupPng);
  if (request.with_calibration) expected.push_back(kReliabilityPng);
  if (!request.training_log_path.empty()) expected.push_back(kLearningCurvesPng);
  // Pictures of an earlier report in the same directory must not be linked as if new.
  for (const char* name : {kConfusionPng, kAccuracyByGroupPng, kReliabilityPng, kLearningCurvesPng}) {
    std::error_code ec;
    fs::remove(dir / name, ec);
  }

  Pictures pictures;
  const char* python_env = std::getenv("VOXSEX_PYTHON");
  const std::string python =
      (python_env != nullptr && *python_env != '\0') ? python_env : kDefaultPython;
  if (::access(python.c_str(), X_OK) != 0) {
    pictures.problem =
        python + " not found (install python3 and python3-matplotlib, e.g. scripts/setup.sh)";
    return pictures;
  }
  const InstalledFile script = FindInstalledFile(kPlotScript, PlotScriptDirs());
  if (script.path.empty()) {
    std::string searched;
    for (const std::string& path : script.searched) searched += (searched.empty() ? "" : ", ") + path;
    pictures.problem =
        std::string(kPlotScript) + " not found (looked in: " + searched + "; set VOXSEX_SCRIPTS_DIR)";
    return pictures;
  }

  std::vector<std::string> argv = {python, script.path, request.report_json_path, request.out_dir};
  if (!request.training_log_path.empty()) {
    argv.push_back("--training-log");
    argv.push_back(request.training_log_path);
  }
  pictures.problem = RunProgram(argv);
  std::string not_made;
  for (const std::string& name : expected) {
    std::error_code ec;
    if (fs::is_regular_file(dir / name, ec) && fs::file_size(dir / name, ec) > 0) {
      pictures.made.push_back(name);
    } else {
      not_made += (not_made.empty() ? "" : ", ") + name;
    }
  }
  if (pictures.problem.empty() && !not_made.empty()) {
    pictures.problem = script.path + " did not write " + not_made;
  }
  return pictures;
}

}  // namespace voxsex
