// Voice perturbations for training: change what a classifier that follows pitch would follow
// (the fundamental frequency, the vocal effort's spectral tilt) while keeping what says who is
// speaking (the vocal tract's formants), so a man's raised voice stays male and a woman's low
// voice stays female.
#pragma once

#include <cstddef>
#include <vector>

namespace voxsex {

// Linear prediction coefficients a[0..order] (a[0] = 1; prediction error e[n] = sum_k a[k] x[n-k])
// of the Hann-windowed x[0..n) by the autocorrelation method and the Levinson-Durbin recursion
// (Makhoul, "Linear prediction: a tutorial review", Proc. IEEE 1975), with a 1e-4 white-noise
// correction of r[0] so that 1/A(z) is stable. Silence gives a = {1, 0, ..., 0}. Requires
// order >= 1 and n > order; otherwise returns a = {1, 0, ..., 0}. No errors.
std::vector<double> Lpc(const float* x, std::size_t n, int order);

// Shifts the pitch of mono speech by `semitones` (factor 2^(semitones / 12)) and keeps its
// formants and its level (RMS); like speed perturbation, it also shortens the signal by the factor
// (lengthens it for negative semitones): returns floor((x.size() - 1) / factor) + 1 samples.
// LPC analysis-synthesis (an LPC vocoder, Atal and Hanauer, JASA 1971): every 8 ms block gets the
// envelope A(z) of order 2 + sample_rate_hz / 1000 of the 32 ms Hann frame centred on it; the
// prediction residual (spectrally flat: the source, its harmonics at multiples of F0) is read
// `factor` times as fast (linear interpolation), which multiplies its harmonics by the factor, and
// each output sample is filtered through 1/A(z) of the block it was read from, so the formants
// stay. |semitones| is clamped to 12; 0, or a signal shorter than 32 ms, returns a copy. No errors
// (finite samples in; the result is clamped to [-1, 1]).
std::vector<float> ShiftPitch(const std::vector<float>& x, int sample_rate_hz, double semitones);

// Tilts the spectrum like a change of vocal effort, level-matched (same RMS): beta > 0 is the
// pre-emphasis y[n] = x[n] - beta x[n-1], raising the highs against the lows (pressed, loud
// voice); beta < 0 its inverse with |beta|, y[n] = x[n] + |beta| y[n-1], lowering them (soft,
// breathy voice): about 10 dB between 0 and 3 kHz at |beta| = 0.7, 16 kHz. |beta| < 1. No errors.
void TiltSpectrum(std::vector<float>& x, double beta);

}  // namespace voxsex
