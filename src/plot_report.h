// Drawing the pictures of an eval report with scripts/eval/plot_report.py (python3 + matplotlib).
// Internal to the library (src/eval.cc).
#pragma once

#include <string>
#include <vector>

namespace voxsex {

// The pictures plot_report.py may draw, in the order report.md shows them.
inline constexpr const char* kConfusionPng = "confusion.png";
inline constexpr const char* kAccuracyByGroupPng = "accuracy_by_group.png";
inline constexpr const char* kReliabilityPng = "reliability.png";
inline constexpr const char* kLearningCurvesPng = "learning_curves.png";

// What to draw, and from what.
struct PlotRequest {
  std::string report_json_path;   // report.json (EvaluationJson), already written
  std::string out_dir;            // where the PNG files go (exists)
  std::string training_log_path;  // training.tsv for learning_curves.png; "" = none
  bool with_groups = false;       // report.json has "by" columns: accuracy_by_group.png
  bool with_calibration = false;  // report.json has "calibration": reliability.png
};

// The outcome of DrawPictures.
struct Pictures {
  std::vector<std::string> made;  // file names (in out_dir) of the pictures written, in order
  std::string problem;            // why some or all were not made; "" when all were
};

// Removes the four pictures from out_dir (an earlier report's must not be linked as new), then
// runs `<python> plot_report.py REPORT_JSON OUT_DIR [--training-log LOG]` without a shell, its
// stdout sent to our stderr. python is $VOXSEX_PYTHON if set, else /usr/bin/python3; the script
// is looked for in $VOXSEX_SCRIPTS_DIR if set (only there), else <exe dir>/../share/voxsex/scripts,
// <exe dir>/../scripts/eval, <exe dir>/../../scripts/eval. A picture counts as made when it is a non-empty
// file afterwards. No errors: a missing python, matplotlib (script exit status 3) or script, a
// failed run, or an expected picture not written is described in Pictures::problem.
Pictures DrawPictures(const PlotRequest& request);

}  // namespace voxsex
