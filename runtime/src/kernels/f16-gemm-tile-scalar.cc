#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {

void f16_gemm_tile__scalar(size_t rows, size_t k, const float* a, size_t a_stride, const uint16_t* w, const float* add,
                           size_t add_stride, float* out, size_t out_stride, size_t columns) {
  for (size_t r = 0; r < rows; ++r) {
    const float* row = a + r * a_stride;
    float acc[16] = {};
    for (size_t i = 0; i < k; ++i) {
      const uint16_t* weights = w + i * 16;
      for (size_t c = 0; c < 16; ++c) acc[c] += row[i] * f16_to_f32(weights[c]);
    }
    const float* extra = add + r * add_stride;
    float* o = out + r * out_stride;
    for (size_t c = 0; c < columns; ++c) o[c] = acc[c] + extra[c];
  }
}

}  // namespace kernels
}  // namespace ple::rt
