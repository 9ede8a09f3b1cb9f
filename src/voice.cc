#include "voxsex/voice.h"

#include <algorithm>
#include <cmath>

namespace voxsex {
namespace {

double Rms(const std::vector<float>& x) {
  double s = 0.0;
  for (float v : x) s += static_cast<double>(v) * v;
  return x.empty() ? 0.0 : std::sqrt(s / static_cast<double>(x.size()));
}

// Scales y to the RMS of `like` and clamps it to [-1, 1].
void MatchLevel(std::vector<float>& y, double target_rms) {
  const double rms = Rms(y);
  const double g = rms > 1e-12 ? target_rms / rms : 0.0;
  for (float& v : y) v = static_cast<float>(std::clamp(v * g, -1.0, 1.0));
}

// Periodic Hann window of n points.
std::vector<double> Hann(std::size_t n) {
  std::vector<double> w(n);
  for (std::size_t i = 0; i < n; ++i) w[i] = 0.5 - 0.5 * std::cos(2.0 * M_PI * i / n);
  return w;
}

}  // namespace

std::vector<double> Lpc(const float* x, std::size_t n, int order) {
  std::vector<double> a(static_cast<std::size_t>(std::max(order, 0)) + 1, 0.0);
  a[0] = 1.0;
  if (order < 1 || n <= static_cast<std::size_t>(order)) return a;
  const std::vector<double> w = Hann(n);
  std::vector<double> xw(n);
  for (std::size_t i = 0; i < n; ++i) xw[i] = x[i] * w[i];
  std::vector<double> r(order + 1, 0.0);
  for (int k = 0; k <= order; ++k) {
    for (std::size_t i = static_cast<std::size_t>(k); i < n; ++i) r[k] += xw[i] * xw[i - k];
  }
  if (!(r[0] > 1e-20)) return a;
  r[0] *= 1.0 + 1e-4;  // white-noise correction: a well-conditioned, stable solution
  // Levinson-Durbin.
  double err = r[0];
  std::vector<double> prev(a.size());
  for (int i = 1; i <= order; ++i) {
    double acc = r[i];
    for (int j = 1; j < i; ++j) acc += a[j] * r[i - j];
    const double k = -acc / err;
    prev = a;
    for (int j = 1; j < i; ++j) a[j] = prev[j] + k * prev[i - j];
    a[i] = k;
    err *= 1.0 - k * k;
    if (!(err > 0.0)) break;
  }
  return a;
}

std::vector<float> ShiftPitch(const std::vector<float>& x, int sample_rate_hz, double semitones) {
  const auto hop = static_cast<std::size_t>(std::lround(0.008 * sample_rate_hz));
  const std::size_t frame = 4 * hop;
  if (semitones == 0.0 || sample_rate_hz <= 0 || x.size() < frame) return x;
  const double factor = std::pow(2.0, std::clamp(semitones, -12.0, 12.0) / 12.0);
  const int order = 2 + sample_rate_hz / 1000;
  const auto at = [&x](long i) -> float {
    return i >= 0 && i < static_cast<long>(x.size()) ? x[static_cast<std::size_t>(i)] : 0.0f;
  };
  // The envelope of each hop-long block: LPC of the frame centred on it.
  const std::size_t blocks = (x.size() + hop - 1) / hop;
  std::vector<std::vector<double>> envelope(blocks);
  std::vector<float> segment(frame);
  for (std::size_t b = 0; b < blocks; ++b) {
    const long start = static_cast<long>(b * hop + hop / 2) - static_cast<long>(frame / 2);
    for (std::size_t i = 0; i < frame; ++i) segment[i] = at(start + static_cast<long>(i));
    envelope[b] = Lpc(segment.data(), frame, order);
  }
  // The residual (the source), each sample through its block's A(z).
  std::vector<double> residual(x.size());
  for (std::size_t n = 0; n < x.size(); ++n) {
    const std::vector<double>& a = envelope[n / hop];
    double e = 0.0;
    for (int k = 0; k <= order; ++k) e += a[k] * at(static_cast<long>(n) - k);
    residual[n] = e;
  }
  // The source read `factor` times as fast, through the envelope of the time it was read at.
  const std::size_t out_len = static_cast<std::size_t>((x.size() - 1) / factor) + 1;
  std::vector<float> y(out_len);
  std::vector<double> synth(out_len);
  for (std::size_t m = 0; m < out_len; ++m) {
    const double pos = m * factor;
    const auto i0 = std::min(static_cast<std::size_t>(pos), x.size() - 1);
    const double f = pos - static_cast<double>(i0);
    const double v1 = i0 + 1 < x.size() ? residual[i0 + 1] : 0.0;
    const std::vector<double>& a = envelope[std::min(i0 / hop, blocks - 1)];
    double v = residual[i0] + f * (v1 - residual[i0]);
    for (int k = 1; k <= order && static_cast<std::size_t>(k) <= m; ++k) v -= a[k] * synth[m - k];
    synth[m] = v;
    y[m] = static_cast<float>(v);
  }
  MatchLevel(y, Rms(x));
  return y;
}

void TiltSpectrum(std::vector<float>& x, double beta) {
  if (x.empty() || beta == 0.0) return;
  const double rms = Rms(x);
  double prev = 0.0;
  for (float& v : x) {
    const double cur = v;
    if (beta > 0) {  // pre-emphasis: 1 - beta z^-1
      v = static_cast<float>(cur - beta * prev);
      prev = cur;
    } else {  // de-emphasis: 1 / (1 + beta z^-1), its inverse
      prev = cur - beta * prev;
      v = static_cast<float>(prev);
    }
  }
  MatchLevel(x, rms);
}

}  // namespace voxsex
