// Training-time waveform augmentation. References:
//   noise mixing at an SNR and babble: Snyder et al., "X-vectors: robust DNN embeddings for speaker
//     recognition", ICASSP 2018 (MUSAN noise/babble at 0-20 dB, simulated RIRs);
//   synthetic room impulse responses (exponentially decaying noise): Lehmann & Johansson, JASA 2008;
//   pink noise: Paul Kellet's refined filter, https://www.firstpr.com.au/dsp/pink-noise/
//   biquads: RBJ Audio EQ Cookbook (as torchaudio.functional.highpass_biquad / lowpass_biquad);
//   u-law: ITU-T G.711 (mu = 255), as torchaudio.functional.mu_law_encoding / decoding;
//   lossy codecs: libsndfile's Ogg Opus and MP3 (LAME) writers and readers, through its virtual I/O;
//   speed perturbation: Ko et al., "Audio augmentation for speech recognition", Interspeech 2015.
#include "voxsex/augment.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <sstream>
#include <string>

#include <sndfile.h>

#include "fftw_util.h"
#include "voxsex/audio.h"
#include "voxsex/voice.h"
#include "voxsex/error.h"

namespace voxsex {
namespace {

using internal::AllocFftw;
using internal::FftwBuffer;
using internal::FftwPlan;

double Power(const std::vector<float>& x) {
  if (x.empty()) return 0.0;
  double s = 0.0;
  for (float v : x) s += static_cast<double>(v) * v;
  return s / static_cast<double>(x.size());
}

void Scale(std::vector<float>& x, double g) {
  for (float& v : x) v = static_cast<float>(v * g);
}

double Uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo == hi ? lo : std::uniform_real_distribution<double>(lo, hi)(rng);
}

bool Draw(std::mt19937_64& rng, double prob) {
  return prob > 0.0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng) < prob;
}

// Second-order section, RBJ cookbook, direct form I, Q = 1/sqrt(2) (Butterworth).
struct Biquad {
  double b0, b1, b2, a1, a2;

  static Biquad Make(bool highpass, double cutoff_hz, int sample_rate_hz) {
    const double w0 = 2.0 * M_PI * cutoff_hz / sample_rate_hz;
    const double alpha = std::sin(w0) / (2.0 * M_SQRT1_2);
    const double c = std::cos(w0);
    const double a0 = 1.0 + alpha;
    const double b1 = highpass ? -(1.0 + c) : 1.0 - c;
    const double b0 = highpass ? (1.0 + c) / 2.0 : (1.0 - c) / 2.0;
    return {b0 / a0, b1 / a0, b0 / a0, -2.0 * c / a0, (1.0 - alpha) / a0};
  }

  void Run(std::vector<float>& x) const {
    double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
    for (float& v : x) {
      const double y = b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
      x2 = x1;
      x1 = v;
      y2 = y1;
      y1 = y;
      v = static_cast<float>(y);
    }
  }
};

}  // namespace

AugmentOptions ScaleProbabilities(AugmentOptions opts, double scale) {
  for (double* p : {&opts.noise_prob, &opts.reverb_prob, &opts.telephone_prob, &opts.codec_prob,
                    &opts.clip_prob, &opts.speed_prob, &opts.pitch_prob, &opts.tilt_prob}) {
    *p *= scale;
  }
  return opts;
}

void AugmentOptions::Validate() const {
  for (const double p :
       {noise_prob, reverb_prob, telephone_prob, codec_prob, clip_prob, speed_prob, pitch_prob,
        tilt_prob}) {
    if (!(p >= 0.0 && p <= 1.0)) throw ConfigError("augmentation probabilities must be in [0, 1]");
  }
  if (!(codec_min_level >= 0 && codec_max_level >= codec_min_level && codec_max_level <= 1)) {
    throw ConfigError("codec levels must satisfy 0 <= codec_min_level <= codec_max_level <= 1");
  }
  if (!(snr_min_db >= -20 && snr_max_db >= snr_min_db && snr_max_db <= 100)) {
    throw ConfigError("SNR range must satisfy -20 <= snr_min_db <= snr_max_db <= 100");
  }
  if (babble_min_talkers < 1 || babble_max_talkers < babble_min_talkers || babble_max_talkers > 32) {
    throw ConfigError("babble talkers must satisfy 1 <= min <= max <= 32");
  }
  if (!(rt60_min_s >= 0.05 && rt60_max_s >= rt60_min_s && rt60_max_s <= 3.0)) {
    throw ConfigError("RT60 range must satisfy 0.05 <= rt60_min_s <= rt60_max_s <= 3 s");
  }
  if (!(clip_min_db >= 0 && clip_max_db >= clip_min_db && clip_max_db <= 60)) {
    throw ConfigError("clipping gain range must satisfy 0 <= clip_min_db <= clip_max_db <= 60");
  }
  if (!(speed_range >= 0 && speed_range <= 0.3)) throw ConfigError("speed_range must be in [0, 0.3]");
  if (!(gain_db >= 0 && gain_db <= 60)) throw ConfigError("gain_db must be in [0, 60]");
  if (!(pitch_semitones >= 0 && pitch_semitones <= 12)) {
    throw ConfigError("pitch_semitones must be in [0, 12]");
  }
  if (!(tilt_max >= 0 && tilt_max < 1)) throw ConfigError("tilt_max must be in [0, 1)");
}

std::string AugmentOptions::ToString() const {
  std::ostringstream s;
  s << "AugmentOptions(noise_prob=" << noise_prob << ", snr_db=[" << snr_min_db << ", "
    << snr_max_db << "], babble_talkers=[" << babble_min_talkers << ", " << babble_max_talkers
    << "], reverb_prob=" << reverb_prob << ", rt60_s=[" << rt60_min_s << ", " << rt60_max_s
    << "], telephone_prob=" << telephone_prob << ", codec_prob=" << codec_prob << ", codec_level=["
    << codec_min_level << ", " << codec_max_level << "], clip_prob=" << clip_prob << ", clip_db=["
    << clip_min_db << ", " << clip_max_db << "], speed_prob=" << speed_prob
    << ", speed_range=" << speed_range << ", pitch_prob=" << pitch_prob
    << ", pitch_semitones=" << pitch_semitones << ", tilt_prob=" << tilt_prob
    << ", tilt_max=" << tilt_max << ", gain_db=" << gain_db << ")";
  return s.str();
}

bool AugmentOptions::IsIdentity() const {
  return noise_prob == 0 && reverb_prob == 0 && telephone_prob == 0 && codec_prob == 0 &&
         clip_prob == 0 &&
         speed_prob == 0 && pitch_prob == 0 && tilt_prob == 0 && gain_db == 0;
}

struct Augmenter::Impl {
  AugmentOptions opts;
  int sample_rate_hz = 0;
  std::vector<const std::vector<float>*> pool;
  std::vector<const std::vector<float>*> noise_pool;
  // Overlap-add convolution: FFT size n_fft, blocks of n_fft / 2 samples, impulse responses of at
  // most n_fft / 2 samples.
  int n_fft = 0;
  FftwBuffer<float> time;
  FftwBuffer<fftwf_complex> spec;
  FftwBuffer<fftwf_complex> rir_spec;
  std::unique_ptr<FftwPlan> forward;
  std::unique_ptr<FftwPlan> inverse;
};

Augmenter::Augmenter(const AugmentOptions& opts, int sample_rate_hz,
                     std::vector<const std::vector<float>*> babble_pool,
                     std::vector<const std::vector<float>*> noise_pool)
    : impl_(std::make_unique<Impl>()) {
  opts.Validate();
  if (sample_rate_hz < 8000 || sample_rate_hz > 192000) {
    throw ConfigError("Augmenter: sample rate must be in [8000, 192000] Hz, not " +
                      std::to_string(sample_rate_hz));
  }
  Impl& m = *impl_;
  m.opts = opts;
  m.sample_rate_hz = sample_rate_hz;
  m.pool = std::move(babble_pool);
  for (const auto* clip : noise_pool) {
    if (clip != nullptr && !clip->empty()) m.noise_pool.push_back(clip);
  }
  // Impulse responses up to ~0.5 s: the tail of an RT60 of 1 s is then 30 dB down.
  int half = 1;
  while (half < sample_rate_hz / 2) half *= 2;
  m.n_fft = 2 * half;
  m.time = AllocFftw<float>(m.n_fft);
  m.spec = AllocFftw<fftwf_complex>(m.n_fft / 2 + 1);
  m.rir_spec = AllocFftw<fftwf_complex>(m.n_fft / 2 + 1);
  m.forward = std::make_unique<FftwPlan>(FftwPlan::R2c(m.n_fft, m.time.get(), m.spec.get()));
  m.inverse = std::make_unique<FftwPlan>(FftwPlan::C2r(m.n_fft, m.spec.get(), m.time.get()));
}

Augmenter::~Augmenter() = default;

void Augmenter::MixAtSnr(std::vector<float>& x, const std::vector<float>& noise, double snr_db) {
  if (x.empty() || noise.empty()) return;
  std::vector<float> n(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) n[i] = noise[i % noise.size()];
  const double ps = Power(x), pn = Power(n);
  if (ps <= 0.0 || pn <= 0.0) return;
  const double g = std::sqrt(ps / (pn * std::pow(10.0, snr_db / 10.0)));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(x[i] + g * n[i]);
}

std::vector<float> Augmenter::PinkNoise(std::size_t n, std::mt19937_64& rng) {
  std::normal_distribution<double> white(0.0, 1.0);
  double b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
  std::vector<float> out(n);
  const std::size_t warmup = 4096;  // the slowest pole (0.99886) settles in a few thousand samples
  for (std::size_t i = 0; i < n + warmup; ++i) {
    const double w = white(rng);
    b0 = 0.99886 * b0 + w * 0.0555179;
    b1 = 0.99332 * b1 + w * 0.0750759;
    b2 = 0.96900 * b2 + w * 0.1538520;
    b3 = 0.86650 * b3 + w * 0.3104856;
    b4 = 0.55000 * b4 + w * 0.5329522;
    b5 = -0.7616 * b5 - w * 0.0168980;
    const double pink = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
    b6 = w * 0.115926;
    if (i >= warmup) out[i - warmup] = static_cast<float>(pink);
  }
  const double p = Power(out);
  if (p > 0) Scale(out, 1.0 / std::sqrt(p));
  return out;
}

std::vector<float> Augmenter::Telephone(const std::vector<float>& x, int sample_rate_hz) {
  if (x.empty()) return x;
  std::vector<float> y = x;
  Biquad::Make(true, 300.0, sample_rate_hz).Run(y);
  Biquad::Make(false, 3400.0, sample_rate_hz).Run(y);
  y = Resample(y, sample_rate_hz, 8000);
  constexpr double mu = 255.0;
  for (float& v : y) {  // G.711 u-law: 8-bit code, then back
    const double c = std::clamp(static_cast<double>(v), -1.0, 1.0);
    const double enc = std::copysign(std::log1p(mu * std::fabs(c)) / std::log1p(mu), c);
    const double q = std::round((enc + 1.0) / 2.0 * mu);  // 0..255
    const double dec = q / mu * 2.0 - 1.0;
    v = static_cast<float>(std::copysign((std::pow(1.0 + mu, std::fabs(dec)) - 1.0) / mu, dec));
  }
  y = Resample(y, 8000, sample_rate_hz);
  y.resize(x.size(), 0.0f);
  return y;
}

void Augmenter::Reverb(std::vector<float>& x, double rt60_s, std::mt19937_64& rng) {
  Impl& m = *impl_;
  if (x.empty()) return;
  const double p_in = Power(x);
  if (p_in <= 0.0) return;
  const int block = m.n_fft / 2;
  const int rir_len = std::clamp(static_cast<int>(1.2 * rt60_s * m.sample_rate_hz), 2, block);
  // Direct path, a pre-delay gap of 0-10 ms, then exponentially decaying Gaussian noise (60 dB
  // down after rt60_s). The direct-to-reverberant energy ratio is drawn in [-25, 10] dB.
  std::normal_distribution<double> gauss(0.0, 1.0);
  const int gap = static_cast<int>(Uniform(rng, 0.0, 0.010) * m.sample_rate_hz) + 1;
  std::vector<double> rir(rir_len, 0.0);
  double tail_energy = 0.0;
  for (int n = gap; n < rir_len; ++n) {
    rir[n] = gauss(rng) * std::exp(-6.9078 * n / (rt60_s * m.sample_rate_hz));
    tail_energy += rir[n] * rir[n];
  }
  const double drr_db = Uniform(rng, -25.0, 10.0);
  const double tail_gain =
      tail_energy > 0 ? std::sqrt(1.0 / (tail_energy * std::pow(10.0, drr_db / 10.0))) : 0.0;
  rir[0] = 1.0;
  std::fill(m.time.get(), m.time.get() + m.n_fft, 0.0f);
  for (int n = 0; n < rir_len; ++n) m.time[n] = static_cast<float>(n == 0 ? 1.0 : rir[n] * tail_gain);
  m.forward->Execute();
  std::memcpy(m.rir_spec.get(), m.spec.get(), sizeof(fftwf_complex) * (m.n_fft / 2 + 1));
  // Overlap-add, blocks of `block` samples: each block's linear convolution fits in n_fft.
  std::vector<float> out(x.size(), 0.0f);
  const std::size_t n_bins = m.n_fft / 2 + 1;
  for (std::size_t start = 0; start < x.size(); start += block) {
    const std::size_t len = std::min<std::size_t>(block, x.size() - start);
    std::fill(m.time.get(), m.time.get() + m.n_fft, 0.0f);
    std::copy(x.begin() + start, x.begin() + start + len, m.time.get());
    m.forward->Execute();
    for (std::size_t k = 0; k < n_bins; ++k) {
      const std::complex<float> a(m.spec[k][0], m.spec[k][1]);
      const std::complex<float> b(m.rir_spec[k][0], m.rir_spec[k][1]);
      const std::complex<float> c = a * b;
      m.spec[k][0] = c.real();
      m.spec[k][1] = c.imag();
    }
    m.inverse->Execute();
    const std::size_t avail = std::min<std::size_t>(m.n_fft, x.size() - start);
    for (std::size_t i = 0; i < avail; ++i) out[start + i] += m.time[i] / m.n_fft;
  }
  const double p_out = Power(out);
  if (p_out > 0.0) Scale(out, std::sqrt(p_in / p_out));
  x.swap(out);
}

std::vector<float> Augmenter::Babble(std::size_t n, int talkers, std::mt19937_64& rng) const {
  const Impl& m = *impl_;
  std::vector<float> sum(n, 0.0f);
  if (m.pool.empty() || n == 0) return sum;
  std::uniform_int_distribution<std::size_t> pick(0, m.pool.size() - 1);
  for (int k = 0; k < talkers; ++k) {
    const std::vector<float>& u = *m.pool[pick(rng)];
    if (u.empty()) continue;
    const std::size_t offset = std::uniform_int_distribution<std::size_t>(0, u.size() - 1)(rng);
    std::vector<float> talker(n);
    for (std::size_t i = 0; i < n; ++i) talker[i] = u[(offset + i) % u.size()];
    const double p = Power(talker);
    if (p <= 0.0) continue;
    const double g = 1.0 / std::sqrt(p);
    for (std::size_t i = 0; i < n; ++i) sum[i] = static_cast<float>(sum[i] + g * talker[i]);
  }
  return sum;
}

std::vector<float> Augmenter::RecordedNoise(std::size_t n, std::mt19937_64& rng) const {
  const auto& pool = impl_->noise_pool;
  if (pool.empty()) return {};
  const std::vector<float>& clip =
      *pool[std::uniform_int_distribution<std::size_t>(0, pool.size() - 1)(rng)];
  std::size_t at = std::uniform_int_distribution<std::size_t>(0, clip.size() - 1)(rng);
  std::vector<float> noise(n);
  for (float& v : noise) {
    v = clip[at];
    if (++at == clip.size()) at = 0;
  }
  return noise;
}

namespace {

// An in-memory file for libsndfile's virtual I/O (SF_VIRTUAL_IO).
struct MemoryFile {
  std::string data;
  sf_count_t pos = 0;

  static sf_count_t Length(void* self) { return static_cast<sf_count_t>(Get(self).data.size()); }
  static sf_count_t Seek(sf_count_t offset, int whence, void* self) {
    MemoryFile& m = Get(self);
    const sf_count_t base = whence == SEEK_SET   ? 0
                            : whence == SEEK_CUR ? m.pos
                                                 : static_cast<sf_count_t>(m.data.size());
    m.pos = std::max<sf_count_t>(0, base + offset);
    return m.pos;
  }
  static sf_count_t Read(void* dst, sf_count_t n, void* self) {
    MemoryFile& m = Get(self);
    const sf_count_t size = static_cast<sf_count_t>(m.data.size());
    n = std::clamp<sf_count_t>(size - m.pos, 0, n);
    if (n > 0) std::memcpy(dst, m.data.data() + m.pos, static_cast<std::size_t>(n));
    m.pos += n;
    return n;
  }
  static sf_count_t Write(const void* src, sf_count_t n, void* self) {
    MemoryFile& m = Get(self);
    if (static_cast<sf_count_t>(m.data.size()) < m.pos + n) {
      m.data.resize(static_cast<std::size_t>(m.pos + n));
    }
    std::memcpy(m.data.data() + m.pos, src, static_cast<std::size_t>(n));
    m.pos += n;
    return n;
  }
  static sf_count_t Tell(void* self) { return Get(self).pos; }
  static MemoryFile& Get(void* self) { return *static_cast<MemoryFile*>(self); }
};

}  // namespace

std::vector<float> Augmenter::CodecRoundTrip(const std::vector<float>& x, int sample_rate_hz,
                                             Codec codec, double level) {
  if (x.empty()) return x;
  SF_VIRTUAL_IO io{MemoryFile::Length, MemoryFile::Seek, MemoryFile::Read, MemoryFile::Write,
                   MemoryFile::Tell};
  MemoryFile file;
  SF_INFO info{};
  info.samplerate = sample_rate_hz;
  info.channels = 1;
  info.format = codec == Codec::kOpus ? (SF_FORMAT_OGG | SF_FORMAT_OPUS)
                                      : (SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III);
  if (!sf_format_check(&info)) return x;
  SNDFILE* out = sf_open_virtual(&io, SFM_WRITE, &info, &file);
  if (out == nullptr) return x;
  int mode = SF_BITRATE_MODE_CONSTANT;
  sf_command(out, SFC_SET_BITRATE_MODE, &mode, sizeof mode);
  sf_command(out, SFC_SET_COMPRESSION_LEVEL, &level, sizeof level);
  const auto n = static_cast<sf_count_t>(x.size());
  const bool written = sf_writef_float(out, x.data(), n) == n;
  if (sf_close(out) != 0 || !written) return x;
  file.pos = 0;
  SF_INFO in_info{};
  SNDFILE* in = sf_open_virtual(&io, SFM_READ, &in_info, &file);
  if (in == nullptr) return x;
  std::vector<float> y(x.size(), 0.0f);
  if (in_info.channels == 1 && in_info.samplerate == sample_rate_hz) {
    const sf_count_t got = sf_readf_float(in, y.data(), n);
    if (got <= 0) y = x;
  } else {
    y = x;
  }
  sf_close(in);
  return y;
}

std::vector<float> Augmenter::Apply(const std::vector<float>& samples, std::mt19937_64& rng) {
  const Impl& m = *impl_;
  const AugmentOptions& o = m.opts;
  std::vector<float> x = samples;
  if (x.empty()) return x;
  if (Draw(rng, o.speed_prob)) {
    const double factor = Uniform(rng, 1.0 - o.speed_range, 1.0 + o.speed_range);
    const int from_hz = static_cast<int>(std::lround(m.sample_rate_hz * factor));
    if (from_hz != m.sample_rate_hz) {
      std::vector<float> y = Resample(x, from_hz, m.sample_rate_hz);
      if (!y.empty()) x.swap(y);
    }
  }
  if (Draw(rng, o.pitch_prob)) {
    std::vector<float> y =
        ShiftPitch(x, m.sample_rate_hz, Uniform(rng, -o.pitch_semitones, o.pitch_semitones));
    if (!y.empty()) x.swap(y);
  }
  if (Draw(rng, o.tilt_prob)) TiltSpectrum(x, Uniform(rng, -o.tilt_max, o.tilt_max));
  if (Draw(rng, o.reverb_prob)) Reverb(x, Uniform(rng, o.rt60_min_s, o.rt60_max_s), rng);
  if (Draw(rng, o.noise_prob)) {
    const double snr_db = Uniform(rng, o.snr_min_db, o.snr_max_db);
    const int kind = std::uniform_int_distribution<int>(0, m.noise_pool.empty() ? 2 : 3)(rng);
    std::vector<float> noise;
    if (kind == 3) {
      noise = RecordedNoise(x.size(), rng);
    } else if (kind == 0) {
      std::normal_distribution<float> white(0.0f, 1.0f);
      noise.resize(x.size());
      for (float& v : noise) v = white(rng);
    } else if (kind == 1 || m.pool.empty()) {
      noise = PinkNoise(x.size(), rng);
    } else {
      const int talkers =
          std::uniform_int_distribution<int>(o.babble_min_talkers, o.babble_max_talkers)(rng);
      noise = Babble(x.size(), talkers, rng);
    }
    MixAtSnr(x, noise, snr_db);
  }
  if (Draw(rng, o.telephone_prob)) x = Telephone(x, m.sample_rate_hz);
  if (Draw(rng, o.codec_prob)) {
    const auto codec = std::uniform_int_distribution<int>(0, 1)(rng) == 0 ? Codec::kOpus : Codec::kMp3;
    x = CodecRoundTrip(x, m.sample_rate_hz, codec, Uniform(rng, o.codec_min_level, o.codec_max_level));
  }
  if (Draw(rng, o.clip_prob)) {
    const double g = std::pow(10.0, Uniform(rng, o.clip_min_db, o.clip_max_db) / 20.0);
    for (float& v : x) v = static_cast<float>(std::clamp(v * g, -1.0, 1.0));
  }
  if (o.gain_db > 0) Scale(x, std::pow(10.0, Uniform(rng, -o.gain_db, o.gain_db) / 20.0));
  return x;
}

}  // namespace voxsex
