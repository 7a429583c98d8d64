#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {

void f16_gemm_tile__scalar(size_t rows, size_t k, const float* a, size_t a_stride, const uint16_t* w, float* out,
                           size_t out_stride) {
  for (size_t r = 0; r < rows; ++r) {
    const float* row = a + r * a_stride;
    float* o = out + r * out_stride;
    for (size_t c = 0; c < 16; ++c) o[c] = 0.0f;
    for (size_t i = 0; i < k; ++i) {
      const uint16_t* weights = w + i * 16;
      for (size_t c = 0; c < 16; ++c) o[c] += row[i] * f16_to_f32(weights[c]);
    }
  }
}

}  // namespace kernels
}  // namespace ple::rt
