#include "voxsex/classifier.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "hash.h"
#include "voxsex/error.h"

namespace voxsex {

void ClassifierOptions::Validate() const {
  model.Validate();
  if (!(max_file_duration_s > 0.0)) throw ConfigError("max file duration must be > 0 s");
  if (files_per_chunk < 1) throw ConfigError("files per chunk must be >= 1");
  if (max_pending_blocks < 1) throw ConfigError("max pending blocks must be >= 1");
}

std::string ClassifierOptions::ToString() const {
  return fmt::format(
      "ClassifierOptions({}, max_file_duration_s={}, files_per_chunk={}, max_pending_blocks={}, "
      "fail_fast={})",
      model.ToString(), max_file_duration_s, files_per_chunk, max_pending_blocks, fail_fast);
}

void BlockVotes::Add(const Prediction& block, int block_frames) {
  if (!block.no_speech) {
    const double w = block.speech_s / frame_s_;
    speech_[0] += block.logit_male * w;
    speech_[1] += block.logit_female * w;
    speech_frames_ += w;
  } else {
    other_[0] += block.logit_male * block_frames;
    other_[1] += block.logit_female * block_frames;
    other_frames_ += block_frames;
  }
}

Prediction BlockVotes::Result(double temperature) const {
  Prediction p;
  const bool speech_found = speech_frames_ > 0.0;
  const double* sums = speech_found ? speech_ : other_;
  const double w = speech_found ? speech_frames_ : other_frames_;
  p.logit_male = static_cast<float>(sums[0] / w);
  p.logit_female = static_cast<float>(sums[1] / w);
  p.p_female = PFemale((sums[1] - sums[0]) / w, temperature);
  p.no_speech = !speech_found;
  p.speech_s = speech_found ? speech_frames_ * frame_s_ : 0.0;
  return p;
}

namespace {

// The error of `path` as one message that names it: library messages do already ("cannot read
// 'x.wav': ..."), others get "cannot classify 'x.wav': " in front.
std::string NamingTheFile(const std::string& path, const std::string& what) {
  const std::string named = "'" + path + "': ";
  return what.find(named) == std::string::npos ? "cannot classify " + named + what : what;
}

// A file being classified by ClassifyFiles: its blocks read but not yet classified, and the
// logits of those already classified.
struct Pending {
  std::vector<LogMel> blocks;
  std::optional<BlockVotes> votes;
};

}  // namespace

struct Classifier::Impl {
  GenderModel model;
  ClassifierOptions opts;
  int window_frames = 0;
  std::size_t block_samples = 0;
  mutable std::mutex model_mutex;  // one thread at a time runs the model

  // Classifies `blocks` and adds each to its file's votes.
  void Vote(const std::vector<const LogMel*>& blocks, const std::vector<BlockVotes*>& votes) const {
    std::vector<Prediction> preds;
    {
      const std::lock_guard<std::mutex> lock(model_mutex);
      preds = model.Predict(blocks);
    }
    for (std::size_t k = 0; k < preds.size(); ++k) votes[k]->Add(preds[k], blocks[k]->num_frames);
  }

  // Reads `path` block by block; `on_block` takes each block's log-mel as it comes.
  template <typename OnBlock>
  FileFeatures Read(const std::string& path, MelFrontend& frontend, OnBlock on_block) const {
    AudioReaderOptions ropts;
    ropts.target_sample_rate_hz = model.mel_options().sample_rate_hz;
    ropts.max_duration_s = opts.max_file_duration_s;
    AudioStream stream(path, ropts);
    AudioLevels levels;
    FileFeatures out;
    out.audio_hash = internal::kFnv1a64Offset;
    for (;;) {
      const std::vector<float> block = stream.Read(block_samples);
      if (block.empty()) break;
      levels.Add(block.data(), block.size());
      out.audio_hash = internal::Fnv1a64(block.data(), block.size() * sizeof(float), out.audio_hash);
      on_block(frontend.Compute(block), out);
    }
    out.check = CheckAudioLevels(levels, stream.sample_rate_hz(), stream.num_nonfinite_frames());
    out.duration_s = static_cast<double>(levels.num_samples) / stream.sample_rate_hz();
    return out;
  }

  // Fills f's result from its votes.
  void Finish(FileResult& f, const BlockVotes& votes, const AudioCheck& check) const {
    f.prediction = votes.Result(model.temperature());
    f.gender = f.prediction.gender();
    f.flags = check.flags;
    if (f.prediction.no_speech) f.flags.insert(f.flags.begin(), "no_speech");
  }
};

Classifier::Classifier(GenderModel model, const ClassifierOptions& opts) {
  opts.Validate();
  impl_.reset(new Impl{std::move(model), opts, 0, 0, {}});
  const MelOptions& mel = impl_->model.mel_options();
  impl_->window_frames = opts.model.window_frames(mel);
  impl_->block_samples = static_cast<std::size_t>(impl_->window_frames - 1) * mel.hop_length;
}

Classifier Classifier::Load(const std::string& model_path, const ClassifierOptions& opts) {
  opts.Validate();
  return Classifier(GenderModel::Load(model_path, opts.model), opts);
}

Classifier::Classifier(Classifier&&) noexcept = default;
Classifier& Classifier::operator=(Classifier&&) noexcept = default;
Classifier::~Classifier() = default;

const GenderModel& Classifier::model() const { return impl_->model; }

FileFeatures Classifier::Features(const std::string& path, MelFrontend& frontend) const {
  return impl_->Read(path, frontend,
                     [](LogMel block, FileFeatures& out) { out.blocks.push_back(std::move(block)); });
}

std::vector<Prediction> Classifier::Score(const std::vector<const FileFeatures*>& files) const {
  const double frame_s = impl_->model.mel_options().frame_s();
  std::vector<BlockVotes> votes(files.size(), BlockVotes(frame_s));
  std::vector<const LogMel*> blocks;
  std::vector<BlockVotes*> owner;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (files[i]->blocks.empty()) throw ConfigError("file " + std::to_string(i) + " has no blocks");
    for (const LogMel& b : files[i]->blocks) {
      blocks.push_back(&b);
      owner.push_back(&votes[i]);
    }
  }
  impl_->Vote(blocks, owner);
  std::vector<Prediction> out;
  out.reserve(votes.size());
  for (const BlockVotes& v : votes) out.push_back(v.Result(impl_->model.temperature()));
  return out;
}

FileResult Classifier::Classify(const std::string& path) const {
  std::vector<FileResult> files(1);
  files[0].path = path;
  files[0].id = std::filesystem::path(path).stem().string();
  ClassifyFiles(files);
  return files[0];
}

long Classifier::ClassifyFiles(std::vector<FileResult>& files, const ClassifyHooks& hooks) const {
  const Impl& im = *impl_;
  const ClassifierOptions& opts = im.opts;
  const MelOptions& mel = im.model.mel_options();
  const int threads = opts.model.num_threads > 0
                          ? opts.model.num_threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const auto chunk = static_cast<std::size_t>(opts.files_per_chunk);
  const auto max_pending = static_cast<std::size_t>(opts.max_pending_blocks);
  long model_failures = 0;
  bool stopped = false;  // fail_fast: a file failed
  const auto fail = [&](FileResult& f, const std::string& what) {
    f.error = NamingTheFile(f.path, what);
    f.gender = -1;
  };
  const auto report = [&](FileResult& f) {
    f.error = NamingTheFile(f.path, f.error);  // e.g. a duplicate id, failed by the caller
    if (hooks.on_failure) hooks.on_failure(f);
    if (opts.fail_fast) stopped = true;
  };
  std::mutex fatal_mutex;
  std::string fatal;  // a worker could not build its front end: not a file's fault
  std::mutex hook_mutex;
  for (std::size_t c = 0; c < files.size() && !stopped; c += chunk) {
    const std::size_t end = std::min(files.size(), c + chunk);
    std::vector<Pending> pending(end - c);
    std::vector<AudioCheck> checks(end - c);
    std::atomic<std::size_t> next{c};
    std::atomic<bool> stop{false};  // fail_fast: a file of this chunk failed
    auto work = [&]() noexcept {
      std::optional<MelFrontend> frontend;
      try {
        frontend.emplace(mel);
      } catch (const std::exception& e) {  // options already checked by GenderModel::Load
        const std::lock_guard<std::mutex> lock(fatal_mutex);
        fatal = e.what();
        return;
      }
      for (std::size_t i = next++; i < end && !stop; i = next++) {
        FileResult& f = files[i];
        Pending& p = pending[i - c];
        if (f.error.empty()) {
          p.votes.emplace(mel.frame_s());
          try {
            // A long file's samples are never held whole: its blocks are classified every
            // max_pending blocks.
            const FileFeatures read = im.Read(f.path, *frontend, [&](LogMel b, FileFeatures&) {
              p.blocks.push_back(std::move(b));
              if (p.blocks.size() < max_pending) return;
              std::vector<const LogMel*> blocks;
              for (const LogMel& x : p.blocks) blocks.push_back(&x);
              im.Vote(blocks, std::vector<BlockVotes*>(blocks.size(), &*p.votes));
              p.blocks.clear();
            });
            f.duration_s = read.duration_s;
            checks[i - c] = read.check;
            if (!read.check.refusal.empty()) f.error = NamingTheFile(f.path, read.check.refusal);
          } catch (const std::exception& e) {  // voxsex::Error, or bad_alloc
            f.error = NamingTheFile(f.path, e.what());
          }
          if (!f.error.empty()) p = Pending{};
        }
        if (!f.error.empty() && opts.fail_fast) stop = true;
        if (hooks.on_read) {
          const std::lock_guard<std::mutex> lock(hook_mutex);
          hooks.on_read();
        }
      }
    };
    std::vector<std::thread> pool;
    for (int k = 0; k < threads; ++k) pool.emplace_back(work);
    for (auto& t : pool) t.join();
    if (!fatal.empty()) throw ConfigError("cannot build the front end: " + fatal);

    std::vector<const LogMel*> blocks;
    std::vector<BlockVotes*> owner;
    for (std::size_t i = c; i < end && !stopped; ++i) {
      if (!files[i].error.empty()) {
        report(files[i]);
      } else {
        for (const LogMel& b : pending[i - c].blocks) {
          blocks.push_back(&b);
          owner.push_back(&*pending[i - c].votes);
        }
      }
    }
    if (stopped) break;
    try {
      im.Vote(blocks, owner);
    } catch (const std::exception& e) {
      // The model failed on this chunk: retry its files one by one, so only the inputs it cannot
      // take fail (with the reason) and the others are still answered.
      spdlog::warn("model failed on a batch ({}); retrying its files one at a time", e.what());
      for (std::size_t i = c; i < end && !stopped; ++i) {
        FileResult& f = files[i];
        if (!f.error.empty()) continue;
        Pending& p = pending[i - c];
        std::vector<const LogMel*> mine;
        for (const LogMel& b : p.blocks) mine.push_back(&b);
        try {
          im.Vote(mine, std::vector<BlockVotes*>(mine.size(), &*p.votes));
        } catch (const std::exception& e1) {
          fail(f, e1.what());
          ++model_failures;
          report(f);
        }
      }
    }
    for (std::size_t i = c; i < end; ++i) {
      FileResult& f = files[i];
      Pending& p = pending[i - c];
      if (f.error.empty() && p.votes && !p.votes->empty()) im.Finish(f, *p.votes, checks[i - c]);
      p = Pending{};
    }
  }
  return model_failures;
}

}  // namespace voxsex
