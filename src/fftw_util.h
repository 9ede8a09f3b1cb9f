// FFTW RAII helpers shared by the front end (mel.cc) and training augmentation (augment.cc).
// Internal: not part of the public API.
#pragma once

#include <fftw3.h>

#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "voxsex/error.h"

namespace voxsex::internal {

// FFTW's planner is not thread-safe (only fftwf_execute is): every plan creation and destruction
// takes this lock. See https://www.fftw.org/fftw3_doc/Thread-safety.html
inline std::mutex& FftwPlannerMutex() {
  static std::mutex m;
  return m;
}

struct FftwFree {
  void operator()(void* p) const { fftwf_free(p); }
};
template <typename T>
using FftwBuffer = std::unique_ptr<T[], FftwFree>;

// n elements from fftwf_malloc (SIMD-aligned). Throws std::bad_alloc.
template <typename T>
FftwBuffer<T> AllocFftw(std::size_t n) {
  T* p = static_cast<T*>(fftwf_malloc(sizeof(T) * n));
  if (p == nullptr) throw std::bad_alloc();
  return FftwBuffer<T>(p);
}

// Owns an fftwf_plan; creation and destruction are serialised by FftwPlannerMutex().
// Plans are made with FFTW_ESTIMATE: deterministic, and the buffers are left untouched.
// Not thread-safe: one instance per thread.
class FftwPlan {
 public:
  // Out-of-place real-to-complex DFT of size n from `in` to `out` (n / 2 + 1 bins).
  // `flags` is added to FFTW_ESTIMATE. Throws ConfigError when FFTW cannot plan it.
  static FftwPlan R2c(int n, float* in, fftwf_complex* out, unsigned flags = 0) {
    std::lock_guard<std::mutex> lock(FftwPlannerMutex());
    return FftwPlan(fftwf_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE | flags), "real-to-complex", n);
  }
  // Out-of-place complex-to-real inverse DFT of size n (unnormalised: the result is n times the
  // signal). FFTW's c2r overwrites its input. Throws ConfigError when FFTW cannot plan it.
  static FftwPlan C2r(int n, fftwf_complex* in, float* out) {
    std::lock_guard<std::mutex> lock(FftwPlannerMutex());
    return FftwPlan(fftwf_plan_dft_c2r_1d(n, in, out, FFTW_ESTIMATE), "complex-to-real", n);
  }
  FftwPlan(FftwPlan&& o) noexcept : plan_(o.plan_) { o.plan_ = nullptr; }
  FftwPlan& operator=(FftwPlan&&) = delete;
  FftwPlan(const FftwPlan&) = delete;
  FftwPlan& operator=(const FftwPlan&) = delete;
  ~FftwPlan() {
    if (plan_ == nullptr) return;
    std::lock_guard<std::mutex> lock(FftwPlannerMutex());
    fftwf_destroy_plan(plan_);
  }

  void Execute() const { fftwf_execute(plan_); }

 private:
  FftwPlan(fftwf_plan plan, const char* kind, int n) : plan_(plan) {
    if (plan_ == nullptr) {
      throw ConfigError(std::string("FFTW could not plan a ") + kind + " DFT of size " +
                        std::to_string(n));
    }
  }
  fftwf_plan plan_ = nullptr;
};

}  // namespace voxsex::internal
