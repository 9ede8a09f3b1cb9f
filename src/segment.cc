#include "voxsex/segment.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <utility>

#include "model_internal.h"
#include "voxsex/error.h"
#include "voxsex/mel.h"
#include "voxsex/tsv.h"
#include "voxsex/vad.h"

#include <nlohmann/json.hpp>
#include <torch/script.h>

namespace voxsex {

void SegmenterOptions::Validate() const {
  auto positive = [](double v) { return std::isfinite(v) && v > 0.0; };
  if (!positive(window_s)) throw ConfigError("segmenter window_s must be > 0");
  if (!positive(hop_s) || hop_s > window_s) {
    throw ConfigError("segmenter hop_s must be > 0 and <= window_s");
  }
  if (!positive(vad_block_s)) throw ConfigError("segmenter vad_block_s must be > 0");
  if (!(std::isfinite(vad_dynamic_range_db) && vad_dynamic_range_db >= 0.0)) {
    throw ConfigError("segmenter vad_dynamic_range_db must be >= 0");
  }
  if (!(std::isfinite(vad_floor_window_s) && vad_floor_window_s >= 0.0)) {
    throw ConfigError("segmenter vad_floor_window_s must be >= 0");
  }
  if (!(std::isfinite(vad_floor_margin_db) && vad_floor_margin_db >= 0.0)) {
    throw ConfigError("segmenter vad_floor_margin_db must be >= 0");
  }
  if (!std::isnan(vad_threshold) && !std::isfinite(vad_threshold)) {
    throw ConfigError("segmenter vad_threshold must be finite (or NaN: the detector's own)");
  }
  if (!(vad_error > 0.0 && vad_error < 0.5)) {
    throw ConfigError("segmenter vad_error must be in (0, 0.5)");
  }
  if (!(std::isfinite(switch_penalty) && switch_penalty >= 0.0)) {
    throw ConfigError("segmenter switch_penalty must be >= 0");
  }
  if (!(std::isfinite(max_pause_s) && max_pause_s >= 0.0)) {
    throw ConfigError("segmenter max_pause_s must be >= 0");
  }
  if (!(std::isfinite(min_segment_s) && min_segment_s >= 0.0)) {
    throw ConfigError("segmenter min_segment_s must be >= 0");
  }
  if (!positive(max_file_duration_s)) throw ConfigError("segmenter max_file_duration_s must be > 0");
}

std::string SegmenterOptions::ToString() const {
  return fmt::format(
      "SegmenterOptions(window_s={}, hop_s={}, vad_block_s={}, vad_model='{}', vad_threshold={}, "
      "vad_dynamic_range_db={}, vad_floor_window_s={}, vad_floor_margin_db={}, vad_floor_gate={}, "
      "vad_error={}, switch_penalty={}, max_pause_s={}, min_segment_s={}, max_file_duration_s={})",
      window_s, hop_s, vad_block_s, vad_model, vad_threshold, vad_dynamic_range_db, vad_floor_window_s,
      vad_floor_margin_db, vad_floor_gate, vad_error, switch_penalty, max_pause_s, min_segment_s,
      max_file_duration_s);
}

double SegmentResult::speech_s() const {
  double s = 0.0;
  for (const auto& g : segments) s += g.end_s - g.start_s;
  return s;
}

double SegmentResult::gender_s(int gender) const {
  double s = 0.0;
  for (const auto& g : segments) {
    if (g.gender == gender) s += g.end_s - g.start_s;
  }
  return s;
}

std::string DefaultSpeechDetectorPath() {
  if (const char* env = std::getenv("VOXSEX_VAD_MODEL"); env != nullptr && *env != '\0') return env;
  return FindBundledModel(kSpeechDetectorFile);
}

SpeechDetector SpeechDetector::Load(const std::string& path, const MelOptions& mel) {
  internal::TorchScriptFile file = internal::LoadTorchScript(
      path, "speech detector", kSpeechDetectorMetadataName, "voxsex speech detector");
  SpeechDetector d;
  d.module_ = std::make_shared<torch::jit::Module>(file.module);
  const std::string& meta = file.extra;
  try {
    const nlohmann::json j = nlohmann::json::parse(meta);
    if (j.at("format").get<std::string>() != "voxsex-speech-detector") {
      throw ModelError("format is not voxsex-speech-detector");
    }
    d.mel_ = MelOptionsFromJson(j.at("front_end"));
    d.threshold = j.at("threshold").get<double>();
  } catch (const ModelError& e) {
    throw ModelError("speech detector '" + path + "' metadata: " + e.what());
  } catch (const std::exception& e) {  // nlohmann::json's errors: one line each
    throw ModelError("speech detector '" + path + "' metadata: " + e.what());
  }
  if (!(d.mel_ == mel)) {
    throw ModelError("speech detector '" + path + "' was trained on another front end (" + d.mel_.ToString() +
                     ") than the model's (" + mel.ToString() + ")");
  }
  if (!std::isfinite(d.threshold)) {
    throw ModelError("speech detector '" + path + "' metadata: threshold is not finite");
  }
  d.path_ = path;
  return d;
}

std::vector<float> SpeechDetector::Logits(const LogMel& log_mel) const {
  if (log_mel.num_frames <= 0) return {};
  if (log_mel.num_mels != mel_.num_mels) {
    throw ModelError("speech detector '" + path_ + "': log-mel has " + std::to_string(log_mel.num_mels) +
                     " bands, the detector " + std::to_string(mel_.num_mels));
  }
  c10::InferenceMode guard;
  // [frames x mels] row-major -> [1, mels, frames]
  const torch::Tensor x = torch::from_blob(const_cast<float*>(log_mel.data.data()),
                                           {1, log_mel.num_frames, log_mel.num_mels}, torch::kFloat)
                              .transpose(1, 2)
                              .contiguous();
  torch::Tensor y;
  try {
    y = module_->forward({x}).toTensor().to(torch::kFloat).contiguous();
  } catch (const c10::Error& e) {
    throw ModelError("speech detector '" + path_ + "' failed: " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw ModelError("speech detector '" + path_ + "' failed: " + e.what());
  }
  if (y.dim() != 1 || y.size(0) != log_mel.num_frames) {
    std::string shape;
    for (const auto d : y.sizes()) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    throw ModelError("speech detector '" + path_ + "' returned shape [" + shape + "], expected [" +
                     std::to_string(log_mel.num_frames) + "]");
  }
  const float* p = y.data_ptr<float>();
  return std::vector<float>(p, p + log_mel.num_frames);
}

namespace {

constexpr int kStates = 3;  // 0 non-speech, 1 male, 2 female

// Streaming state of one file: samples -> log-mel frames -> VAD blocks -> windows -> Viterbi.
class FileRun {
 public:
  FileRun(const GenderModel& model, const SegmenterOptions& opts, const SpeechDetector* detector)
      : model_(model),
        detector_(detector),
        opts_(opts),
        mel_(model.mel_options()),
        frontend_(mel_),
        vad_(model.card().vad ? *model.card().vad : VadOptions{}) {
    const double frame_s = mel_.frame_s();
    win_frames_ = std::max(1, static_cast<int>(std::lround(opts.window_s / frame_s)));
    hop_frames_ = std::max(1, static_cast<int>(std::lround(opts.hop_s / frame_s)));
    vad_block_frames_ = std::max(win_frames_, static_cast<int>(std::lround(opts.vad_block_s / frame_s)));
    ctx_ = static_cast<std::int64_t>((mel_.n_fft / 2 + mel_.hop_length - 1) / mel_.hop_length) *
           mel_.hop_length;
    if (opts.vad_dynamic_range_db > 0.0) vad_.dynamic_range_db = opts.vad_dynamic_range_db;
    floor_window_frames_ = static_cast<int>(std::lround(opts.vad_floor_window_s / frame_s));
    floor_margin_db_ = opts.vad_floor_margin_db;
    log_switch_ = -opts.switch_penalty;
    log_vad_ok_ = std::log(1.0 - opts.vad_error);
    log_vad_bad_ = std::log(opts.vad_error);
  }

  // Samples read per call of Add when streaming a file.
  std::size_t chunk_samples() const {
    return static_cast<std::size_t>(vad_block_frames_) * mel_.hop_length;
  }

  // Appends samples (in order); the last call has eof = true.
  void Add(const float* samples, std::size_t n, bool eof) {
    buf_.insert(buf_.end(), samples, samples + n);
    ComputeFrames(eof);
    while (pending_frames() >= 2 * vad_block_frames_) VadBlock(vad_block_frames_, false);
    if (eof) {
      VadBlock(pending_frames(), true);
    }
  }

  // Decoded segments once Add(..., eof = true) was called; duration_s clips the last end.
  std::vector<Segment> Finish(double duration_s) {
    const std::int64_t n = static_cast<std::int64_t>(bp_.size());
    std::vector<Segment> out;
    if (n == 0) return out;
    // Back-trace: states overwrite the back-pointers.
    int state = static_cast<int>(std::max_element(delta_, delta_ + kStates) - delta_);
    std::vector<std::uint8_t>& path = bp_;
    for (std::int64_t t = n - 1; t >= 0; --t) {
      const int prev = (bp_[t] >> (2 * state)) & 3;
      path[t] = static_cast<std::uint8_t>(state);
      state = prev;
    }
    const double frame_s = mel_.frame_s();
    const double temperature = model_.temperature();
    // Runs of speech states.
    struct Run {
      std::int64_t t0, t1;
      int gender;
    };
    std::vector<Run> runs;
    for (std::int64_t t = 0; t < n;) {
      std::int64_t u = t;
      while (u < n && path[u] == path[t]) ++u;
      if (path[t] != 0) runs.push_back({t, u, path[t] - 1});
      t = u;
    }
    // Pauses inside a turn: a non-speech run shorter than max_pause_s between two runs of the same
    // label becomes part of them (pyannote's Binarize min_duration_off, see segment.h). Between
    // different labels the non-speech stays: that is a change of speaker, a gap between turns, and
    // which side it would belong to is unknown.
    const std::int64_t max_pause_frames = static_cast<std::int64_t>(std::lround(opts_.max_pause_s / frame_s));
    if (max_pause_frames > 0 && !runs.empty()) {
      std::vector<Run> bridged{runs.front()};
      for (std::size_t i = 1; i < runs.size(); ++i) {
        Run& last = bridged.back();
        if (runs[i].gender == last.gender && runs[i].t0 - last.t1 < max_pause_frames) {
          last.t1 = runs[i].t1;
        } else {
          bridged.push_back(runs[i]);
        }
      }
      runs.swap(bridged);
    }
    // Short runs: the label of the longer touching speech neighbour, or dropped.
    const std::int64_t min_frames = static_cast<std::int64_t>(std::lround(opts_.min_segment_s / frame_s));
    for (;;) {
      std::size_t shortest = runs.size();
      for (std::size_t i = 0; i < runs.size(); ++i) {
        const std::int64_t len = runs[i].t1 - runs[i].t0;
        if (len < min_frames && (shortest == runs.size() ||
                                 len < runs[shortest].t1 - runs[shortest].t0)) {
          shortest = i;
        }
      }
      if (shortest == runs.size()) break;
      const std::size_t i = shortest;
      const bool left = i > 0 && runs[i - 1].t1 == runs[i].t0;
      const bool right = i + 1 < runs.size() && runs[i + 1].t0 == runs[i].t1;
      if (!left && !right) {
        runs.erase(runs.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      std::size_t into;
      if (left && right) {
        into = (runs[i - 1].t1 - runs[i - 1].t0 >= runs[i + 1].t1 - runs[i + 1].t0) ? i - 1 : i + 1;
      } else {
        into = left ? i - 1 : i + 1;
      }
      runs[into].t0 = std::min(runs[into].t0, runs[i].t0);
      runs[into].t1 = std::max(runs[into].t1, runs[i].t1);
      runs.erase(runs.begin() + static_cast<std::ptrdiff_t>(i));
      // Merge neighbours that now share a label and touch.
      std::vector<Run> merged;
      for (const Run& r : runs) {
        if (!merged.empty() && merged.back().t1 == r.t0 && merged.back().gender == r.gender) {
          merged.back().t1 = r.t1;
        } else {
          merged.push_back(r);
        }
      }
      runs.swap(merged);
    }
    for (const Run& r : runs) {
      double sum = 0.0;
      for (std::int64_t t = r.t0; t < r.t1; ++t) sum += margin_[t];
      Segment s;
      s.start_s = static_cast<double>(r.t0) * frame_s;
      s.end_s = std::min(duration_s, static_cast<double>(r.t1) * frame_s);
      if (s.end_s <= s.start_s) continue;
      s.gender = r.gender;
      s.p_female = PFemale(sum / static_cast<double>(r.t1 - r.t0), temperature);
      out.push_back(s);
    }
    return out;
  }

 private:
  int pending_frames() const { return pending_.num_frames; }

  // Computes the log-mel frames the buffered samples allow; they equal the whole file's frames
  // (the input of each computation starts ctx_ samples before its first frame's centre, ends
  // ctx_ after its last, except at the file's ends where MelFrontend pads as for the whole file).
  void ComputeFrames(bool eof) {
    const std::int64_t hop = mel_.hop_length;
    const std::int64_t total = buf_start_ + static_cast<std::int64_t>(buf_.size());
    std::int64_t end_frame;
    if (eof) {
      if (total == 0) return;
      end_frame = NumFrames(static_cast<std::size_t>(total), mel_);
    } else {
      if (total < ctx_) return;
      end_frame = (total - ctx_) / hop + 1;
    }
    if (end_frame <= next_frame_) return;
    const std::int64_t a = next_frame_ * hop < ctx_ ? 0 : next_frame_ * hop - ctx_;
    const std::int64_t b = eof ? total : (end_frame - 1) * hop + ctx_;
    const LogMel m = frontend_.Compute(buf_.data() + (a - buf_start_), static_cast<std::size_t>(b - a));
    const std::int64_t first = next_frame_ - a / hop;  // row of frame next_frame_
    const int num_mels = m.num_mels;
    pending_.num_mels = num_mels;
    for (std::int64_t t = next_frame_; t < end_frame; ++t) {
      const float* row = m.frame(static_cast<int>(first + (t - next_frame_)));
      pending_.data.insert(pending_.data.end(), row, row + num_mels);
      ++pending_.num_frames;
    }
    next_frame_ = end_frame;
    // Keep the samples the next computation needs.
    const std::int64_t keep_from = std::max<std::int64_t>(0, next_frame_ * hop - ctx_);
    if (keep_from > buf_start_) {
      buf_.erase(buf_.begin(), buf_.begin() + (keep_from - buf_start_));
      buf_start_ = keep_from;
    }
  }

  // Runs the VAD on the first `n` pending frames and moves them to the window store.
  void VadBlock(int n, bool eof) {
    if (n > 0) {
      LogMel block;
      block.num_mels = pending_.num_mels;
      block.num_frames = n;
      const std::size_t values = static_cast<std::size_t>(n) * block.num_mels;
      block.data.assign(pending_.data.begin(), pending_.data.begin() + static_cast<std::ptrdiff_t>(values));
      pending_.data.erase(pending_.data.begin(), pending_.data.begin() + static_cast<std::ptrdiff_t>(values));
      pending_.num_frames -= n;
      std::vector<std::uint8_t> speech(static_cast<std::size_t>(n), 0);
      if (detector_ != nullptr) {
        const std::vector<float> logits = detector_->Logits(block);
        for (int t = 0; t < n; ++t) {
          speech[static_cast<std::size_t>(t)] = logits[static_cast<std::size_t>(t)] >= detector_->threshold;
        }
        if (opts_.vad_floor_gate && floor_window_frames_ > 0) {
          LocalFloor(FrameEnergiesDb(block, vad_.first_band), &speech);
        }
      } else {
        const std::vector<double> energy = FrameEnergiesDb(block, vad_.first_band);
        const SpeechSelection sel = SelectSpeech(energy, vad_);
        if (!sel.no_speech) {
          for (int t : sel.frames) speech[static_cast<std::size_t>(t)] = 1;
          if (floor_window_frames_ > 0) LocalFloor(energy, &speech);
        }
      }
      store_.num_mels = block.num_mels;
      store_.data.insert(store_.data.end(), block.data.begin(), block.data.end());
      store_.num_frames += n;
      store_speech_.insert(store_speech_.end(), speech.begin(), speech.end());
      store_sum_.resize(store_speech_.size(), 0.0);
      store_count_.resize(store_speech_.size(), 0);
    }
    Windows(eof);
  }

  // Clears the frames of `speech` whose energy (dB, one per frame of the block) is less than
  // floor_margin_db_ over the background_percentile-th percentile of the energies within
  // floor_window_frames_ around them (clipped to the block), the percentile taken every
  // kFloorStride frames.
  void LocalFloor(const std::vector<double>& energy, std::vector<std::uint8_t>* speech) const {
    constexpr int kFloorStride = 10;
    const int n = static_cast<int>(energy.size());
    const int half = floor_window_frames_ / 2;
    for (int c = 0; c < n; c += kFloorStride) {
      const int lo = std::max(0, c + kFloorStride / 2 - half);
      const int hi = std::min(n, c + kFloorStride / 2 + half + 1);
      const double floor =
          PercentileOf({energy.begin() + lo, energy.begin() + hi}, vad_.background_percentile);
      const double threshold = floor + floor_margin_db_;
      for (int t = c; t < std::min(n, c + kFloorStride); ++t) {
        if (energy[static_cast<std::size_t>(t)] < threshold) (*speech)[static_cast<std::size_t>(t)] = 0;
      }
    }
  }

  // Classifies the windows the store holds, then passes the final frames to the Viterbi.
  void Windows(bool eof) {
    const std::int64_t store_end = store_start_ + store_.num_frames;
    std::vector<LogMel> inputs;
    std::vector<std::int64_t> starts;
    const int min_speech = std::max(1, vad_.min_speech_frames);
    for (;; ++next_window_) {
      const std::int64_t s = next_window_ * hop_frames_;
      if (s >= store_end) break;
      std::int64_t e = s + win_frames_;
      if (e > store_end) {
        if (!eof) break;
        // The file's last windows: clipped to its end, skipped when the previous window reached it.
        if (next_window_ > 0 && (next_window_ - 1) * hop_frames_ + win_frames_ >= store_end) continue;
        e = store_end;
      }
      int speech = 0;
      for (std::int64_t t = s; t < e; ++t) speech += store_speech_[static_cast<std::size_t>(t - store_start_)];
      if (speech < std::min<std::int64_t>(min_speech, e - s)) continue;
      LogMel w;
      w.num_mels = store_.num_mels;
      w.num_frames = static_cast<int>(e - s);
      const float* from = store_.frame(static_cast<int>(s - store_start_));
      w.data.assign(from, from + static_cast<std::size_t>(w.num_frames) * w.num_mels);
      inputs.push_back(std::move(w));
      starts.push_back(s);
    }
    if (!inputs.empty()) {
      std::vector<const LogMel*> ptrs;
      for (const auto& w : inputs) ptrs.push_back(&w);
      const std::vector<Prediction> preds = model_.Predict(ptrs);
      for (std::size_t k = 0; k < preds.size(); ++k) {
        const double margin = static_cast<double>(preds[k].logit_female) - preds[k].logit_male;
        const std::int64_t s = starts[k];
        const std::int64_t e = s + inputs[k].num_frames;
        for (std::int64_t t = s; t < e; ++t) {
          store_sum_[static_cast<std::size_t>(t - store_start_)] += margin;
          ++store_count_[static_cast<std::size_t>(t - store_start_)];
        }
      }
    }
    // Frames no later window covers are final.
    const std::int64_t final_end = eof ? store_end : std::min(store_end, next_window_ * hop_frames_);
    const std::int64_t n = final_end - store_start_;
    if (n <= 0) return;
    for (std::int64_t i = 0; i < n; ++i) {
      const std::size_t k = static_cast<std::size_t>(i);
      const double margin = store_count_[k] > 0 ? store_sum_[k] / store_count_[k] : 0.0;
      Step(store_speech_[k] != 0, margin);
    }
    const std::size_t values = static_cast<std::size_t>(n) * store_.num_mels;
    store_.data.erase(store_.data.begin(), store_.data.begin() + static_cast<std::ptrdiff_t>(values));
    store_.num_frames -= static_cast<int>(n);
    store_speech_.erase(store_speech_.begin(), store_speech_.begin() + n);
    store_sum_.erase(store_sum_.begin(), store_sum_.begin() + n);
    store_count_.erase(store_count_.begin(), store_count_.begin() + n);
    store_start_ = final_end;
  }

  // One Viterbi step.
  void Step(bool speech, double margin) {
    const double p = std::clamp(static_cast<double>(PFemale(margin, model_.temperature())), 1e-4, 1.0 - 1e-4);
    const double log_half = std::log(0.5);
    const double emit[kStates] = {
        (speech ? log_vad_bad_ : log_vad_ok_) + log_half,
        (speech ? log_vad_ok_ : log_vad_bad_) + std::log(1.0 - p),
        (speech ? log_vad_ok_ : log_vad_bad_) + std::log(p),
    };
    double next[kStates];
    std::uint8_t bp = 0;
    if (bp_.empty()) {
      for (int j = 0; j < kStates; ++j) next[j] = emit[j];
    } else {
      for (int j = 0; j < kStates; ++j) {
        int best = j;
        double best_v = delta_[j];
        for (int i = 0; i < kStates; ++i) {
          if (i != j && delta_[i] + log_switch_ > best_v) {
            best_v = delta_[i] + log_switch_;
            best = i;
          }
        }
        next[j] = best_v + emit[j];
        bp = static_cast<std::uint8_t>(bp | (best << (2 * j)));
      }
    }
    const double top = *std::max_element(next, next + kStates);
    for (int j = 0; j < kStates; ++j) delta_[j] = next[j] - top;
    bp_.push_back(bp);
    margin_.push_back(static_cast<float>(margin));
  }

  const GenderModel& model_;
  const SpeechDetector* detector_;  // null: the energy detector
  const SegmenterOptions& opts_;
  MelOptions mel_;
  MelFrontend frontend_;
  VadOptions vad_;
  int win_frames_ = 0, hop_frames_ = 0, vad_block_frames_ = 0;
  int floor_window_frames_ = 0;  // 0: no local noise floor
  double floor_margin_db_ = 0.0;
  std::int64_t ctx_ = 0;
  double log_switch_ = 0.0, log_vad_ok_ = 0.0, log_vad_bad_ = 0.0;

  std::vector<float> buf_;        // samples from buf_start_
  std::int64_t buf_start_ = 0;
  std::int64_t next_frame_ = 0;   // next log-mel frame to compute
  LogMel pending_;                // frames computed, not yet through the VAD
  LogMel store_;                  // frames from store_start_ through the VAD, not yet final
  std::int64_t store_start_ = 0;
  std::vector<std::uint8_t> store_speech_;
  std::vector<double> store_sum_;  // of covering windows' logit margins
  std::vector<int> store_count_;
  std::int64_t next_window_ = 0;

  double delta_[kStates] = {0.0, 0.0, 0.0};
  std::vector<std::uint8_t> bp_;  // per frame: back-pointer of each state, 2 bits each
  std::vector<float> margin_;     // per frame: mean logit margin of the covering windows
};

}  // namespace

struct Segmenter::Impl {
  GenderModel model;
  SegmenterOptions opts;
  std::unique_ptr<SpeechDetector> detector;  // null: the energy detector
};

Segmenter::Segmenter(GenderModel model, const SegmenterOptions& opts) {
  opts.Validate();
  std::unique_ptr<SpeechDetector> detector;
  if (opts.vad_model != kEnergyDetector) {
    std::string path = opts.vad_model.empty() ? DefaultSpeechDetectorPath() : opts.vad_model;
    if (path.empty()) {
      throw ModelError("no bundled speech detector found (models/" + std::string(kSpeechDetectorFile) +
                       " beside the executable or in the install tree); give one with --vad-model, or "
                       "--vad-model energy");
    }
    detector = std::make_unique<SpeechDetector>(SpeechDetector::Load(path, model.mel_options()));
    if (!std::isnan(opts.vad_threshold)) detector->threshold = opts.vad_threshold;
  }
  impl_.reset(new Impl{std::move(model), opts, std::move(detector)});
}
Segmenter::Segmenter(Segmenter&&) noexcept = default;
Segmenter& Segmenter::operator=(Segmenter&&) noexcept = default;
Segmenter::~Segmenter() = default;

const GenderModel& Segmenter::model() const { return impl_->model; }
const SegmenterOptions& Segmenter::options() const { return impl_->opts; }

std::string Segmenter::speech_detector() const {
  if (!impl_->detector) return kEnergyDetector;
  return fmt::format("{} (threshold {})", impl_->detector->path(), impl_->detector->threshold);
}

std::vector<Segment> Segmenter::SegmentSamples(const std::vector<float>& samples) const {
  if (samples.empty()) throw ConfigError("SegmentSamples: no samples");
  FileRun run(impl_->model, impl_->opts, impl_->detector.get());
  run.Add(samples.data(), samples.size(), true);
  return run.Finish(static_cast<double>(samples.size()) / impl_->model.mel_options().sample_rate_hz);
}

SegmentResult Segmenter::SegmentFile(const std::string& path) const {
  SegmentResult r;
  r.path = path;
  r.id = std::filesystem::path(path).stem().string();
  try {
    AudioReaderOptions ropts;
    ropts.target_sample_rate_hz = impl_->model.mel_options().sample_rate_hz;
    ropts.max_duration_s = impl_->opts.max_file_duration_s;
    AudioStream stream(path, ropts);
    AudioLevels levels;
    FileRun run(impl_->model, impl_->opts, impl_->detector.get());
    const std::size_t chunk = run.chunk_samples();
    for (;;) {
      const std::vector<float> block = stream.Read(chunk);
      const bool eof = block.size() < chunk;
      levels.Add(block.data(), block.size());
      run.Add(block.data(), block.size(), eof);
      if (eof) break;
    }
    const AudioCheck check =
        CheckAudioLevels(levels, stream.sample_rate_hz(), stream.num_nonfinite_frames());
    if (!check.refusal.empty()) {
      r.error = path + ": " + check.refusal;
      return r;
    }
    r.duration_s = static_cast<double>(levels.num_samples) / stream.sample_rate_hz();
    r.segments = run.Finish(r.duration_s);
    r.done = true;
  } catch (const Error& e) {
    const std::string what = e.what();
    r.error = what.find(path) == std::string::npos ? path + ": " + what : what;
    r.segments.clear();
  }
  return r;
}

}  // namespace voxsex
