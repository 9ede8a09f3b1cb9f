// `voxsex predict`: classify every audio file in a directory and write answers.tsv.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace voxsex::cli {

struct PredictOptions {
  std::string input_dir;
  std::string answers_path;
  std::string model_path;  // "" = bundled model
  int num_threads = 0;     // 0 = all cores
  int batch_size = 32;
};

CLI::App* setup_predict(CLI::App& app, PredictOptions& opts);
// Returns 0 when every file was classified, 1 when some failed (the rest written), 2 on a usage,
// model or output error.
int run_predict(const PredictOptions& opts);

}  // namespace voxsex::cli
