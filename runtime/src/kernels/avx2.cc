// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; run only when the CPU has them).
// float32/float16: a tile is two 8-float registers per row, MR = 6 rows (12 accumulators),
// k ascending with one fused multiply-add per product. int8 without VNNI: vpmaddubsw would
// saturate int16, so weights and activations are widened to int16 first and vpmaddwd sums
// pairs into int32 exactly.
#include <immintrin.h>

#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"
#include "kernels/softmax-weights.h"
#include "kernels/x86-avx2-common.h"

namespace ple::rt {
namespace kernels {
namespace {

constexpr int kFloatRows = 6;
constexpr int kInt8Rows = 2;

struct LoadF32 {
  const float* w;
  __m256 lo(size_t i) const { return _mm256_loadu_ps(w + i * 16); }
  __m256 hi(size_t i) const { return _mm256_loadu_ps(w + i * 16 + 8); }
};

struct LoadF16 {
  const uint16_t* w;
  __m256 lo(size_t i) const { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i * 16))); }
  __m256 hi(size_t i) const {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i * 16 + 8)));
  }
};

template <typename Weight, typename Loader>
void FloatGemm(size_t rows, size_t k, const float* a, size_t a_stride, const Weight* w, size_t w_tile_stride,
               size_t tiles, const TileOutput* outputs, size_t add_stride) {
  for (size_t t = 0; t < tiles; ++t) {
    const TileOutput& o = outputs[t];
    if (o.out == nullptr) continue;
    const Loader weights{w + t * w_tile_stride};
    ForRowBlocks<kFloatRows>(rows, [&](auto block_rows, size_t first) {
      constexpr int R = decltype(block_rows)::value;
      __m256 lo[R], hi[R];
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
      const float* row = a + first * a_stride;
      for (size_t i = 0; i < k; ++i) {
        const __m256 w_lo = weights.lo(i), w_hi = weights.hi(i);
        #pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          const __m256 x = _mm256_broadcast_ss(row + r * a_stride + i);
          lo[r] = _mm256_fmadd_ps(x, w_lo, lo[r]);
          hi[r] = _mm256_fmadd_ps(x, w_hi, hi[r]);
        }
      }
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) StoreTileRow(lo[r], hi[r], o, first + r, add_stride);
    });
  }
}

}  // namespace

PLE_F32_GEMM(avx2) { FloatGemm<float, LoadF32>(rows, k, a, a_stride, w, w_tile_stride, tiles, outputs, add_stride); }

PLE_F16_GEMM(avx2) {
  FloatGemm<uint16_t, LoadF16>(rows, k, a, a_stride, w, w_tile_stride, tiles, outputs, add_stride);
}

PLE_F32_QU8_QUANTIZE(avx2) { QuantizeRowsAvx2(rows, k, x, x_stride, q, q_stride, k_padded, scales, zero_points); }

PLE_QU8S8_GEMM(avx2) {
  // Lane order after vpmaddwd on 4 columns x 4 inputs: [c0 (k0,k1), c0 (k2,k3), c1 ..., c3 ...].
  const __m256i pair_order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
  for (size_t t = 0; t < tiles; ++t) {
    const TileOutput& o = outputs[t];
    if (o.out == nullptr) continue;
    const int8_t* tile = w + t * w_tile_stride;
    ForRowBlocks<kInt8Rows>(rows, [&](auto block_rows, size_t first) {
      constexpr int R = decltype(block_rows)::value;
      __m256i acc[R][4];
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        for (int j = 0; j < 4; ++j) acc[r][j] = _mm256_setzero_si256();
      }
      const uint8_t* row = a + first * a_stride;
      for (size_t b = 0; b < blocks; ++b) {
        const __m128i* block = reinterpret_cast<const __m128i*>(tile + b * 64);
        __m256i wide[4];  // 4 columns x 4 inputs each, as int16
        for (int j = 0; j < 4; ++j) wide[j] = _mm256_cvtepi8_epi16(_mm_loadu_si128(block + j));
        #pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          int32_t four;
          __builtin_memcpy(&four, row + r * a_stride + 4 * b, 4);
          const __m256i x = _mm256_cvtepu8_epi16(_mm_set1_epi32(four));  // [a0 a1 a2 a3] x 4, int16
          for (int j = 0; j < 4; ++j) acc[r][j] = _mm256_add_epi32(acc[r][j], _mm256_madd_epi16(x, wide[j]));
        }
      }
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        // Pairwise sums: [c0 c1 c4 c5 | c2 c3 c6 c7], then in column order.
        const __m256i lo = _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(acc[r][0], acc[r][1]), pair_order);
        const __m256i hi = _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(acc[r][2], acc[r][3]), pair_order);
        const size_t at = first + r;
        DequantizeTileRow(lo, hi, scales[at], zero_points[at], w_scales + 16 * t, w_sums + 16 * t, o, at, add_stride);
      }
    });
  }
}

PLE_F32_GATE_SOFTMAX_SUM(avx2) {
  for (size_t r = 0; r < rows; ++r) {
    float* p = weights + r * weights_stride;
    SoftmaxWeights(count, logits + r * logits_stride, p);
    float* o = out + r * out_stride;
    size_t c = 0;
    for (; c + 8 <= width; c += 8) {  // products then sums, as the scalar reference
      __m256 sum = _mm256_mul_ps(_mm256_set1_ps(p[0]), _mm256_loadu_ps(experts[0] + r * expert_stride + c));
      for (size_t e = 1; e < count; ++e) {
        sum = _mm256_add_ps(sum, _mm256_mul_ps(_mm256_set1_ps(p[e]), _mm256_loadu_ps(experts[e] + r * expert_stride + c)));
      }
      _mm256_storeu_ps(o + c, sum);
    }
    WeightedSumColumns(count, p, experts, r * expert_stride, c, width, o);
  }
}

}  // namespace kernels
}  // namespace ple::rt
