// Energy voice-activity detection on log-mel frames: a relative threshold below the loudest frame
// and a margin above a percentile background estimate (the classic two-threshold energy VAD; see
// e.g. Kaldi's compute-vad, which thresholds log energy relative to the mean).
#include "voxsex/vad.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "voxsex/error.h"

namespace voxsex {

void VadOptions::Validate() const {
  if (!(dynamic_range_db > 0 && dynamic_range_db <= 120)) {
    throw ConfigError("VAD dynamic_range_db must be in (0, 120]");
  }
  if (!(background_percentile >= 0 && background_percentile <= 100)) {
    throw ConfigError("VAD background_percentile must be in [0, 100]");
  }
  if (!(background_margin_db >= 0 && background_margin_db <= 60)) {
    throw ConfigError("VAD background_margin_db must be in [0, 60]");
  }
  if (min_speech_frames < 1) throw ConfigError("VAD min_speech_frames must be >= 1");
  if (first_band < 0 || first_band > 64) throw ConfigError("VAD first_band must be in [0, 64]");
}

std::string VadOptions::ToString() const {
  std::ostringstream s;
  s << "VadOptions(first_band=" << first_band << ", dynamic_range_db=" << dynamic_range_db
    << ", background_percentile=" << background_percentile
    << ", background_margin_db=" << background_margin_db
    << ", min_speech_frames=" << min_speech_frames << ", drop_non_speech=" << drop_non_speech
    << ")";
  return s.str();
}

std::vector<double> FrameEnergiesDb(const LogMel& log_mel, int first_band) {
  std::vector<double> energy_db(static_cast<std::size_t>(std::max(log_mel.num_frames, 0)));
  if (log_mel.num_mels <= 0) return energy_db;
  const int from = std::clamp(first_band, 0, log_mel.num_mels - 1);
  for (int t = 0; t < log_mel.num_frames; ++t) {
    const float* f = log_mel.frame(t);
    double sum = 0.0;
    for (int m = from; m < log_mel.num_mels; ++m) sum += std::exp(static_cast<double>(f[m]));
    energy_db[static_cast<std::size_t>(t)] = 10.0 * std::log10(std::max(sum, 1e-30));
  }
  return energy_db;
}

double PercentileOf(std::vector<double> values, double percentile) {
  if (values.empty()) return std::nan("");
  const auto k = static_cast<std::size_t>(
      std::lround(percentile / 100.0 * static_cast<double>(values.size() - 1)));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return values[k];
}

SpeechSelection SelectSpeech(const LogMel& log_mel, const VadOptions& opts) {
  if (log_mel.num_mels <= 0) return SelectSpeech(std::vector<double>{}, opts);
  return SelectSpeech(FrameEnergiesDb(log_mel, opts.first_band), opts);
}

SpeechSelection SelectSpeech(const std::vector<double>& energy_db, const VadOptions& opts) {
  SpeechSelection sel;
  const int t_max = static_cast<int>(energy_db.size());
  if (t_max <= 0) {
    sel.no_speech = true;
    return sel;
  }
  const double background = PercentileOf(energy_db, opts.background_percentile);
  const double loudest = *std::max_element(energy_db.begin(), energy_db.end());
  const double threshold =
      std::max(loudest - opts.dynamic_range_db, background + opts.background_margin_db);
  for (int t = 0; t < t_max; ++t) {
    if (energy_db[static_cast<std::size_t>(t)] >= threshold) sel.frames.push_back(t);
  }
  sel.num_speech_frames = static_cast<int>(sel.frames.size());
  if (sel.num_speech_frames < opts.min_speech_frames) {
    sel.no_speech = true;
    sel.num_speech_frames = 0;
    sel.frames.resize(t_max);
    for (int t = 0; t < t_max; ++t) sel.frames[t] = t;
  }
  return sel;
}

LogMel KeepFrames(const LogMel& log_mel, const std::vector<int>& frames) {
  LogMel out;
  out.num_mels = log_mel.num_mels;
  out.num_frames = static_cast<int>(frames.size());
  out.data.resize(frames.size() * static_cast<std::size_t>(log_mel.num_mels));
  for (std::size_t i = 0; i < frames.size(); ++i) {
    std::copy_n(log_mel.frame(frames[i]), log_mel.num_mels,
                out.data.begin() + static_cast<std::ptrdiff_t>(i * log_mel.num_mels));
  }
  return out;
}

}  // namespace voxsex
