#include "kernels/kernels.h"
#include "kernels/softmax-weights.h"

namespace ple::rt {
namespace kernels {

void f32_gate_softmax_sum__scalar(size_t rows, size_t count, size_t width, const float* logits, size_t logits_stride,
                                  const float* const* experts, size_t expert_stride, float* weights,
                                  size_t weights_stride, float* out, size_t out_stride) {
  for (size_t r = 0; r < rows; ++r) {
    float* p = weights + r * weights_stride;
    SoftmaxWeights(count, logits + r * logits_stride, p);
    float* o = out + r * out_stride;
    const float* first = experts[0] + r * expert_stride;
    for (size_t c = 0; c < width; ++c) o[c] = p[0] * first[c];
    for (size_t e = 1; e < count; ++e) {
      const float* expert = experts[e] + r * expert_stride;
      const float pe = p[e];
      for (size_t c = 0; c < width; ++c) o[c] += pe * expert[c];
    }
  }
}

}  // namespace kernels
}  // namespace ple::rt
