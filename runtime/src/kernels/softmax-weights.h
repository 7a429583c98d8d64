// A gate's softmax over its experts' logits, one definition for every kernel path (the
// weighted sum that follows is elementwise, so paths that share these weights give the same
// bits). Internal linkage: see quantize-params.h.
#ifndef PLE_RUNTIME_KERNELS_SOFTMAX_WEIGHTS_H_
#define PLE_RUNTIME_KERNELS_SOFTMAX_WEIGHTS_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ple::rt {
namespace kernels {
namespace {

// exp(x) for x <= 0 (a shifted logit), within 2 ulp (tests/kernel/gemm_kernel_test.cc), by plain
// float operations in a fixed order, inlined: the same bits on every platform (libm's expf is
// not the same function on glibc x86-64, glibc aarch64 and emscripten) and no call per expert.
// exp(0) is exactly 1; NaN stays NaN; x < -87 gives 0 (the true value is below float's normal
// range: such an expert's softmax weight is under 1e-38).
inline float ExpNonPositive(float x) {
  if (x != x) return x;
  if (x < -87.0f) return 0.0f;
  // x = n ln2 + r, |r| <= ln2 / 2; ln2 split so that n * kLn2High is exact for |n| <= 127.
  constexpr float kLog2e = 1.44269504f, kLn2High = 0.693145751953125f, kLn2Low = 1.42860677e-6f;
  const float n = std::nearbyint(x * kLog2e);
  const float r = (x - n * kLn2High) - n * kLn2Low;
  // e^r by its Taylor series to r^7 (remainder < 1e-8 for |r| <= 0.35), Horner's order.
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;  // 2^n, n in [-126, 0]
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// p[e] = exp(z[e] - max z) / sum, e ascending.
inline void SoftmaxWeights(size_t count, const float* z, float* p) {
  float max_value = z[0];
  for (size_t e = 1; e < count; ++e) max_value = z[e] > max_value ? z[e] : max_value;
  float sum = 0.0f;
  for (size_t e = 0; e < count; ++e) {
    p[e] = ExpNonPositive(z[e] - max_value);
    sum += p[e];
  }
  for (size_t e = 0; e < count; ++e) p[e] /= sum;
}

// o[c] = sum_e p[e] * experts[e][offset + c] for c in [begin, end): products then sums, e
// ascending. The scalar gate kernel is this over every column; the SIMD ones use it for the
// columns after their last full vector.
inline void WeightedSumColumns(size_t count, const float* p, const float* const* experts, size_t offset, size_t begin,
                               size_t end, float* o) {
  for (size_t c = begin; c < end; ++c) {
    float sum = p[0] * experts[0][offset + c];
    for (size_t e = 1; e < count; ++e) sum += p[e] * experts[e][offset + c];
    o[c] = sum;
  }
}

}  // namespace
}  // namespace kernels
}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_SOFTMAX_WEIGHTS_H_
