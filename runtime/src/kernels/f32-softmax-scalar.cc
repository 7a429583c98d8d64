#include <cmath>

#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {

void f32_softmax__scalar(size_t rows, size_t width, float* x, size_t x_stride) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = x + r * x_stride;
    float max_value = row[0];
    for (size_t c = 1; c < width; ++c) max_value = row[c] > max_value ? row[c] : max_value;
    float sum = 0.0f;
    for (size_t c = 0; c < width; ++c) {
      row[c] = std::exp(row[c] - max_value);
      sum += row[c];
    }
    for (size_t c = 0; c < width; ++c) row[c] /= sum;
  }
}

}  // namespace kernels
}  // namespace ple::rt
