// voxsex: speaker-gender classification from the command line.
#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <string>

#include "cli/eval.h"
#include "cli/info.h"
#include "cli/predict.h"
#include "cli/segment.h"
#include "cli/train.h"
#include "voxsex/tsv.h"

namespace {

constexpr const char* kExitCodes =
    "Exit status:\n"
    "  0  success\n"
    "  1  some input audio files failed, each named on stderr with the reason: predict (and segment)\n"
    "     classified and wrote the rest (with --fail-fast they stopped and wrote only --errors);\n"
    "     train skipped them and wrote the model (with --strict it stopped and wrote nothing)\n"
    "  2  usage, configuration, targets/answers file, model or output error; nothing written\n"
    "No other status: not even a bad file ends voxsex with a signal or an abort.";

}  // namespace

// jemalloc's options, read once at its start when the executable is linked with it (CMake's
// VOXSEX_JEMALLOC) and an unused string otherwise; MALLOC_CONF in the environment still overrides
// them (https://jemalloc.net/jemalloc.3.html, "TUNING"). By default jemalloc 5.3 gives freed pages
// back to the kernel (dirty pages after 10 s, and allocations of 8 MiB and more at once), and
// LibTorch frees and reallocates its large tensors on every batch, so training faulted the same
// pages in again and again: 2-4.5x slower training epochs and 3.2x slower predict on this
// project's machine (models/README.md, round 8; scripts/bench/bench.sh, allocator rows), for
// 9-16% less peak resident memory than keeping them costs (README.md, Speed).
extern "C" {
// NOLINTNEXTLINE(readability-identifier-naming): the name jemalloc looks up.
const char* malloc_conf = "dirty_decay_ms:-1,muzzy_decay_ms:-1";
}

int main(int argc, char** argv) {
  // Writing to a closed pipe (`voxsex predict dir - | head`) must be an error the command reports
  // with status 2, not death by SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  // Ctrl-C or SIGTERM while outputs are renamed into place waits for the renames, whichever
  // thread (LibTorch's workers included) the signal lands on.
  voxsex::DeferTerminationDuringAtomicWrites();
  auto logger = spdlog::stderr_color_mt("voxsex");
  logger->set_pattern("%^[%l]%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::cfg::load_env_levels();

  CLI::App app{"voxsex: speaker-gender classification (0 = male, 1 = female) of audio files"};
  app.require_subcommand(1);
  // A callback: the bundled model is only loaded when --version is asked for.
  app.set_version_flag("--version", std::function<std::string()>(voxsex::cli::VersionText),
                       "Print the version and the bundled model's summary, then exit");
  app.set_help_all_flag("--help-all", "Print help for every subcommand, then exit");
  app.footer(kExitCodes);
  bool quiet = false;
  int verbose = 0;
  app.add_flag("-q,--quiet", quiet, "Only print warnings and errors");
  app.add_flag("-v,--verbose", verbose, "More detail (debug messages)");

  voxsex::cli::PredictOptions predict_opts;
  voxsex::cli::SegmentOptions segment_opts;
  voxsex::TrainOptions train_opts;
  voxsex::SpeechDetectorTrainOptions train_vad_opts;
  voxsex::EvalOptions eval_opts;
  voxsex::cli::InfoOptions info_opts;
  voxsex::CalibrateOptions calibrate_opts;
  voxsex::EnsembleOptions ensemble_opts;
  CLI::App* predict = voxsex::cli::setup_predict(app, predict_opts);
  CLI::App* segment = voxsex::cli::setup_segment(app, segment_opts);
  CLI::App* train = voxsex::cli::setup_train(app, train_opts);
  CLI::App* train_vad = voxsex::cli::setup_train_vad(app, train_vad_opts);
  CLI::App* eval = voxsex::cli::setup_eval(app, eval_opts);
  CLI::App* info = voxsex::cli::setup_info(app, info_opts);
  CLI::App* calibrate = voxsex::cli::setup_calibrate(app, calibrate_opts);
  CLI::App* ensemble = voxsex::cli::setup_ensemble(app, ensemble_opts);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (quiet) spdlog::set_level(spdlog::level::warn);
  if (verbose > 0) spdlog::set_level(spdlog::level::debug);

  try {  // the commands catch voxsex::Error; anything else still ends with status 2, not abort
    if (predict->parsed()) return voxsex::cli::run_predict(predict_opts);
    if (segment->parsed()) return voxsex::cli::run_segment(segment_opts);
    if (train->parsed()) return voxsex::cli::run_train(train_opts);
    if (train_vad->parsed()) return voxsex::cli::run_train_vad(train_vad_opts);
    if (eval->parsed()) return voxsex::cli::run_eval(eval_opts);
    if (info->parsed()) return voxsex::cli::run_info(info_opts);
    if (calibrate->parsed()) return voxsex::cli::run_calibrate(calibrate_opts);
    if (ensemble->parsed()) return voxsex::cli::run_ensemble(ensemble_opts);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
  } catch (...) {
    spdlog::error("unexpected error of an unknown kind");
  }
  return 2;
}
