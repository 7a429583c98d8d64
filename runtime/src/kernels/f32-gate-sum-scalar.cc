#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {

void f32_gate_sum__scalar(size_t rows, size_t count, size_t width, const float* weights, size_t weights_stride,
                          const float* const* experts, size_t expert_stride, float* out, size_t out_stride) {
  for (size_t r = 0; r < rows; ++r) {
    const float* w = weights + r * weights_stride;
    float* o = out + r * out_stride;
    const float* first = experts[0] + r * expert_stride;
    for (size_t c = 0; c < width; ++c) o[c] = w[0] * first[c];
    for (size_t e = 1; e < count; ++e) {
      const float* expert = experts[e] + r * expert_stride;
      const float we = w[e];
      for (size_t c = 0; c < width; ++c) o[c] += we * expert[c];
    }
  }
}

}  // namespace kernels
}  // namespace ple::rt
