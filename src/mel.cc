// Log-mel front end: centre-padded STFT (FFTW r2c, float) -> power spectrum -> Slaney mel
// filterbank (sparse) -> log(x + log_offset).
//
// Reference implementation it must match (torchaudio 0.13):
//   https://github.com/pytorch/audio/blob/v0.13.1/torchaudio/transforms/_transforms.py
//     (Spectrogram, MelScale, MelSpectrogram)
//   https://github.com/pytorch/audio/blob/v0.13.1/torchaudio/functional/functional.py
//     (_hz_to_mel, _mel_to_hz, _create_triangular_filterbank, melscale_fbanks)
// and torch.stft(center=True, pad_mode="reflect"), which pads n_fft / 2 samples on each side and
// centres a win_length window inside n_fft (zero-padding (n_fft - win_length) / 2 on the left).
#include "voxsex/mel.h"

#include <fftw3.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <mutex>
#include <sstream>

#include "fftw_util.h"
#include "voxsex/error.h"

namespace voxsex {
namespace {

using internal::AllocFftw;
using internal::FftwBuffer;
using internal::FftwPlan;

// Slaney mel scale (librosa / torchaudio mel_scale="slaney"): linear below 1 kHz, log above.
constexpr double kFSp = 200.0 / 3.0;
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kFSp;  // 15

double LogStep() { return std::log(6.4) / 27.0; }

double HzToMelSlaney(double hz) {
  if (hz >= kMinLogHz) return kMinLogMel + std::log(hz / kMinLogHz) / LogStep();
  return hz / kFSp;
}

double MelToHzSlaney(double mel) {
  if (mel >= kMinLogMel) return kMinLogHz * std::exp(LogStep() * (mel - kMinLogMel));
  return kFSp * mel;
}

// Filterbank in double precision, [num_mels x n_freqs], row-major.
std::vector<double> MelFilterbankDouble(const MelOptions& opts) {
  const int n_freqs = opts.n_fft / 2 + 1;
  const int num_mels = opts.num_mels;
  // torchaudio: all_freqs = linspace(0, sample_rate // 2, n_freqs).
  std::vector<double> all_freqs(n_freqs);
  const double nyquist_hz = static_cast<double>(opts.sample_rate_hz / 2);
  for (int k = 0; k < n_freqs; ++k) {
    all_freqs[k] = n_freqs == 1 ? 0.0 : nyquist_hz * k / (n_freqs - 1);
  }
  // f_pts = mel_to_hz(linspace(hz_to_mel(f_min), hz_to_mel(f_max), num_mels + 2)).
  const double m_min = HzToMelSlaney(opts.f_min_hz);
  const double m_max = HzToMelSlaney(opts.f_max_hz);
  std::vector<double> f_pts(num_mels + 2);
  for (int i = 0; i < num_mels + 2; ++i) {
    f_pts[i] = MelToHzSlaney(m_min + (m_max - m_min) * i / (num_mels + 1));
  }
  std::vector<double> fb(static_cast<std::size_t>(num_mels) * n_freqs, 0.0);
  for (int m = 0; m < num_mels; ++m) {
    const double lower = f_pts[m], centre = f_pts[m + 1], upper = f_pts[m + 2];
    const double enorm = 2.0 / (upper - lower);  // norm="slaney": constant energy per band
    for (int k = 0; k < n_freqs; ++k) {
      const double down = (all_freqs[k] - lower) / (centre - lower);
      const double up = (upper - all_freqs[k]) / (upper - centre);
      const double w = std::max(0.0, std::min(down, up));
      fb[static_cast<std::size_t>(m) * n_freqs + k] = w * enorm;
    }
  }
  return fb;
}

}  // namespace

void MelOptions::Validate() const {
  auto fail = [this](const std::string& what) {
    throw ConfigError("invalid mel options: " + what + " (" + ToString() + ")");
  };
  if (sample_rate_hz <= 0) fail("sample_rate_hz must be > 0");
  if (n_fft <= 0) fail("n_fft must be > 0");
  if (win_length <= 0 || win_length > n_fft) fail("win_length must be in (0, n_fft]");
  if (hop_length <= 0) fail("hop_length must be > 0");
  if (num_mels <= 0) fail("num_mels must be > 0");
  const double nyquist_hz = sample_rate_hz / 2.0;
  // Negated comparisons so that NaN fails too.
  if (!(f_min_hz >= 0.0f)) fail("f_min_hz must be >= 0");
  if (!(f_min_hz < f_max_hz)) fail("f_min_hz must be < f_max_hz");
  if (!(f_max_hz <= nyquist_hz)) fail("f_max_hz must be <= sample_rate_hz / 2");
  if (!(log_offset > 0.0f) || !std::isfinite(log_offset)) fail("log_offset must be finite and > 0");
}

std::string MelOptions::ToString() const {
  std::ostringstream os;
  os << "MelOptions(sample_rate_hz=" << sample_rate_hz << " Hz, n_fft=" << n_fft
     << " samples, win_length=" << win_length << " samples, hop_length=" << hop_length
     << " samples, num_mels=" << num_mels << ", f_min_hz=" << f_min_hz
     << " Hz, f_max_hz=" << f_max_hz << " Hz, log_offset=" << log_offset << ")";
  return os.str();
}

bool MelOptions::operator==(const MelOptions& o) const {
  return sample_rate_hz == o.sample_rate_hz && n_fft == o.n_fft && win_length == o.win_length &&
         hop_length == o.hop_length && num_mels == o.num_mels && f_min_hz == o.f_min_hz &&
         f_max_hz == o.f_max_hz && log_offset == o.log_offset;
}

int NumFrames(std::size_t num_samples, const MelOptions& opts) {
  opts.Validate();
  // torch.stft(center=True): the signal is padded by n_fft / 2 on each side, then
  // 1 + (padded - n_fft) / hop frames; for even n_fft that is 1 + num_samples / hop_length.
  const std::size_t pad = static_cast<std::size_t>(opts.n_fft / 2);
  const std::size_t padded = num_samples + 2 * pad;
  const std::size_t n_fft = static_cast<std::size_t>(opts.n_fft);
  if (padded < n_fft) return 0;
  const std::size_t frames = 1 + (padded - n_fft) / static_cast<std::size_t>(opts.hop_length);
  if (frames > static_cast<std::size_t>(INT_MAX)) {
    throw ConfigError("NumFrames: " + std::to_string(num_samples) +
                      " samples give more than INT_MAX frames");
  }
  return static_cast<int>(frames);
}

std::vector<float> MelFilterbank(const MelOptions& opts) {
  opts.Validate();
  const std::vector<double> fb = MelFilterbankDouble(opts);
  return std::vector<float>(fb.begin(), fb.end());
}

struct MelFrontend::Impl {
  MelOptions opts;
  int n_freqs = 0;
  int win_offset = 0;  // (n_fft - win_length) / 2: where the window starts inside the frame

  std::vector<float> window;  // periodic Hann, win_length samples

  // Sparse filterbank: band m has weights band_weights[band_begin[m] .. band_begin[m + 1]),
  // applied to power bins band_first_bin[m], band_first_bin[m] + 1, ...
  std::vector<int> band_first_bin;
  std::vector<int> band_begin;
  std::vector<float> band_weights;

  FftwBuffer<float> frame;           // n_fft real input; zero outside the window
  FftwBuffer<fftwf_complex> spectrum;  // n_fft / 2 + 1 bins
  std::unique_ptr<FftwPlan> plan;

  std::vector<float> power;   // n_freqs, reused across frames
  std::vector<float> padded;  // centre-padded signal, reused across calls

  explicit Impl(const MelOptions& o) : opts(o) {
    opts.Validate();
    n_freqs = opts.n_fft / 2 + 1;
    win_offset = (opts.n_fft - opts.win_length) / 2;

    // torch.hann_window(win_length, periodic=True): 0.5 - 0.5 cos(2 pi i / win_length).
    window.resize(opts.win_length);
    const double two_pi = 2.0 * std::acos(-1.0);
    for (int i = 0; i < opts.win_length; ++i) {
      window[i] = static_cast<float>(0.5 - 0.5 * std::cos(two_pi * i / opts.win_length));
    }

    const std::vector<double> fb = MelFilterbankDouble(opts);
    band_first_bin.resize(opts.num_mels);
    band_begin.resize(opts.num_mels + 1);
    for (int m = 0; m < opts.num_mels; ++m) {
      const double* row = fb.data() + static_cast<std::size_t>(m) * n_freqs;
      int first = 0;
      while (first < n_freqs && row[first] == 0.0) ++first;
      int last = n_freqs;  // one past the last non-zero weight
      while (last > first && row[last - 1] == 0.0) --last;
      band_first_bin[m] = first;
      band_begin[m] = static_cast<int>(band_weights.size());
      for (int k = first; k < last; ++k) band_weights.push_back(static_cast<float>(row[k]));
    }
    band_begin[opts.num_mels] = static_cast<int>(band_weights.size());

    frame = AllocFftw<float>(opts.n_fft);
    spectrum = AllocFftw<fftwf_complex>(n_freqs);
    std::memset(frame.get(), 0, sizeof(float) * opts.n_fft);
    // FFTW_PRESERVE_INPUT keeps the zero padding around the window intact between frames.
    plan = std::make_unique<FftwPlan>(
        FftwPlan::R2c(opts.n_fft, frame.get(), spectrum.get(), FFTW_PRESERVE_INPUT));
    power.resize(n_freqs);
  }

  // Fills `padded` with the signal padded by n_fft / 2 on each side: reflect (without repeating
  // the edge sample, as torch pad_mode="reflect") when the signal is long enough, zeros otherwise.
  void Pad(const float* x, std::size_t n) {
    const std::size_t pad = static_cast<std::size_t>(opts.n_fft / 2);
    padded.resize(n + 2 * pad);
    float* p = padded.data();
    std::copy(x, x + n, p + pad);
    if (n > pad) {
      for (std::size_t i = 0; i < pad; ++i) {
        p[pad - 1 - i] = x[i + 1];            // left: x[pad], ..., x[1]
        p[pad + n + i] = x[n - 2 - i];        // right: x[n - 2], ..., x[n - 1 - pad]
      }
    } else {
      std::fill(p, p + pad, 0.0f);
      std::fill(p + pad + n, p + n + 2 * pad, 0.0f);
    }
  }

  LogMel Compute(const float* samples, std::size_t num_samples) {
    if (num_samples == 0) {
      throw ConfigError("MelFrontend::Compute: expected at least 1 sample, got 0");
    }
    if (samples == nullptr) throw ConfigError("MelFrontend::Compute: samples is null");
    const int num_frames = NumFrames(num_samples, opts);
    const int num_mels = opts.num_mels;
    LogMel out;
    out.num_frames = num_frames;
    out.num_mels = num_mels;
    out.data.resize(static_cast<std::size_t>(num_frames) * num_mels);

    Pad(samples, num_samples);
    float* const in = frame.get() + win_offset;
    const float* const w = window.data();
    const int win_length = opts.win_length;
    const float* const spec = reinterpret_cast<const float*>(spectrum.get());
    float* const pw = power.data();
    const float log_offset = opts.log_offset;

    for (int t = 0; t < num_frames; ++t) {
      const float* src = padded.data() + static_cast<std::size_t>(t) * opts.hop_length + win_offset;
      for (int i = 0; i < win_length; ++i) in[i] = src[i] * w[i];
      plan->Execute();
      for (int k = 0; k < n_freqs; ++k) {
        const float re = spec[2 * k], im = spec[2 * k + 1];
        pw[k] = re * re + im * im;
      }
      float* dst = out.data.data() + static_cast<std::size_t>(t) * num_mels;
      for (int m = 0; m < num_mels; ++m) {
        const float* bw = band_weights.data() + band_begin[m];
        const float* bp = pw + band_first_bin[m];
        const int len = band_begin[m + 1] - band_begin[m];
        float acc = 0.0f;
        for (int j = 0; j < len; ++j) acc += bw[j] * bp[j];
        dst[m] = std::log(acc + log_offset);
      }
    }
    return out;
  }
};

MelFrontend::MelFrontend(const MelOptions& opts) : impl_(std::make_unique<Impl>(opts)) {}
MelFrontend::~MelFrontend() = default;

const MelOptions& MelFrontend::options() const { return impl_->opts; }

LogMel MelFrontend::Compute(const float* samples, std::size_t num_samples) {
  return impl_->Compute(samples, num_samples);
}

}  // namespace voxsex
