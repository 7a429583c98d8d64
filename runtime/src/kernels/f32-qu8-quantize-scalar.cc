#include "kernels/kernels.h"
#include "kernels/quantize-params.h"

namespace ple::rt {
namespace kernels {

bool f32_qu8_quantize__scalar(size_t rows, size_t k, const float* x, size_t x_stride, uint8_t* q, size_t q_stride,
                              size_t k_padded, float* scales, int32_t* zero_points) {
  bool all_finite = true;
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * x_stride;
    uint8_t* out = q + r * q_stride;
    float lo = 0.0f, hi = 0.0f, nan_if_not_finite = 0.0f;  // x - x is NaN exactly for NaN and infinities
    for (size_t i = 0; i < k; ++i) {
      lo = std::min(lo, row[i]);
      hi = std::max(hi, row[i]);
      nan_if_not_finite += row[i] - row[i];
    }
    const RowQuantization p = RowQuantizationFor(lo, hi);
    if (nan_if_not_finite != 0.0f || !p.usable) {
      WriteNonFiniteRow(out, k_padded, scales + r, zero_points + r);
      all_finite = false;
      continue;
    }
    for (size_t i = 0; i < k; ++i) out[i] = QuantizeValue(row[i], p);
    for (size_t i = k; i < k_padded; ++i) out[i] = 0;
    scales[r] = p.scale;
    zero_points[r] = p.zero_point;
  }
  return all_finite;
}

}  // namespace kernels
}  // namespace ple::rt
