// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; run only when the CPU has them).
// float32/float16: a tile is two 8-float registers per row, MR = 6 rows (12 accumulators),
// k ascending with one fused multiply-add per product. int8 without VNNI: see qu8s8_gemm__avx2.
#include <immintrin.h>

#include <algorithm>

#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"
#include "kernels/softmax-weights.h"
#include "kernels/x86-avx2-common.h"

namespace ple::rt {
namespace kernels {
namespace {

constexpr int kFloatRows = 6;

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

PLE_F32_QU8_QUANTIZE(avx2) { return QuantizeRowsAvx2(rows, k, x, x_stride, q, q_stride, k_padded, scales, zero_points); }

// int8 without VNNI. vpmaddubsw's int16 pair sums saturate for uint8 x int8 (255 x 127 x 2),
// so the products go through vpmaddwd, which adds pairs of int16 products into int32 exactly.
// Nothing is widened ahead (no scratch, no chunks): each 32-bit lane of a block register holds
// one channel's 4 weight bytes [w0 w1 w2 w3], and of the input broadcast one row's 4 bytes
// [x0 x1 x2 x3]. Split by even and odd bytes into int16 pairs in the same lane, (x0, x2) and
// (x1, x3) by vpshufb, (w0, w2) and (w1, w3) by shifts, two vpmaddwd give the channel's whole
// 4-input sum in that lane: 8 channels a register, in order, no horizontal sum. The weight
// split is shared by the block's 4 rows, the input split by the row's two registers.
// Why this split (docs/performance.md, "Instructions a candidate, outside the GEMM inner loops",
// llvm-mca on Haswell to Zen 3): the input split on the shuffle port leaves the multiply ports
// to vpmaddwd and the weight shifts on Intel cores.
PLE_QU8S8_GEMM(avx2) {
  const __m256i even_bytes = _mm256_setr_epi8(0, -1, 2, -1, 4, -1, 6, -1, 8, -1, 10, -1, 12, -1, 14, -1,
                                              0, -1, 2, -1, 4, -1, 6, -1, 8, -1, 10, -1, 12, -1, 14, -1);
  const __m256i odd_bytes = _mm256_setr_epi8(1, -1, 3, -1, 5, -1, 7, -1, 9, -1, 11, -1, 13, -1, 15, -1,
                                             1, -1, 3, -1, 5, -1, 7, -1, 9, -1, 11, -1, 13, -1, 15, -1);
  Int8TileGemm256<4>(rows, blocks, a, a_stride, w, w_tile_stride, tiles, scales, zero_points, w_scales, w_sums,
                     outputs, add_stride, [even_bytes, odd_bytes](__m256i acc, __m256i x, __m256i weights) {
                       const __m256i x02 = _mm256_shuffle_epi8(x, even_bytes), x13 = _mm256_shuffle_epi8(x, odd_bytes);
                       const __m256i w02 = _mm256_srai_epi16(_mm256_slli_epi16(weights, 8), 8);
                       const __m256i w13 = _mm256_srai_epi16(weights, 8);
                       acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x02, w02));
                       return _mm256_add_epi32(acc, _mm256_madd_epi16(x13, w13));
                     });
}

// Narrow weights ([-64, 64]): vpmaddubsw multiplies the uint8 inputs by the int8 weights as
// stored and adds pairs into int16, which cannot saturate (255 x 64 x 2 = 32,640); vpmaddwd by
// ones then adds the two pairs of a channel into int32. A 64-byte block is two registers, each
// 8 channels x 4 inputs, so the broadcast 4 input bytes line up with no shuffle and nothing is
// widened (Int8TileGemm256). MR = 4 rows: 8 accumulators, 2 weight vectors, the ones, the input
// broadcast and temporaries (with 6 rows GCC kept accumulators on the stack).
PLE_QU8S8_GEMM_NARROW(avx2) {
  const __m256i ones = _mm256_set1_epi16(1);
  Int8TileGemm256<4>(rows, blocks, a, a_stride, w, w_tile_stride, tiles, scales, zero_points, w_scales, w_sums,
                     outputs, add_stride, [ones](__m256i acc, __m256i x, __m256i weights) {
                       return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(x, weights), ones));
                     });
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
