// `voxsex info`: show what a model file says about itself; and the text of `voxsex --version`.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace voxsex::cli {

struct InfoOptions {
  std::string model_path;  // "" = the bundled model (DefaultModelPath())
  bool json = false;       // print the raw metadata JSON instead of the summary
};

// Adds the `info` subcommand to `app`, binding its arguments to `opts`. Returns the subcommand.
CLI::App* setup_info(CLI::App& app, InfoOptions& opts);

// Loads the model and prints its metadata on stdout: architecture and parameter count, format
// version, labels, front-end options, training data (targets, file counts per class), training
// options (epochs, batch size, seed, ensemble members, augmentation), validation metrics, the
// voxsex version that wrote it and the training date. Fields the file lacks are left out.
// --json prints the metadata exactly as stored (`_extra_files["voxsex.json"]`).
// Returns 0, or 2 (error logged) when the model is missing, not TorchScript or not a voxsex model.
int run_info(const InfoOptions& opts);

// The text of `voxsex --version`: "voxsex X.Y.Z", then the default model's path, architecture,
// training date, training files and validation balanced accuracy, or "bundled model: not found",
// or the reason it cannot be read. Never throws.
std::string VersionText();

}  // namespace voxsex::cli
