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
    WeightedSumColumns(count, p, experts, r * expert_stride, 0, width, out + r * out_stride);
  }
}

}  // namespace kernels
}  // namespace ple::rt
