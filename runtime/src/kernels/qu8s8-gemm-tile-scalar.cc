#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {

void qu8s8_gemm_tile__scalar(size_t rows, size_t blocks, const uint8_t* a, size_t a_stride, const int8_t* w,
                             const float* scales, const int32_t* zero_points, const float* w_scales,
                             const int32_t* w_sums, const float* add, size_t add_stride, float* out, size_t out_stride,
                             size_t columns) {
  for (size_t r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * a_stride;
    int32_t acc[16] = {};
    for (size_t b = 0; b < blocks; ++b) {
      const int8_t* block = w + b * 64;
      for (size_t c = 0; c < 16; ++c) {
        for (size_t j = 0; j < 4; ++j) acc[c] += static_cast<int32_t>(row[4 * b + j]) * block[4 * c + j];
      }
    }
    const float* extra = add + r * add_stride;
    float* o = out + r * out_stride;
    for (size_t c = 0; c < columns; ++c) {
      const float combined = scales[r] * w_scales[c];
      o[c] = combined * static_cast<float>(acc[c] - zero_points[r] * w_sums[c]) + extra[c];
    }
  }
}

}  // namespace kernels
}  // namespace ple::rt
