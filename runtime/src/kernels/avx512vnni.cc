// AVX-512 VNNI int8 kernel (compiled with the AVX-512 flags and -mavx512vnni): vpdpbusd adds
// four uint8 x int8 products per int32 lane exactly (the non-saturating form); a 64-byte block
// of the packed layout is one register: 16 columns x 4 inputs. Tiles in fours, the rest in pairs
// or alone, MR = 6 rows (24 accumulators at most). Integer sums are exact, so the grouping does
// not change any result.
// First: it silences a compiler-header warning before <immintrin.h> is read.
#include "kernels/x86-avx512-common.h"

#include <algorithm>

#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"

namespace ple::rt {
namespace kernels {
namespace {

// Tiles per step of the main loop. Measured on bench-m-dense int8 (docs/performance.md): 4 tiles
// x 6 rows took 0.92 of the time of 2 tiles x 12 rows (fewer row pointers: none spilled).
constexpr size_t kGroupTiles = 4;

// Tiles t .. t + kTiles - 1, all rows, in blocks of 6 rows; the
// next group's weights are prefetched into L2 while the first row block runs.
template <int kTiles>
void Int8Tiles(size_t rows, size_t blocks, const uint8_t* a, size_t a_stride, const int8_t* w, size_t w_tile_stride,
               size_t t, size_t tiles, const float* scales, const int32_t* zero_points, const float* w_scales,
               const int32_t* w_sums, const TileOutput* outputs, size_t add_stride) {
  constexpr int kRows = 6;  // one instantiation per row count (code size); 24 accumulators with 4 tiles
  const int8_t* tile[kTiles];
  __m512 ws[kTiles];
  __m512i sums[kTiles];
  for (int j = 0; j < kTiles; ++j) {
    tile[j] = w + (t + j) * w_tile_stride;
    ws[j] = _mm512_loadu_ps(w_scales + 16 * (t + j));
    sums[j] = _mm512_loadu_si512(w_sums + 16 * (t + j));
  }
  const int8_t* next = t + kTiles < tiles ? w + (t + kTiles) * w_tile_stride : nullptr;
  const size_t next_bytes = (std::min<size_t>(tiles, t + 2 * kTiles) - std::min<size_t>(tiles, t + kTiles)) * w_tile_stride;
  ForRowBlocks<kRows>(rows, [&](auto block_rows, size_t first) {
    constexpr int R = decltype(block_rows)::value;
    __m512i acc[kTiles][R];
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      #pragma GCC unroll 4
      for (int j = 0; j < kTiles; ++j) acc[j][r] = _mm512_setzero_si512();
    }
    const uint8_t* row = a + first * a_stride;
    const bool prefetch = first == 0 && next != nullptr;
    for (size_t b = 0; b < blocks; ++b) {
      if (prefetch) {  // kTiles 64-byte lines per block: the next group's weights within `blocks` steps
        #pragma GCC unroll 4
        for (int j = 0; j < kTiles; ++j) {
          const size_t offset = 64 * (kTiles * b + j);
          if (offset < next_bytes) _mm_prefetch(reinterpret_cast<const char*>(next + offset), _MM_HINT_T1);
        }
      }
      __m512i wv[kTiles];
      #pragma GCC unroll 4
      for (int j = 0; j < kTiles; ++j) wv[j] = _mm512_loadu_si512(tile[j] + b * 64);
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        int32_t four;
        __builtin_memcpy(&four, row + r * a_stride + 4 * b, 4);
        const __m512i x = _mm512_set1_epi32(four);
        #pragma GCC unroll 4
        for (int j = 0; j < kTiles; ++j) acc[j][r] = _mm512_dpbusd_epi32(acc[j][r], x, wv[j]);
      }
    }
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const size_t at = first + r;
      #pragma GCC unroll 4
      for (int j = 0; j < kTiles; ++j) {
        const TileOutput& o = outputs[t + j];
        if (o.out != nullptr) DequantizeTileRow(acc[j][r], scales[at], zero_points[at], ws[j], sums[j], o, at, add_stride);
      }
    }
  });
}

}  // namespace

PLE_QU8S8_GEMM(avx512vnni) {
  size_t t = 0;
  for (; t + kGroupTiles <= tiles; t += kGroupTiles) {
    bool any = false;
    for (size_t j = t; j < t + kGroupTiles; ++j) any = any || outputs[j].out != nullptr;
    if (!any) continue;
    Int8Tiles<kGroupTiles>(rows, blocks, a, a_stride, w, w_tile_stride, t, tiles, scales, zero_points, w_scales, w_sums,
                           outputs, add_stride);
  }
  for (; t + 2 <= tiles; t += 2) {
    if (outputs[t].out == nullptr && outputs[t + 1].out == nullptr) continue;
    Int8Tiles<2>(rows, blocks, a, a_stride, w, w_tile_stride, t, tiles, scales, zero_points, w_scales, w_sums, outputs,
                 add_stride);
  }
  if (t < tiles && outputs[t].out != nullptr) {
    Int8Tiles<1>(rows, blocks, a, a_stride, w, w_tile_stride, t, tiles, scales, zero_points, w_scales, w_sums, outputs,
                 add_stride);
  }
}

}  // namespace kernels
}  // namespace ple::rt
