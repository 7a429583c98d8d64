// AVX-512 VNNI int8 kernel (compiled with the AVX-512 flags and -mavx512vnni): vpdpbusd adds
// four uint8 x int8 products per int32 lane exactly (the non-saturating form); a 64-byte block
// of the packed layout is one register: 16 columns x 4 inputs. Tiles in pairs, MR = 12 rows
// (24 accumulators).
// First: it silences a compiler-header warning before <immintrin.h> is read.
#include "kernels/x86-avx512-common.h"

#include <algorithm>

#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"

namespace ple::rt {
namespace kernels {
namespace {

constexpr int kRows = 12;

// Tiles t and t + 1 (`pair`) or t alone, all rows; the next pair's weights are prefetched into
// L2 while the first row block runs.
template <bool kPair>
void Int8Tiles(size_t rows, size_t blocks, const uint8_t* a, size_t a_stride, const int8_t* w, size_t w_tile_stride,
               size_t t, size_t tiles, const float* scales, const int32_t* zero_points, const float* w_scales,
               const int32_t* w_sums, const TileOutput* outputs, size_t add_stride) {
  const size_t t1 = kPair ? t + 1 : t;
  const int8_t* tile0 = w + t * w_tile_stride;
  const int8_t* tile1 = w + t1 * w_tile_stride;
  const TileOutput& o0 = outputs[t];
  const TileOutput& o1 = outputs[t1];
  const __m512 ws0 = _mm512_loadu_ps(w_scales + 16 * t), ws1 = _mm512_loadu_ps(w_scales + 16 * t1);
  const __m512i sums0 = _mm512_loadu_si512(w_sums + 16 * t), sums1 = _mm512_loadu_si512(w_sums + 16 * t1);
  const int8_t* next = t + 2 < tiles ? w + (t + 2) * w_tile_stride : nullptr;
  const size_t next_bytes = (std::min<size_t>(tiles, t + 4) - std::min<size_t>(tiles, t + 2)) * w_tile_stride;
  ForRowBlocks<kRows>(rows, [&](auto block_rows, size_t first) {
    constexpr int R = decltype(block_rows)::value;
    __m512i acc0[R], acc1[R];
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_si512();
    const uint8_t* row = a + first * a_stride;
    const bool prefetch = first == 0 && next != nullptr;
    for (size_t b = 0; b < blocks; ++b) {
      if (prefetch) {  // two 64-byte lines per block: the next pair's weights within `blocks` steps
        const size_t offset = 128 * b;
        if (offset < next_bytes) _mm_prefetch(reinterpret_cast<const char*>(next + offset), _MM_HINT_T1);
        if (offset + 64 < next_bytes) _mm_prefetch(reinterpret_cast<const char*>(next + offset + 64), _MM_HINT_T1);
      }
      const __m512i wa = _mm512_loadu_si512(tile0 + b * 64);
      const __m512i wb = kPair ? _mm512_loadu_si512(tile1 + b * 64) : wa;
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        int32_t four;
        __builtin_memcpy(&four, row + r * a_stride + 4 * b, 4);
        const __m512i x = _mm512_set1_epi32(four);
        acc0[r] = _mm512_dpbusd_epi32(acc0[r], x, wa);
        if (kPair) acc1[r] = _mm512_dpbusd_epi32(acc1[r], x, wb);
      }
    }
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const size_t at = first + r;
      if (o0.out != nullptr) DequantizeTileRow(acc0[r], scales[at], zero_points[at], ws0, sums0, o0, at, add_stride);
      if (kPair && o1.out != nullptr) {
        DequantizeTileRow(acc1[r], scales[at], zero_points[at], ws1, sums1, o1, at, add_stride);
      }
    }
  });
}

}  // namespace

PLE_QU8S8_GEMM(avx512vnni) {
  size_t t = 0;
  for (; t + 2 <= tiles; t += 2) {
    if (outputs[t].out == nullptr && outputs[t + 1].out == nullptr) continue;
    Int8Tiles<true>(rows, blocks, a, a_stride, w, w_tile_stride, t, tiles, scales, zero_points, w_scales, w_sums, outputs,
                    add_stride);
  }
  if (t < tiles && outputs[t].out != nullptr) {
    Int8Tiles<false>(rows, blocks, a, a_stride, w, w_tile_stride, t, tiles, scales, zero_points, w_scales, w_sums, outputs,
                     add_stride);
  }
}

}  // namespace kernels
}  // namespace ple::rt
