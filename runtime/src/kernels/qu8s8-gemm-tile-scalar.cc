#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {

void qu8s8_gemm_tile__scalar(size_t rows, size_t blocks, const uint8_t* a, size_t a_stride, const int8_t* w,
                             int32_t* acc) {
  for (size_t r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * a_stride;
    int32_t* out = acc + r * 16;
    for (size_t c = 0; c < 16; ++c) out[c] = 0;
    for (size_t b = 0; b < blocks; ++b) {
      const int8_t* block = w + b * 64;
      for (size_t c = 0; c < 16; ++c) {
        int32_t sum = 0;
        for (size_t j = 0; j < 4; ++j) sum += static_cast<int32_t>(row[4 * b + j]) * block[4 * c + j];
        out[c] += sum;
      }
    }
  }
}

}  // namespace kernels
}  // namespace ple::rt
