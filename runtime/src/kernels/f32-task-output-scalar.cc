#include <cmath>

#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {

size_t f32_task_output__scalar(size_t rows, const float* x, size_t x_stride, bool binary, float* out,
                               size_t out_stride) {
  size_t not_finite = rows;
  for (size_t r = 0; r < rows; ++r) {
    const float value = x[r * x_stride];
    const float output = binary ? sigmoid(value) : value;
    out[r * out_stride] = output;
    if (!std::isfinite(output) && not_finite == rows) not_finite = r;
  }
  return not_finite;
}

}  // namespace kernels
}  // namespace ple::rt
