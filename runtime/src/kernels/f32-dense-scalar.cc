#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {

void f32_dense__scalar(size_t rows, size_t in, size_t out, const float* x, size_t x_stride, const float* w,
                       size_t w_stride, const float* bias, float* y, size_t y_stride) {
  for (size_t r = 0; r < rows; ++r) {
    const float* x_row = x + r * x_stride;
    float* y_row = y + r * y_stride;
    for (size_t o = 0; o < out; ++o) {
      const float* w_row = w + o * w_stride;
      float acc = 0.0f;
      for (size_t k = 0; k < in; ++k) acc += x_row[k] * w_row[k];
      y_row[o] = bias != nullptr ? acc + bias[o] : acc;
    }
  }
}

}  // namespace kernels
}  // namespace ple::rt
