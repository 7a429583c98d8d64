// Building blocks of the AVX2 and AVX-VNNI kernels (both translation units are compiled with
// at least AVX2 + FMA + F16C). Internal linkage: see quantize-params.h.
#ifndef PLE_RUNTIME_KERNELS_X86_AVX2_COMMON_H_
#define PLE_RUNTIME_KERNELS_X86_AVX2_COMMON_H_

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"
#include "kernels/quantize-params.h"
#include "kernels/row-blocks.h"

namespace ple::rt {
namespace kernels {
namespace {

// One row of a tile: y = v + add, max(y, 0) when the tile's layer is ReLU, stored for its
// columns.
inline void StoreTileRow(__m256 lo, __m256 hi, const TileOutput& o, size_t r, size_t add_stride) {
  const float* add = o.add + r * add_stride;
  float* out = o.out + r * o.out_stride;
  lo = _mm256_add_ps(lo, _mm256_loadu_ps(add));
  hi = _mm256_add_ps(hi, _mm256_loadu_ps(add + 8));
  if (o.relu) {  // max(y, +0) gives +0 for -0 and NaN, as the scalar reference does
    lo = _mm256_max_ps(lo, _mm256_setzero_ps());
    hi = _mm256_max_ps(hi, _mm256_setzero_ps());
  }
  if (o.columns == 16) {
    _mm256_storeu_ps(out, lo);
    _mm256_storeu_ps(out + 8, hi);
    return;
  }
  alignas(32) float v[16];
  _mm256_store_ps(v, lo);
  _mm256_store_ps(v + 8, hi);
  for (size_t c = 0; c < o.columns; ++c) out[c] = v[c];
}

// The int8 epilogue for one row of tile t: (scale * w_scales) * float(acc - zero_point * w_sums),
// then StoreTileRow. `w_scales` and `w_sums` point at the tile's 16 channels.
inline void DequantizeTileRow(__m256i acc_lo, __m256i acc_hi, float scale, int32_t zero_point, const float* w_scales,
                              const int32_t* w_sums, const TileOutput& o, size_t r, size_t add_stride) {
  const __m256i zp = _mm256_set1_epi32(zero_point);
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i lo =
      _mm256_sub_epi32(acc_lo, _mm256_mullo_epi32(zp, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w_sums))));
  const __m256i hi =
      _mm256_sub_epi32(acc_hi, _mm256_mullo_epi32(zp, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w_sums + 8))));
  StoreTileRow(_mm256_mul_ps(_mm256_mul_ps(s, _mm256_loadu_ps(w_scales)), _mm256_cvtepi32_ps(lo)),
               _mm256_mul_ps(_mm256_mul_ps(s, _mm256_loadu_ps(w_scales + 8)), _mm256_cvtepi32_ps(hi)), o, r,
               add_stride);
}

// An int8 GEMM (qu8s8_gemm's contract) over 16-column tiles, kRows rows at a time, with two
// 256-bit accumulators per row (columns 0-7, 8-15) and the tile's 64-byte blocks read as stored:
// `step(acc, x, w)` adds to each int32 lane of `acc` the four products of the uint8 bytes of `x`
// (one row's 4 inputs, broadcast) with the int8 bytes of `w` (8 channels x 4 inputs). AVX-VNNI's
// vpdpbusd; AVX2's vpmaddubsw + vpmaddwd for narrow weights, or for others the bytes split into
// int16 pairs and two vpmaddwd (qu8s8_gemm__avx2).
template <int kRows, typename Step>
inline void Int8TileGemm256(size_t rows, size_t blocks, const uint8_t* a, size_t a_stride, const int8_t* w,
                            size_t w_tile_stride, size_t tiles, const float* scales, const int32_t* zero_points,
                            const float* w_scales, const int32_t* w_sums, const TileOutput* outputs,
                            size_t add_stride, Step step) {
  for (size_t t = 0; t < tiles; ++t) {
    const TileOutput& o = outputs[t];
    if (o.out == nullptr) continue;
    const int8_t* tile = w + t * w_tile_stride;
    ForRowBlocks<kRows>(rows, [&](auto block_rows, size_t first) {
      constexpr int R = decltype(block_rows)::value;
      __m256i lo[R], hi[R];  // columns 0-7 and 8-15
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
          lo[r] = step(lo[r], x, w_lo);
          hi[r] = step(hi[r], x, w_hi);
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

// Per-row uint8 quantization (f32_qu8_quantize's contract) with AVX2.
inline bool QuantizeRowsAvx2(size_t rows, size_t k, const float* x, size_t x_stride, uint8_t* q, size_t q_stride,
                             size_t k_padded, float* scales, int32_t* zero_points) {
  auto range = [k](const float* row, float* lo, float* hi, float* bad) {
    __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps(), vbad = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= k; i += 16) {  // two vectors a step: min, max and the NaN sum are order-free
      const __m256 v = _mm256_loadu_ps(row + i), u = _mm256_loadu_ps(row + i + 8);
      vlo = _mm256_min_ps(vlo, _mm256_min_ps(v, u));
      vhi = _mm256_max_ps(vhi, _mm256_max_ps(v, u));
      vbad = _mm256_add_ps(vbad, _mm256_add_ps(_mm256_sub_ps(v, v), _mm256_sub_ps(u, u)));
    }
    for (; i + 8 <= k; i += 8) {
      const __m256 v = _mm256_loadu_ps(row + i);
      vlo = _mm256_min_ps(vlo, v);
      vhi = _mm256_max_ps(vhi, v);
      vbad = _mm256_add_ps(vbad, _mm256_sub_ps(v, v));
    }
    alignas(32) float lanes_lo[8], lanes_hi[8];
    _mm256_store_ps(lanes_lo, vlo);
    _mm256_store_ps(lanes_hi, vhi);
    for (int l = 0; l < 8; ++l) {
      *lo = std::min(*lo, lanes_lo[l]);
      *hi = std::max(*hi, lanes_hi[l]);
    }
    if (_mm256_movemask_ps(_mm256_cmp_ps(vbad, vbad, _CMP_UNORD_Q)) != 0) *bad = NAN;
    return i;
  };
  auto quantize = [k](const float* row, const RowQuantization& p, uint8_t* out) {
    const __m256 inverse = _mm256_set1_ps(p.inverse);
    const __m128i zp = _mm_set1_epi32(p.zero_point);
    const __m256i zp8 = _mm256_set1_epi32(p.zero_point);
    const __m256i byte_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t i = 0;
    for (; i + 16 <= k; i += 16) {  // the same steps per value as below, 16 values a step
      const __m256i v = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(row + i), inverse)), zp8);
      const __m256i u = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(row + i + 8), inverse)), zp8);
      const __m256i words = _mm256_packs_epi32(v, u);  // [v0-3 u0-3 | v4-7 u4-7], saturated
      const __m256i bytes = _mm256_packus_epi16(words, words);  // lane l: [v 4l..4l+3, u 4l..4l+3] twice
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                       _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(bytes, byte_order)));
    }
    for (; i + 8 <= k; i += 8) {
      const __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(row + i), inverse));  // nearest even
      const __m128i a = _mm_add_epi32(_mm256_castsi256_si128(v), zp);
      const __m128i b = _mm_add_epi32(_mm256_extracti128_si256(v, 1), zp);
      const __m128i packed = _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_setzero_si128());  // clamps to [0, 255]
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), packed);
    }
    return i;
  };
  return QuantizeRows(rows, k, x, x_stride, q, q_stride, k_padded, scales, zero_points, range, quantize);
}

}  // namespace
}  // namespace kernels
}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_X86_AVX2_COMMON_H_
