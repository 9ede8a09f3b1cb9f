// Speech-frame selection (an energy voice-activity detector on log-mel frames): frames without
// speech do not vote in the classification, and a file without speech is flagged.
#pragma once

#include <string>
#include <vector>

#include "voxsex/mel.h"

namespace voxsex {

// A frame is speech when its energy (10 log10 of the sum of its mel band powers from first_band
// up, dB) is
//   >= loudest frame - dynamic_range_db   and   >= background + background_margin_db,
// where background is the background_percentile-th percentile of the file's frame energies
// (stationary noise sits near it; speech rises above it). Stored in the model's metadata
// ("vad"), so training and predict select frames the same way.
struct VadOptions {
  // Lowest mel band counted: the bands below hold a DC offset's leakage and mains hum rather than
  // speech (with 64 Slaney bands over 0-8 kHz, band 4 starts near 190 Hz).
  int first_band = 4;
  double dynamic_range_db = 40.0;
  double background_percentile = 10.0;  // in [0, 100]
  double background_margin_db = 6.0;
  // Fewer speech frames than this: the file is flagged no_speech and every frame is used.
  int min_speech_frames = 20;  // 0.2 s at a 10 ms hop
  // True: only the speech frames reach the model. False: the model sees every frame and the
  // detector only measures speech (speech_s, no_speech, and which blocks of a file vote).
  bool drop_non_speech = true;

  // Throws ConfigError when a field is out of range.
  void Validate() const;
  std::string ToString() const;
};

// The outcome of SelectSpeech on one log-mel.
struct SpeechSelection {
  std::vector<int> frames;  // indices of the frames kept, increasing; never empty for input >= 1 frame
  int num_speech_frames = 0;  // frames that passed the thresholds (0 when no_speech)
  bool no_speech = false;   // fewer than min_speech_frames passed: `frames` holds every frame
};

// Per-frame energies of `log_mel` as SelectSpeech measures them: 10 log10 of the sum of the mel
// band powers (exp of the log-mel values) from first_band up, dB; [num_frames]. Never throws.
std::vector<double> FrameEnergiesDb(const LogMel& log_mel, int first_band);

// The `percentile`-th percentile (0-100) of `values`: the element of rank
// round(percentile / 100 * (size - 1)) in increasing order; NaN when `values` is empty.
double PercentileOf(std::vector<double> values, double percentile);

// Selects the speech frames of `log_mel` (log(mel power + log_offset), [num_frames x num_mels]).
// Never throws; a log-mel of 0 frames gives no frames and no_speech.
SpeechSelection SelectSpeech(const LogMel& log_mel, const VadOptions& opts);

// The same on frame energies already measured (FrameEnergiesDb(log_mel, opts.first_band)).
SpeechSelection SelectSpeech(const std::vector<double>& energy_db, const VadOptions& opts);

// The rows `frames` of `log_mel`, in that order: [frames.size() x num_mels].
LogMel KeepFrames(const LogMel& log_mel, const std::vector<int>& frames);

}  // namespace voxsex
