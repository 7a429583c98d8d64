#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {

void qs8_dequantize_tile__scalar(size_t rows, size_t columns, const int32_t* acc, const float* scales,
                                 const int32_t* zero_points, const float* weight_scales, const int32_t* sums,
                                 const float* add, size_t add_stride, float* out, size_t out_stride) {
  for (size_t r = 0; r < rows; ++r) {
    const int32_t* a = acc + r * 16;
    const float* extra = add + r * add_stride;
    float* o = out + r * out_stride;
    for (size_t c = 0; c < columns; ++c) {
      const float combined = scales[r] * weight_scales[c];
      o[c] = combined * static_cast<float>(a[c] - zero_points[r] * sums[c]) + extra[c];
    }
  }
}

}  // namespace kernels
}  // namespace ple::rt
