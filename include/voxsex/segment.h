// Who speaks when, by gender: a long recording cut into male and female speech segments.
//
// A file is streamed (AudioStream) and its log-mel computed block by block with enough context
// that the frames equal those of the whole file (MelFrontend). Per 10 ms frame:
//   - speech: by default the bundled learned speech detector (SpeechDetector, a small dilated
//     convolutional network over the log-mel of each block of vad_block_s seconds; its logit
//     against a threshold); or, with vad_model "energy", the model's energy VAD (SelectSpeech
//     with the card's VadOptions) on those blocks (its background percentile taken per block)
//     and, with vad_floor_window_s, above a noise floor tracked over a sliding window;
//   - female log-odds: the mean logit margin (logit_female - logit_male) of the sliding windows
//     (window_s long, every hop_s) that cover the frame and hold speech, each window classified by
//     GenderModel::Predict (batched; the model's own VAD drops the window's silent frames);
// then a 3-state HMM (non-speech, male, female) decoded with Viterbi, as inaSpeechSegmenter
// smooths its frame decisions (Doukhan et al., ICASSP 2018;
// https://github.com/ina-foss/inaSpeechSegmenter/blob/master/inaSpeechSegmenter/viterbi.py):
// emission log-probabilities log(1 - vad_error) / log(vad_error) for the VAD decision and
// log p / log(1 - p) with p = PFemale(log-odds, temperature) for the gender, and a cost of
// switch_penalty nats for every change of state. A pause inside a turn, a non-speech run shorter
// than max_pause_s between two speech runs of the same label, then becomes speech, as pyannote's
// Binarize fills inactive regions shorter than min_duration_off
// (https://github.com/pyannote/pyannote-audio/blob/main/pyannote/audio/utils/signal.py); unlike
// the hangover of classic VADs, a turn's end is not extended into the gap after it, and between
// a male and a female run the non-speech stays (a change of speaker).
// Speech segments shorter than min_segment_s then take the label of their longer touching speech
// neighbour, or are dropped when they touch none; adjacent same-label pieces are merged.
// Overlapped speech is out of scope: each frame gets one label.
#pragma once

#include <cstddef>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "voxsex/audio.h"
#include "voxsex/mel.h"
#include "voxsex/model.h"

namespace torch::jit {
struct Module;
}  // namespace torch::jit

namespace voxsex {

inline constexpr const char* kSpeechDetectorFile = "voxsex-vad.pt";  // the bundled detector
inline constexpr const char* kSpeechDetectorMetadataName = "voxsex_vad.json";
inline constexpr const char* kEnergyDetector = "energy";

// A learned speech detector (scripts/model/train_vad.py): a TorchScript module mapping a log-mel
// [1, num_mels, frames] to speech logits [frames], one per 10 ms frame, with the extra file
// voxsex_vad.json: {"format": "voxsex-speech-detector", "front_end": {the MelOptions fields, as
// in a model's card}, "threshold": logit threshold, ...}.
class SpeechDetector {
 public:
  // Throws ModelError (naming the path) when the file is missing, is not TorchScript, lacks or
  // has invalid metadata, or was made for another front end than `mel` (the gender model's).
  static SpeechDetector Load(const std::string& path, const MelOptions& mel);

  // Speech logits of each frame of `log_mel` ([frames x num_mels]) -> [frames]. Throws
  // ModelError when the module fails or returns another shape.
  std::vector<float> Logits(const LogMel& log_mel) const;

  double threshold = 0.0;  // a frame is speech when its logit >= threshold
  const std::string& path() const { return path_; }

 private:
  std::shared_ptr<torch::jit::Module> module_;
  MelOptions mel_;
  std::string path_;
};

// The bundled speech detector: $VOXSEX_VAD_MODEL if set, else FindBundledModel(kSpeechDetectorFile);
// empty when none is found.
std::string DefaultSpeechDetectorPath();

struct SegmenterOptions {
  double window_s = 1.5;        // sliding gender window length, seconds
  double hop_s = 0.75;          // between window starts, seconds (<= window_s)
  double vad_block_s = 30.0;    // frames per VAD decision block, seconds
  // Energy detector (vad_model "energy"): overrides the card's VadOptions::dynamic_range_db
  // (frames this far under the block's loudest are not speech); 0 keeps the card's.
  double vad_dynamic_range_db = 35.0;
  // The noise floor tracked locally: a frame is speech only when it is also vad_floor_margin_db
  // over the card's background_percentile-th percentile of the frame energies within
  // vad_floor_window_s seconds around it (inside its VAD block; the percentile is updated every
  // 0.1 s). A speaker recorded with a higher floor than the block's quietest stretch then has
  // their pauses found; after minimum-statistics noise tracking (R. Martin, "Noise power spectral
  // density estimation based on optimal smoothing and minimum statistics", IEEE Trans. Speech
  // Audio Process. 9(5), 2001), on the frame energy SelectSpeech measures (FrameEnergiesDb).
  // vad_floor_window_s 0 = the block's floor only. Defaults chosen on dev conversations (README,
  // segment).
  double vad_floor_window_s = 3.0;
  double vad_floor_margin_db = 10.0;
  // A learned detector's speech frames are also cleared by that local noise floor (the same
  // vad_floor_window_s and vad_floor_margin_db; nothing when vad_floor_window_s is 0): its logit
  // sees 0.61 s of context, too little to tell a recording's pauses from its quiet speech.
  bool vad_floor_gate = false;
  // The speech detector: "" the bundled learned one (DefaultSpeechDetectorPath()), "energy"
  // (kEnergyDetector) the energy detector above, else the path of a SpeechDetector file.
  std::string vad_model;
  // A learned detector's frame is speech when its logit is >= this; NaN: the detector's own
  // threshold (its metadata).
  double vad_threshold = std::numeric_limits<double>::quiet_NaN();
  double vad_error = 0.1;       // emission: probability that the VAD decision of a frame is wrong
  double switch_penalty = 20.0;  // nats per change of HMM state
  // Non-speech runs shorter than this (seconds) between two speech runs of the same label become
  // speech (pauses inside a turn); 0 bridges nothing. The default, 0.3 s, is the NIST Rich
  // Transcription convention: pauses of 0.3 s or more end a stretch of speech.
  double max_pause_s = 0.3;
  double min_segment_s = 0.25;  // speech segments shorter than this are relabelled or dropped
  double max_file_duration_s = 24.0 * 3600.0;  // longer files fail (stops a runaway stream)

  // Throws ConfigError when a field is out of range.
  void Validate() const;
  std::string ToString() const;
};

// One labelled speech segment, times in seconds from the file start.
struct Segment {
  double start_s = 0.0;
  double end_s = 0.0;
  int gender = 0;          // 0 male, 1 female
  float p_female = 0.0f;   // PFemale of the mean frame log-odds over the segment (calibrated)
};

// One file's segmentation.
struct SegmentResult {
  std::string path;
  std::string id;            // file name without extension
  std::string error;         // non-empty: failed; names the file and the reason
  double duration_s = 0.0;   // of the decoded audio
  std::vector<Segment> segments;  // in time order, non-overlapping
  bool done = false;         // segmented (segments may be empty: no speech)

  double speech_s() const;
  double gender_s(int gender) const;  // seconds labelled `gender`
};

// A GenderModel used as a segmenter. Memory per file: one VAD block of log-mel and samples plus
// 5 bytes per 10 ms frame (the Viterbi back-pointers and the frame log-odds: 18 MB for 10 hours).
// Not thread-safe: one call at a time (the model runs on ModelOptions::num_threads threads).
class Segmenter {
 public:
  // Throws ConfigError for invalid options.
  Segmenter(GenderModel model, const SegmenterOptions& opts);
  Segmenter(Segmenter&&) noexcept;
  Segmenter& operator=(Segmenter&&) noexcept;
  ~Segmenter();

  const GenderModel& model() const;
  const SegmenterOptions& options() const;
  // The speech detector in use: a learned detector's path and threshold, or "energy".
  std::string speech_detector() const;

  // Reads and segments the file at `path`. Never throws for the file's own faults (unreadable,
  // refused by CheckAudio as too short or without signal, longer than max_file_duration_s, the
  // model failing on it): they are in error, naming the path.
  SegmentResult SegmentFile(const std::string& path) const;

  // Segments mono samples at the model's sample rate, in [-1, 1] (no CheckAudio). Throws
  // ConfigError when `samples` is empty, ModelError when the model fails.
  std::vector<Segment> SegmentSamples(const std::vector<float>& samples) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// segments.tsv: header `id start_s end_s label p_female`, then one row per segment sorted by id
// then start; times with 2 decimals, label male/female, p_female by FormatPFemale.
std::string SegmentsTsv(const std::vector<const SegmentResult*>& done);

// summary.tsv: header `id duration_s speech_s male_s female_s female_share`, one row per file
// sorted by id; seconds with 2 decimals, female_share = female_s / speech_s with 4 decimals or
// `-` when there is no speech.
std::string SegmentSummaryTsv(const std::vector<const SegmentResult*>& done);

// NIST RTTM (as pyannote and other diarization tools write it), one line per segment sorted by
// id then start: `SPEAKER <id> 1 <start> <duration> <NA> <NA> <label> <NA> <NA>`, 3 decimals.
std::string SegmentsRttm(const std::vector<const SegmentResult*>& done);

// A Praat TextGrid in the long text format (https://www.fon.hum.uva.nl/praat/manual/
// TextGrid_file_formats.html): one IntervalTier "gender" from 0 to duration_s, intervals
// contiguous and covering it, labelled male/female, empty text for non-speech.
std::string SegmentsTextGrid(const SegmentResult& done);

}  // namespace voxsex
