// AVX-VNNI int8 kernel (compiled with -mavx2 -mfma -mf16c -mavxvnni): vpdpbusd on 256-bit
// registers, two per 16-column tile, uint8 activations times int8 weights summed in int32
// exactly (the non-saturating form). MR = 6 rows (12 accumulators of the 16 ymm registers).
#include <immintrin.h>

#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"
#include "kernels/x86-avx2-common.h"

namespace ple::rt {
namespace kernels {
namespace {

constexpr int kRows = 6;

}  // namespace

PLE_QU8S8_GEMM(avxvnni) {
  for (size_t t = 0; t < tiles; ++t) {
    const TileOutput& o = outputs[t];
    if (o.out == nullptr) continue;
    const int8_t* tile = w + t * w_tile_stride;
    ForRowBlocks<kRows>(rows, [&](auto block_rows, size_t first) {
      constexpr int R = decltype(block_rows)::value;
      __m256i lo[R], hi[R];
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm256_setzero_si256();
      const uint8_t* row = a + first * a_stride;
      for (size_t b = 0; b < blocks; ++b) {
        const __m256i w_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + b * 64));
        const __m256i w_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + b * 64 + 32));
        #pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          int32_t four;
          __builtin_memcpy(&four, row + r * a_stride + 4 * b, 4);
          const __m256i x = _mm256_set1_epi32(four);
          lo[r] = _mm256_dpbusd_avx_epi32(lo[r], x, w_lo);
          hi[r] = _mm256_dpbusd_avx_epi32(hi[r], x, w_hi);
        }
      }
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const size_t at = first + r;
        DequantizeTileRow(lo[r], hi[r], scales[at], zero_points[at], w_scales + 16 * t, w_sums + 16 * t, o, at,
                          add_stride);
      }
    });
  }
}

}  // namespace kernels
}  // namespace ple::rt
