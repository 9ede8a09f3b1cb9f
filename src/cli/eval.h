// `voxsex eval`: score answers against targets, overall and by group.
#pragma once

#include "voxsex/eval.h"

namespace CLI {
class App;
}

namespace voxsex::cli {

// Adds the `eval` subcommand to `app`, binding its flags to `opts`. Returns the subcommand.
CLI::App* setup_eval(CLI::App& app, EvalOptions& opts);

// Runs eval: Evaluate, then prints the report on stdout (inputs, missing/extra/duplicate ids,
// overall metrics: files, accuracy with its Wilson 95% interval, balanced accuracy, recall per
// class; the confusion matrix; the ECE with --scores; one table per --by column), then
// WriteEvaluation (--json, --report). See include/voxsex/eval.h for what is read and written.
//
// Errors are logged with spdlog. Returns the exit status: 0 report produced, 2 usage, input or
// output error (unreadable or malformed targets/answers/meta/scores/training log, unknown --by
// column, report directory or file not writable).
int run_eval(const EvalOptions& opts);

}  // namespace voxsex::cli
