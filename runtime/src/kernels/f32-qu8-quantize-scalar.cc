#include <algorithm>
#include <cmath>

#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {

void f32_qu8_quantize__scalar(size_t rows, size_t k, const float* x, size_t x_stride, uint8_t* q, size_t q_stride,
                              size_t k_padded, float* scales, int32_t* zero_points) {
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * x_stride;
    uint8_t* out = q + r * q_stride;
    float lo = 0.0f, hi = 0.0f;
    for (size_t i = 0; i < k; ++i) {
      lo = std::min(lo, row[i]);
      hi = std::max(hi, row[i]);
    }
    const float scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
    const float inverse = 1.0f / scale;
    const int32_t zero_point = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / scale), 0.0f, 255.0f));
    for (size_t i = 0; i < k; ++i) {
      const int32_t v = static_cast<int32_t>(std::nearbyint(row[i] * inverse)) + zero_point;
      out[i] = static_cast<uint8_t>(std::clamp(v, 0, 255));
    }
    for (size_t i = k; i < k_padded; ++i) out[i] = 0;
    scales[r] = scale;
    zero_points[r] = zero_point;
  }
}

}  // namespace kernels
}  // namespace ple::rt
