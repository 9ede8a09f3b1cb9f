// `voxsex eval`: score answers against targets, overall and by group.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace voxsex::cli {

struct EvalOptions {
  std::string targets_path;
  std::string answers_path;
  std::string meta_path;            // optional meta.tsv (id column + group columns)
  std::vector<std::string> by;      // group columns, e.g. {"source", "age_group"}
  std::string json_path;            // optional JSON report, written atomically
};

// Adds the `eval` subcommand to `app`, binding its flags to `opts`. Returns the subcommand.
CLI::App* setup_eval(CLI::App& app, EvalOptions& opts);

// Runs eval; prints the report on stdout. Returns the exit status: 0 report produced,
// 2 usage or input error (unreadable or malformed targets/answers/meta, unknown --by column).
int run_eval(const EvalOptions& opts);

}  // namespace voxsex::cli
