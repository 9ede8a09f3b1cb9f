// Google Benchmark: model load and forward (GenderModel::Predict) with the bundled model.
//
// Counters: x_real_time = seconds of audio classified per second of wall time (LibTorch
// intra-op threads as given by the torch_threads argument).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench_util.h"
#include "voxsex/error.h"
#include "voxsex/mel.h"
#include "voxsex/model.h"

namespace {

// The model benchmarked: $VOXSEX_MODEL, else the bundled models/voxsex.pt.
std::string ModelPath() { return voxsex::DefaultModelPath(); }

// Args: batch (log-mels per Predict call), seconds (length of each), torch_threads.
// One Predict call cuts inputs longer than 10 s into windows and runs batches of 32 windows,
// padded to a multiple of 16 frames, as predict does.
void BM_ModelPredict(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const double duration_s = static_cast<double>(state.range(1));
  voxsex::ModelOptions opts;
  opts.num_threads = static_cast<int>(state.range(2));
  const std::string path = ModelPath();
  if (path.empty()) {
    state.SkipWithError("no model: set VOXSEX_MODEL");
    return;
  }
  try {
    const voxsex::GenderModel model = voxsex::GenderModel::Load(path, opts);
    voxsex::MelFrontend frontend(model.mel_options());
    std::string source;
    const voxsex::LogMel mel = frontend.Compute(voxsex::bench::SpeechAudio(duration_s, &source));
    const std::vector<const voxsex::LogMel*> inputs(batch, &mel);
    benchmark::DoNotOptimize(model.Predict(inputs));  // warm-up: oneDNN builds its kernels per shape
    for (auto _ : state) {
      auto predictions = model.Predict(inputs);
      benchmark::DoNotOptimize(predictions.data());
    }
    const double audio_s = batch * duration_s * static_cast<double>(state.iterations());
    state.counters["x_real_time"] = benchmark::Counter(audio_s, benchmark::Counter::kIsRate);
    state.counters["files_per_s"] =
        benchmark::Counter(static_cast<double>(batch) * state.iterations(),
                           benchmark::Counter::kIsRate);
    state.SetLabel(source);
  } catch (const voxsex::Error& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(BM_ModelPredict)
    ->ArgNames({"batch", "seconds", "torch_threads"})
    ->Args({32, 4, 1})
    ->Args({32, 4, 2})
    ->Args({32, 10, 1})
    ->Args({32, 10, 2})
    ->Args({1, 4, 1})
    ->Args({1, 60, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// GenderModel::Load: TorchScript deserialisation and metadata checks, part of predict's start-up.
void BM_ModelLoad(benchmark::State& state) {
  const std::string path = ModelPath();
  if (path.empty()) {
    state.SkipWithError("no model: set VOXSEX_MODEL");
    return;
  }
  try {
    for (auto _ : state) {
      voxsex::GenderModel model = voxsex::GenderModel::Load(path);
      benchmark::DoNotOptimize(&model);
    }
  } catch (const voxsex::Error& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(BM_ModelLoad)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
