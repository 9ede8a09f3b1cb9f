#include "train/trainer.h"

#include <spdlog/spdlog.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <random>

#include "train/checkpoint.h"
#include "voxsex/error.h"

namespace voxsex::internal {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// A copy of a module's parameters and buffers.
struct Snapshot {
  std::vector<torch::Tensor> params;
  std::vector<torch::Tensor> buffers;
};

Snapshot Take(torch::jit::Module& m) {
  Snapshot s;
  torch::NoGradGuard g;
  for (const auto& p : m.parameters()) s.params.push_back(p.detach().clone());
  for (const auto& b : m.buffers()) s.buffers.push_back(b.detach().clone());
  return s;
}

// ema = decay * ema + (1 - decay) * current, for parameters; buffers (batch-norm statistics) copied.
void UpdateEma(Snapshot& ema, torch::jit::Module& m, double decay) {
  torch::NoGradGuard g;
  std::size_t i = 0;
  for (const auto& p : m.parameters()) ema.params[i++].mul_(decay).add_(p.detach(), 1.0 - decay);
  i = 0;
  for (const auto& b : m.buffers()) ema.buffers[i++].copy_(b.detach());
}

void Restore(torch::jit::Module& m, const Snapshot& s) {
  torch::NoGradGuard g;
  std::size_t i = 0;
  for (auto p : m.parameters()) p.copy_(s.params[i++]);
  i = 0;
  for (auto b : m.buffers()) b.copy_(s.buffers[i++]);
}

// A snapshot as one list (parameters, then buffers), for checkpoints, and back.
std::vector<torch::Tensor> Flat(const Snapshot& s) {
  std::vector<torch::Tensor> all = s.params;
  all.insert(all.end(), s.buffers.begin(), s.buffers.end());
  return all;
}

Snapshot Unflat(const std::vector<torch::Tensor>& all, const torch::jit::Module& m) {
  Snapshot s;
  if (all.empty()) return s;
  const std::size_t num_params = m.parameters().size();
  if (all.size() != num_params + m.buffers().size()) {
    throw ModelError("checkpoint does not fit the network (" + std::to_string(all.size()) +
                     " tensors)");
  }
  s.params.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(num_params));
  s.buffers.assign(all.begin() + static_cast<std::ptrdiff_t>(num_params), all.end());
  return s;
}

}  // namespace

Validator::Validator(const LoadedModule& module, const std::vector<ValidationFile>& files,
                     const ModelOptions& opts)
    : files_(files), classifier_(GenderModel::Wrap(module, opts, "(training)"), ClassifierOptions{opts}) {}

std::vector<Prediction> Validator::Predict() const {
  std::vector<const FileFeatures*> features;
  features.reserve(files_.size());
  for (const ValidationFile& f : files_) features.push_back(&f.features);
  return classifier_.Score(features);
}

std::vector<int> Validator::Truth() const {
  std::vector<int> truth;
  for (const ValidationFile& f : files_) truth.push_back(f.gender);
  return truth;
}

BinaryMetrics Validator::Score() const {
  std::vector<int> predicted;
  for (const Prediction& p : Predict()) predicted.push_back(p.gender());
  return ComputeMetrics(Truth(), predicted);
}

bool HasGenderAgeHead(const torch::jit::Module& module) {
  return module.hasattr("age_classes") && module.attr("age_classes").isBool() &&
         module.attr("age_classes").toBool() && module.find_method("fine_logits").has_value();
}

StepResult TrainStep(torch::jit::Module& module, torch::optim::Optimizer& optimizer,
                     const Batch& batch, const torch::Tensor& class_weight) {
  const bool fine_head = HasGenderAgeHead(module);
  // The four fine classes (gender + 2 * child) each take their gender's class weight.
  const torch::Tensor loss_class_weight = fine_head ? class_weight.repeat({2}) : class_weight;
  // A gender x age head's gender logits (forward) are logsumexp over the age groups.
  const auto out = fine_head ? module.run_method("fine_logits", batch.x, batch.lengths).toTensor()
                             : module.forward({batch.x, batch.lengths}).toTensor();
  const auto logits = fine_head ? torch::logsumexp(out.view({-1, 2, 2}), 1) : out;
  auto per_item = torch::nn::functional::cross_entropy(
      out, fine_head ? batch.fine_labels : batch.labels,
      torch::nn::functional::CrossEntropyFuncOptions()
          .weight(loss_class_weight)
          .label_smoothing(0.05)
          .reduction(torch::kNone));
  // Torch's weighted mean when all loss weights are 1.
  const auto item_weight = class_weight.index_select(0, batch.labels) * batch.weights;
  auto loss = (per_item * batch.weights).sum() / item_weight.sum();
  optimizer.zero_grad();
  loss.backward();
  optimizer.step();
  return {loss.item<double>(), (logits.argmax(1) == batch.labels).sum().item<long>()};
}

std::vector<std::size_t> EpochOrder(const std::vector<Example>& train, int max_per_speaker,
                                    std::mt19937_64& rng) {
  std::vector<std::size_t> order;
  if (max_per_speaker <= 0) {
    order.resize(train.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  } else {
    std::map<std::string, std::vector<std::size_t>> by_speaker;
    for (std::size_t i = 0; i < train.size(); ++i) by_speaker[train[i].speaker].push_back(i);
    for (auto& [speaker, files] : by_speaker) {
      std::shuffle(files.begin(), files.end(), rng);
      const std::size_t n = std::min(files.size(), static_cast<std::size_t>(max_per_speaker));
      order.insert(order.end(), files.begin(), files.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

MemberResult TrainMember(torch::jit::Module& module, const std::vector<Example>& train,
                         const Validator& validator, const TrainOptions& opts, BatchMaker& batches,
                         const torch::Tensor& class_weight, std::uint64_t seed, int member,
                         const std::string& tag, const std::string& checkpoint_dir,
                         const std::string& run) {
  const OptimiserOptions& o = opts.optimiser;
  torch::manual_seed(seed);
  MemberState state;
  state.rng.seed(seed);
  std::mt19937_64& rng = state.rng;
  std::vector<torch::Tensor> params;
  for (auto p : module.parameters()) {
    p.requires_grad_(true);
    params.push_back(p);
  }
  torch::optim::AdamW optimizer(params,
                                torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  const int cap = opts.data.max_files_per_speaker;
  std::size_t epoch_size = train.size();
  if (cap > 0) {
    std::map<std::string, std::size_t> per_speaker;
    for (const Example& ex : train) ++per_speaker[ex.speaker];
    epoch_size = 0;
    for (const auto& [speaker, n] : per_speaker) epoch_size += std::min(n, static_cast<std::size_t>(cap));
  }
  const std::size_t steps_per_epoch = (epoch_size + o.batch_size - 1) / o.batch_size;
  const std::size_t total_steps = steps_per_epoch * o.epochs;
  const std::size_t warmup = std::min<std::size_t>(steps_per_epoch, total_steps / 10 + 1);
  std::size_t& step = state.step;

  MemberResult result;
  Snapshot best;
  Snapshot ema = Take(module);
  const bool use_ema = o.ema_decay > 0;
  std::vector<std::size_t>& order = state.order;
  order.resize(train.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto generator = at::detail::getDefaultCPUGenerator();
  if (opts.resume && !checkpoint_dir.empty()) {
    if (auto saved = LoadMemberState(checkpoint_dir, member, run, optimizer)) {
      state = std::move(*saved);
      Restore(module, Unflat(state.weights, module));
      best = Unflat(state.best, module);
      if (!state.ema.empty()) ema = Unflat(state.ema, module);
      {
        std::lock_guard<std::mutex> lock(generator.mutex());
        generator.set_state(state.torch_rng);
      }
      result.history = state.history;
      result.best_epoch = state.best_epoch;
      result.best_val_balanced_accuracy = state.best_val_balanced_accuracy;
      if (!validator.empty() && !best.params.empty()) {  // the kept epoch's metrics, measured again
        module.eval();
        const Snapshot now = Take(module);
        Restore(module, best);
        result.best_val = validator.Score();
        Restore(module, now);
      }
      spdlog::info("{}resumed from '{}' after epoch {}{}", tag, checkpoint_dir, state.epochs_done,
                   state.done ? " (finished)" : "");
    }
  }
  // Writes the state after an epoch (or, done, the kept weights) for --resume.
  const auto checkpoint = [&](int epochs_done) {
    if (checkpoint_dir.empty()) return;
    state.epochs_done = epochs_done;
    state.weights = Flat(Take(module));
    state.best = Flat(best);
    state.ema = use_ema ? Flat(ema) : std::vector<torch::Tensor>{};
    state.history = result.history;
    state.best_epoch = result.best_epoch;
    state.best_val_balanced_accuracy = result.best_val_balanced_accuracy;
    {
      std::lock_guard<std::mutex> lock(generator.mutex());
      state.torch_rng = generator.get_state();
    }
    SaveMemberState(checkpoint_dir, member, run, state, optimizer);
  };
  if (state.done) {
    module.eval();
    for (auto p : module.parameters()) p.requires_grad_(false);
    return result;
  }
  for (int epoch = state.epochs_done + 1; epoch <= o.epochs; ++epoch) {
    const auto te = Clock::now();
    if (cap > 0) {
      order = EpochOrder(train, cap, rng);
    } else {
      std::shuffle(order.begin(), order.end(), rng);  // the same draws as before balancing existed
    }
    module.train(true);
    double loss_sum = 0.0;
    long correct = 0, seen = 0;
    for (std::size_t b = 0; b < order.size(); b += o.batch_size) {
      const std::size_t e = std::min(order.size(), b + o.batch_size);
      if (e - b < 2) break;  // batch normalisation needs two items
      // Learning rate: linear warm-up, then cosine decay to 1% of the peak.
      const double progress = static_cast<double>(step - std::min(step, warmup)) /
                              std::max<double>(1, total_steps - warmup);
      const double lr = step < warmup
                            ? o.lr * (step + 1) / warmup
                            : o.lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(M_PI * progress)));
      for (auto& group : optimizer.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      }
      ++step;
      const StepResult r = TrainStep(module, optimizer, batches.Make(order, b, e, rng), class_weight);
      if (use_ema) UpdateEma(ema, module, std::min(o.ema_decay, (1.0 + step) / (10.0 + step)));
      loss_sum += r.loss * (e - b);
      correct += r.correct;
      seen += static_cast<long>(e - b);
      if (opts.on_progress) opts.on_progress(member, epoch, e, order.size());
    }
    if (opts.on_progress && static_cast<std::size_t>(seen) < order.size()) {
      opts.on_progress(member, epoch, order.size(), order.size());  // a dropped last batch of one
    }
    module.eval();
    Snapshot raw;
    if (use_ema) {  // evaluate (and keep) the averaged weights
      raw = Take(module);
      Restore(module, ema);
    }
    nlohmann::json row = {{"epoch", epoch},
                          {"loss", loss_sum / seen},
                          {"train_accuracy", static_cast<double>(correct) / seen}};
    if (!validator.empty()) {
      const BinaryMetrics m = validator.Score();
      row["val_accuracy"] = m.accuracy;
      row["val_balanced_accuracy"] = m.balanced_accuracy;
      if (m.balanced_accuracy > result.best_val_balanced_accuracy) {
        result.best_val_balanced_accuracy = m.balanced_accuracy;
        result.best_epoch = epoch;
        result.best_val = m;
        best = Take(module);
      }
      spdlog::info("{}epoch {:3d}/{}  loss {:.4f}  train acc {:.2f}%  val acc {:.2f}%  val bal acc "
                   "{:.2f}%  {:.1f} s",
                   tag, epoch, o.epochs, loss_sum / seen, 100.0 * correct / seen, 100 * m.accuracy,
                   100 * m.balanced_accuracy, Seconds(te));
    } else {
      result.best_epoch = epoch;
      spdlog::info("{}epoch {:3d}/{}  loss {:.4f}  train acc {:.2f}%  {:.1f} s", tag, epoch,
                   o.epochs, loss_sum / seen, 100.0 * correct / seen, Seconds(te));
    }
    row["seconds"] = Seconds(te);
    result.history.push_back(row);
    if (use_ema && epoch < o.epochs) Restore(module, raw);
    checkpoint(epoch);
  }
  if (!validator.empty()) {
    Restore(module, best);
    spdlog::info("{}best epoch {} (val bal acc {:.2f}%)", tag, result.best_epoch,
                 100 * result.best_val_balanced_accuracy);
  }
  module.eval();
  state.done = true;
  checkpoint(o.epochs);
  for (auto p : module.parameters()) p.requires_grad_(false);
  return result;
}

}  // namespace voxsex::internal
