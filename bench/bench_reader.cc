// Google Benchmark: reading (libsndfile decode, downmix) and resampling (soxr HQ) to 16 kHz.
//
// Counters: x_real_time = seconds of audio per second of wall time, one thread.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench_util.h"
#include "voxsex/audio.h"
#include "voxsex/error.h"

namespace {

// ReadAudio on one fixture of tests/data (4 s each; formats and rates in tests/data/README.md),
// resampled to 16 kHz as predict does.
void BM_ReadAudio(benchmark::State& state, const std::string& name) {
  const std::string path = std::string(VOXSEX_TEST_DATA) + "/" + name;
  try {
    double duration_s = 0.0;
    for (auto _ : state) {
      voxsex::Audio audio = voxsex::ReadAudio(path);
      duration_s = audio.duration_s();
      benchmark::DoNotOptimize(audio.samples.data());
    }
    state.counters["x_real_time"] = benchmark::Counter(
        duration_s * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  } catch (const voxsex::Error& e) {
    state.SkipWithError(e.what());
  }
}

// Resample alone: 10 s of speech-like audio from from_hz to 16 kHz (in memory).
void BM_Resample(benchmark::State& state) {
  const int from_hz = static_cast<int>(state.range(0));
  constexpr double kDurationS = 10.0;
  const std::vector<float> audio = voxsex::bench::SyntheticSpeech(kDurationS, from_hz);
  for (auto _ : state) {
    std::vector<float> out = voxsex::Resample(audio, from_hz, 16000);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["x_real_time"] = benchmark::Counter(
      kDurationS * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Resample)
    ->ArgName("from_hz")
    ->Arg(8000)
    ->Arg(22050)
    ->Arg(44100)
    ->Arg(48000)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  for (const char* name :
       {"clip_3_wav16_16k_mono.wav", "clip_2_flac16_44k1_stereo.flac",
        "clip_1_aiff24_32k_stereo.aiff", "clip_4_mp3_48k_mono.mp3",
        "clip_5_vorbis_22k05_mono.ogg", "clip_6_ulaw_8k_mono.wav"}) {
    benchmark::RegisterBenchmark((std::string("BM_ReadAudio/") + name).c_str(), BM_ReadAudio,
                                 std::string(name))
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
