#include "kernels/kernels.h"
#include "kernels/quantize-params.h"

namespace ple::rt {
namespace kernels {

bool f32_qu8_quantize__scalar(size_t rows, size_t k, const float* x, size_t x_stride, uint8_t* q, size_t q_stride,
                              size_t k_padded, float* scales, int32_t* zero_points) {
  return QuantizeRows(
      rows, k, x, x_stride, q, q_stride, k_padded, scales, zero_points,
      [](const float*, float*, float*, float*) { return size_t{0}; },
      [](const float*, const RowQuantization&, uint8_t*) { return size_t{0}; });
}

}  // namespace kernels
}  // namespace ple::rt
