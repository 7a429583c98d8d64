// The per-row parameters of asymmetric uint8 quantization (kernels.h, f32_qu8_quantize), one
// definition for every kernel path so their bits agree. Internal linkage on purpose: each
// instruction-set translation unit gets its own copy compiled with its own flags, so no copy
// can be chosen by the linker for code that runs on a CPU without those instructions.
#ifndef PLE_RUNTIME_KERNELS_QUANTIZE_PARAMS_H_
#define PLE_RUNTIME_KERNELS_QUANTIZE_PARAMS_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace ple::rt {
namespace kernels {
namespace {

struct RowQuantization {
  float scale;
  float inverse;       // 1 / scale
  int32_t zero_point;
  bool usable;         // false when hi - lo is not finite: the row is refused as a non-finite one
};

// lo = min(0, min x), hi = max(0, max x). A scale below the smallest normal float (a range of
// 0, or of a few denormals, which armv7 NEON flushes to 0 anyway) is 1: its inverse would be
// infinite. A range that is not finite (hi - lo overflows, or a NaN reached lo or hi: the
// AVX-512 path computes the range before it checks the row for NaNs) is not usable: the caller
// refuses the row, and nothing here converts a NaN to an integer (undefined behaviour, found by
// the kernel test under UBSan on an AVX-512 CPU).
inline RowQuantization RowQuantizationFor(float lo, float hi) {
  RowQuantization p;
  p.usable = std::isfinite(hi - lo);
  if (!p.usable) {
    p.scale = p.inverse = 1.0f;
    p.zero_point = 0;
    return p;
  }
  p.scale = (hi - lo) / 255.0f;
  if (!(p.scale >= std::numeric_limits<float>::min())) p.scale = 1.0f;
  p.inverse = 1.0f / p.scale;
  p.zero_point = static_cast<int32_t>(std::clamp(std::nearbyint(-lo * p.inverse), 0.0f, 255.0f));
  return p;
}

// A row with a NaN or an infinity (kernels.h): zeros, scale 0, zero point 0.
inline void WriteNonFiniteRow(uint8_t* out, size_t k_padded, float* scale, int32_t* zero_point) {
  for (size_t i = 0; i < k_padded; ++i) out[i] = 0;
  *scale = 0.0f;
  *zero_point = 0;
}

// One value: round to nearest even (the default rounding mode), shift, clamp.
inline uint8_t QuantizeValue(float x, const RowQuantization& p) {
  const int32_t v = static_cast<int32_t>(std::nearbyint(x * p.inverse)) + p.zero_point;
  return static_cast<uint8_t>(std::clamp(v, 0, 255));
}

// The row loop every quantizer shares (kernels.h, f32_qu8_quantize). Per row,
// `range(row, &lo, &hi, &bad)` folds the first inputs with the path's vectors (min into lo, max
// into hi, sums of x - x into bad: NaN exactly when a value is NaN or infinite) and returns how
// many it covered; the rest are folded here. A non-finite row is refused; otherwise
// `quantize(row, p, out)` writes the first values and returns how many, QuantizeValue the rest,
// zeros up to k_padded. The scalar reference is this with both at 0.
template <typename Range, typename Quantize>
inline bool QuantizeRows(size_t rows, size_t k, const float* x, size_t x_stride, uint8_t* q, size_t q_stride,
                         size_t k_padded, float* scales, int32_t* zero_points, Range&& range, Quantize&& quantize) {
  bool all_finite = true;
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * x_stride;
    uint8_t* out = q + r * q_stride;
    float lo = 0.0f, hi = 0.0f, bad = 0.0f;
    size_t i = range(row, &lo, &hi, &bad);
    for (; i < k; ++i) {
      lo = std::min(lo, row[i]);
      hi = std::max(hi, row[i]);
      bad += row[i] - row[i];
    }
    const RowQuantization p = RowQuantizationFor(lo, hi);
    if (bad != 0.0f || !p.usable) {
      WriteNonFiniteRow(out, k_padded, scales + r, zero_points + r);
      all_finite = false;
      continue;
    }
    i = quantize(row, p, out);
    for (; i < k; ++i) out[i] = QuantizeValue(row[i], p);
    for (; i < k_padded; ++i) out[i] = 0;
    scales[r] = p.scale;
    zero_points[r] = p.zero_point;
  }
  return all_finite;
}

}  // namespace
}  // namespace kernels
}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_QUANTIZE_PARAMS_H_
