#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {

void qu8s8_gemm__scalar(size_t rows, size_t blocks, const uint8_t* a, size_t a_stride, const int8_t* w,
                        size_t w_tile_stride, size_t tiles, const float* scales, const int32_t* zero_points,
                        const float* w_scales, const int32_t* w_sums, const TileOutput* outputs, size_t add_stride) {
  for (size_t t = 0; t < tiles; ++t) {
    const TileOutput& o = outputs[t];
    if (o.out == nullptr) continue;
    const int8_t* tile = w + t * w_tile_stride;
    for (size_t r = 0; r < rows; ++r) {
      const uint8_t* row = a + r * a_stride;
      int32_t acc[16] = {};
      for (size_t b = 0; b < blocks; ++b) {
        for (size_t c = 0; c < 16; ++c) {
          for (size_t j = 0; j < 4; ++j) acc[c] += static_cast<int32_t>(row[4 * b + j]) * tile[b * 64 + 4 * c + j];
        }
      }
      const float* add = o.add + r * add_stride;
      float* out = o.out + r * o.out_stride;
      for (size_t c = 0; c < o.columns; ++c) {
        const size_t n = 16 * t + c;
        const float combined = scales[r] * w_scales[n];
        const float y = combined * static_cast<float>(acc[c] - zero_points[r] * w_sums[n]) + add[c];
        out[c] = o.relu && !(y > 0.0f) ? 0.0f : y;
      }
    }
  }
}

}  // namespace kernels
}  // namespace ple::rt
