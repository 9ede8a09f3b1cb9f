// Google Benchmark: the log-mel front end (MelFrontend::Compute) on speech audio.
//
// Counters: x_real_time = seconds of audio per second of wall time, all benchmark threads
// together; x_real_time_per_thread = the same per thread (one MelFrontend per thread, as predict
// uses them). The target is >= 5,000x real time per core.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench_util.h"
#include "voxsex/mel.h"

namespace {

// Args: seconds of audio per Compute call. Each benchmark thread has its own MelFrontend.
void BM_MelFrontendCompute(benchmark::State& state) {
  const double duration_s = static_cast<double>(state.range(0));
  std::string source;
  const std::vector<float> audio = voxsex::bench::SpeechAudio(duration_s, &source);
  voxsex::MelFrontend frontend(voxsex::MelOptions{});
  for (auto _ : state) {
    voxsex::LogMel mel = frontend.Compute(audio);
    benchmark::DoNotOptimize(mel.data.data());
    benchmark::ClobberMemory();
  }
  const double audio_s = duration_s * static_cast<double>(state.iterations());
  state.counters["x_real_time"] = benchmark::Counter(audio_s, benchmark::Counter::kIsRate);
  state.counters["x_real_time_per_thread"] =
      benchmark::Counter(audio_s, benchmark::Counter::kIsRate | benchmark::Counter::kAvgThreads);
  state.SetLabel(source);
}
BENCHMARK(BM_MelFrontendCompute)
    ->ArgName("seconds")
    ->Arg(1)
    ->Arg(10)
    ->Arg(60)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Building a MelFrontend: window, Slaney filterbank, FFTW plan (FFTW_ESTIMATE). Predict builds
// one per worker thread per run.
void BM_MelFrontendConstruct(benchmark::State& state) {
  for (auto _ : state) {
    voxsex::MelFrontend frontend(voxsex::MelOptions{});
    benchmark::DoNotOptimize(&frontend);
  }
}
BENCHMARK(BM_MelFrontendConstruct)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
