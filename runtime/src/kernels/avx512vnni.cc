// AVX-512 VNNI int8 kernel (compiled with the AVX-512 flags and -mavx512vnni): vpdpbusd adds
// four uint8 x int8 products per int32 lane exactly (the non-saturating form); a 64-byte block
// of the packed layout is one register: 16 columns x 4 inputs. MR = 8 rows.
// First: it silences a compiler-header warning before <immintrin.h> is read.
#include "kernels/x86-avx512-common.h"

#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"

namespace ple::rt {
namespace kernels {
namespace {

constexpr int kRows = 8;

}  // namespace

PLE_QU8S8_GEMM_TILE(avx512vnni) {
  const __mmask16 mask = ColumnMask(columns);
  const __m512 ws = _mm512_loadu_ps(w_scales);
  const __m512i sums = _mm512_loadu_si512(w_sums);
  ForRowBlocks<kRows>(rows, [&](auto block_rows, size_t first) {
    constexpr int R = decltype(block_rows)::value;
    __m512i acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_si512();
    const uint8_t* row = a + first * a_stride;
    for (size_t b = 0; b < blocks; ++b) {
      const __m512i wb = _mm512_loadu_si512(w + b * 64);
      for (int r = 0; r < R; ++r) {
        int32_t four;
        __builtin_memcpy(&four, row + r * a_stride + 4 * b, 4);
        acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(four), wb);
      }
    }
    for (int r = 0; r < R; ++r) {
      const size_t at = first + r;
      DequantizeStore16(acc[r], scales[at], zero_points[at], ws, sums, add + at * add_stride, out + at * out_stride, mask);
    }
  });
}

}  // namespace kernels
}  // namespace ple::rt
