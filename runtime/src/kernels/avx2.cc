// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; run only when the CPU has them).
// float32/float16: a tile is two 8-float registers per row, MR = 6 rows (12 accumulators),
// k ascending with one fused multiply-add per product. int8 without VNNI: see WidenWeightPairs.
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

// int8 without VNNI. vpmaddubsw's int16 pair sums saturate for uint8 x int8 (255 x 127 x 2),
// so both sides are widened to int16 and vpmaddwd sums pairs of products into int32 exactly:
// 16 multiply-adds per instruction. For a 16-column tile, a block of 4 inputs becomes four
// int16 vectors in pair order, [c0 (j0 j1), c1 (j0 j1), ... c7 (j0 j1)], the same for j2 j3,
// then columns 8-15: each vpmaddwd then yields 8 whole columns, with no horizontal sums. A
// tile's weights are widened once per chunk of inputs into an L1 buffer and reused by every
// row block; a row block's inputs are widened once per tile. Inputs beyond a chunk carry the
// int32 sums over in `partial`, per row group.
constexpr int kInt8Rows = 4;                 // 8 accumulators + 4 weight vectors + 2 inputs
constexpr size_t kInt8ChunkBlocks = 128;     // 512 inputs: 16 KiB of widened weights
constexpr size_t kInt8RowGroup = 120;        // rows whose partial sums are kept (7.5 KiB)

// `count` blocks of one tile (64 bytes each: 16 columns x 4 inputs) into pair order, int16.
inline void WidenWeightPairs(const int8_t* blocks, size_t count, int16_t* out) {
  // Within each 128-bit lane (4 columns x 4 inputs): the (j0 j1) pairs first, then (j2 j3).
  const __m256i pair_bytes = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,
                                              0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
  for (size_t b = 0; b < count; ++b) {
    for (int half = 0; half < 2; ++half) {  // columns 0-7, then 8-15
      const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks + b * 64 + half * 32));
      // [c0-3 (j0 j1), c4-7 (j0 j1) | c0-3 (j2 j3), c4-7 (j2 j3)]
      const __m256i grouped = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(bytes, pair_bytes), 0xD8);
      __m256i* dst = reinterpret_cast<__m256i*>(out + b * 64 + half * 32);
      _mm256_store_si256(dst, _mm256_cvtepi8_epi16(_mm256_castsi256_si128(grouped)));
      _mm256_store_si256(dst + 1, _mm256_cvtepi8_epi16(_mm256_extracti128_si256(grouped, 1)));
    }
  }
}

// One row's `count` blocks of uint8 inputs as int16.
inline void WidenRow(const uint8_t* row, size_t count, int16_t* out) {
  size_t i = 0;
  for (; i + 16 <= 4 * count; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                       _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i))));
  }
  for (; i < 4 * count; ++i) out[i] = row[i];
}

}  // namespace

PLE_F32_GEMM(avx2) { FloatGemm<float, LoadF32>(rows, k, a, a_stride, w, w_tile_stride, tiles, outputs, add_stride); }

PLE_F16_GEMM(avx2) {
  FloatGemm<uint16_t, LoadF16>(rows, k, a, a_stride, w, w_tile_stride, tiles, outputs, add_stride);
}

PLE_F32_QU8_QUANTIZE(avx2) { return QuantizeRowsAvx2(rows, k, x, x_stride, q, q_stride, k_padded, scales, zero_points); }

PLE_QU8S8_GEMM(avx2) {
  alignas(32) int16_t wide_weights[kInt8ChunkBlocks * 64];
  alignas(32) int16_t wide_rows[kInt8Rows * kInt8ChunkBlocks * 4];
  alignas(32) int32_t partial[kInt8RowGroup * 16];
  for (size_t group = 0; group < rows; group += kInt8RowGroup) {
    const size_t group_rows = std::min(kInt8RowGroup, rows - group);
    for (size_t t = 0; t < tiles; ++t) {
      const TileOutput& o = outputs[t];
      if (o.out == nullptr) continue;
      for (size_t chunk = 0; chunk < blocks; chunk += kInt8ChunkBlocks) {
        const size_t chunk_blocks = std::min(kInt8ChunkBlocks, blocks - chunk);
        const bool first_chunk = chunk == 0, last_chunk = chunk + chunk_blocks == blocks;
        WidenWeightPairs(w + t * w_tile_stride + chunk * 64, chunk_blocks, wide_weights);
        ForRowBlocks<kInt8Rows>(group_rows, [&](auto block_rows, size_t first_in_group) {
          constexpr int R = decltype(block_rows)::value;
          const size_t first = group + first_in_group;
          const size_t wide_stride = chunk_blocks * 4;
          #pragma GCC unroll 16
          for (int r = 0; r < R; ++r) {
            WidenRow(a + (first + r) * a_stride + chunk * 4, chunk_blocks, wide_rows + r * wide_stride);
          }
          __m256i lo[R], hi[R];  // columns 0-7 and 8-15
          #pragma GCC unroll 16
          for (int r = 0; r < R; ++r) {
            if (first_chunk) {
              lo[r] = hi[r] = _mm256_setzero_si256();
            } else {
              lo[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(partial + (first_in_group + r) * 16));
              hi[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(partial + (first_in_group + r) * 16 + 8));
            }
          }
          for (size_t b = 0; b < chunk_blocks; ++b) {
            const __m256i* pairs = reinterpret_cast<const __m256i*>(wide_weights + b * 64);
            const __m256i lo01 = _mm256_load_si256(pairs), lo23 = _mm256_load_si256(pairs + 1);
            const __m256i hi01 = _mm256_load_si256(pairs + 2), hi23 = _mm256_load_si256(pairs + 3);
            #pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
              int32_t x01, x23;  // inputs 4b, 4b + 1 and 4b + 2, 4b + 3 as int16 pairs
              __builtin_memcpy(&x01, wide_rows + r * wide_stride + 4 * b, 4);
              __builtin_memcpy(&x23, wide_rows + r * wide_stride + 4 * b + 2, 4);
              const __m256i v01 = _mm256_set1_epi32(x01), v23 = _mm256_set1_epi32(x23);
              lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(v01, lo01));
              hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(v01, hi01));
              lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(v23, lo23));
              hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(v23, hi23));
            }
          }
          #pragma GCC unroll 16
          for (int r = 0; r < R; ++r) {
            const size_t at = first + r;
            if (last_chunk) {
              DequantizeTileRow(lo[r], hi[r], scales[at], zero_points[at], w_scales + 16 * t, w_sums + 16 * t, o, at,
                                add_stride);
            } else {
              _mm256_store_si256(reinterpret_cast<__m256i*>(partial + (first_in_group + r) * 16), lo[r]);
              _mm256_store_si256(reinterpret_cast<__m256i*>(partial + (first_in_group + r) * 16 + 8), hi[r]);
            }
          }
        });
      }
    }
  }
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
