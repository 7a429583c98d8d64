// A gate's softmax over its experts' logits, one definition for every kernel path (the
// weighted sum that follows is elementwise, so paths that share these weights give the same
// bits). Internal linkage: see quantize-params.h.
#ifndef PLE_RUNTIME_KERNELS_SOFTMAX_WEIGHTS_H_
#define PLE_RUNTIME_KERNELS_SOFTMAX_WEIGHTS_H_

#include <cstddef>

#include "kernels/portable-math.h"

namespace ple::rt {
namespace kernels {
namespace {

// p[e] = exp(z[e] - max z) / sum, e ascending.
inline void SoftmaxWeights(size_t count, const float* z, float* p) {
  float max_value = z[0];
  for (size_t e = 1; e < count; ++e) max_value = z[e] > max_value ? z[e] : max_value;
  float sum = 0.0f;
  for (size_t e = 0; e < count; ++e) {
    p[e] = ExpNonPositive(z[e] - max_value);
    sum += p[e];
  }
  for (size_t e = 0; e < count; ++e) p[e] /= sum;
}

// o[c] = sum_e p[e] * experts[e][offset + c] for c in [begin, end): products then sums, e
// ascending. The scalar gate kernel is this over every column; the SIMD ones use it for the
// columns after their last full vector.
inline void WeightedSumColumns(size_t count, const float* p, const float* const* experts, size_t offset, size_t begin,
                               size_t end, float* o) {
  for (size_t c = begin; c < end; ++c) {
    float sum = p[0] * experts[0][offset + c];
    for (size_t e = 1; e < count; ++e) sum += p[e] * experts[e][offset + c];
    o[c] = sum;
  }
}

}  // namespace
}  // namespace kernels
}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_SOFTMAX_WEIGHTS_H_
