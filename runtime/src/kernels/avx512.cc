// AVX-512 kernels (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c; run
// only when the CPU and OS support them). float32/float16: tiles in pairs, one 16-float
// register per row and tile, MR = 12 rows (24 accumulators), k ascending with one fused
// multiply-add per product. int8 without VNNI: weights and activations widened to int16,
// vpmaddwd sums pairs into int32 exactly.
// First: it silences a compiler-header warning before <immintrin.h> is read.
#include "kernels/x86-avx512-common.h"

#include <algorithm>

#include "kernels/quantize-params.h"
#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"
#include "kernels/softmax-weights.h"

namespace ple::rt {
namespace kernels {
namespace {

constexpr int kFloatRows = 12;

// Horizontal min and max (exact in any order).
inline float ReduceMin(__m512 v) {
  const __m256 a = _mm256_min_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 b = _mm_min_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  b = _mm_min_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_min_ss(b, _mm_movehdup_ps(b)));
}

inline float ReduceMax(__m512 v) {
  const __m256 a = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 b = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  b = _mm_max_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_max_ss(b, _mm_movehdup_ps(b)));
}
constexpr int kInt8Rows = 8;

struct LoadF32 {
  const float* w;
  __m512 operator()(size_t i) const { return _mm512_loadu_ps(w + i * 16); }
};

struct LoadF16 {
  const uint16_t* w;
  __m512 operator()(size_t i) const {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i * 16)));
  }
};

// Tiles t and t + 1 (`pair`) or t alone, all rows. While its first row block runs, the next
// pair's weights are prefetched into L2: a group's weights stream from L3 once per call.
template <bool kPair, typename Weight, typename Loader>
void FloatTiles(size_t rows, size_t k, const float* a, size_t a_stride, const Weight* w, size_t w_tile_stride,
                size_t t, size_t tiles, const TileOutput* outputs, size_t add_stride) {
  const Loader w0{w + t * w_tile_stride}, w1{w + (kPair ? t + 1 : t) * w_tile_stride};
  const TileOutput& o0 = outputs[t];
  const TileOutput& o1 = outputs[kPair ? t + 1 : t];
  const char* next = t + 2 < tiles ? reinterpret_cast<const char*>(w + (t + 2) * w_tile_stride) : nullptr;
  const size_t next_bytes = (std::min<size_t>(tiles, t + 4) - std::min<size_t>(tiles, t + 2)) * w_tile_stride *
                            sizeof(Weight);
  ForRowBlocks<kFloatRows>(rows, [&](auto block_rows, size_t first) {
    constexpr int R = decltype(block_rows)::value;
    __m512 acc0[R], acc1[R];
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
    const float* row = a + first * a_stride;
    const bool prefetch = first == 0 && next != nullptr;
    for (size_t i = 0; i < k; ++i) {
      if (prefetch) {  // two 64-byte lines per step: the next pair's weights within k steps
        const size_t offset = 128 * i;
        if (offset < next_bytes) _mm_prefetch(next + offset, _MM_HINT_T1);
        if (offset + 64 < next_bytes) _mm_prefetch(next + offset + 64, _MM_HINT_T1);
      }
      const __m512 wa = w0(i);
      const __m512 wb = kPair ? w1(i) : wa;
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512 x = _mm512_set1_ps(row[r * a_stride + i]);
        acc0[r] = _mm512_fmadd_ps(x, wa, acc0[r]);
        if (kPair) acc1[r] = _mm512_fmadd_ps(x, wb, acc1[r]);
      }
    }
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      if (o0.out != nullptr) StoreTileRow(acc0[r], o0, first + r, add_stride);
      if (kPair && o1.out != nullptr) StoreTileRow(acc1[r], o1, first + r, add_stride);
    }
  });
}

template <typename Weight, typename Loader>
void FloatGemm(size_t rows, size_t k, const float* a, size_t a_stride, const Weight* w, size_t w_tile_stride,
               size_t tiles, const TileOutput* outputs, size_t add_stride) {
  size_t t = 0;
  for (; t + 2 <= tiles; t += 2) {
    if (outputs[t].out == nullptr && outputs[t + 1].out == nullptr) continue;
    FloatTiles<true, Weight, Loader>(rows, k, a, a_stride, w, w_tile_stride, t, tiles, outputs, add_stride);
  }
  if (t < tiles && outputs[t].out != nullptr) {
    FloatTiles<false, Weight, Loader>(rows, k, a, a_stride, w, w_tile_stride, t, tiles, outputs, add_stride);
  }
}

}  // namespace

PLE_F32_GEMM(avx512) { FloatGemm<float, LoadF32>(rows, k, a, a_stride, w, w_tile_stride, tiles, outputs, add_stride); }

PLE_F16_GEMM(avx512) {
  FloatGemm<uint16_t, LoadF16>(rows, k, a, a_stride, w, w_tile_stride, tiles, outputs, add_stride);
}

PLE_F32_QU8_QUANTIZE(avx512) {
  // After packs_epi32 + packus_epi16 of four 16-value registers, 32-bit group 4l + j holds
  // values 4l..4l+3 of register j: this permutation puts them back in order.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  auto range = [k](const float* row, float* lo, float* hi, float* bad) {
    __m512 vbad = _mm512_setzero_ps();  // sums of v - v: NaN exactly when a value is NaN or infinite
    // Four independent min and max chains: the pass is bound by their latency, not the loads.
    __m512 lo0 = _mm512_setzero_ps(), hi0 = _mm512_setzero_ps(), lo1 = lo0, hi1 = hi0;
    __m512 lo2 = lo0, hi2 = hi0, lo3 = lo0, hi3 = hi0;
    size_t i = 0;
    for (; i + 64 <= k; i += 64) {
      const __m512 v0 = _mm512_loadu_ps(row + i), v1 = _mm512_loadu_ps(row + i + 16);
      const __m512 v2 = _mm512_loadu_ps(row + i + 32), v3 = _mm512_loadu_ps(row + i + 48);
      lo0 = _mm512_min_ps(lo0, v0);
      hi0 = _mm512_max_ps(hi0, v0);
      vbad = _mm512_add_ps(vbad, _mm512_add_ps(_mm512_add_ps(_mm512_sub_ps(v0, v0), _mm512_sub_ps(v1, v1)),
                                               _mm512_add_ps(_mm512_sub_ps(v2, v2), _mm512_sub_ps(v3, v3))));
      lo1 = _mm512_min_ps(lo1, v1);
      hi1 = _mm512_max_ps(hi1, v1);
      lo2 = _mm512_min_ps(lo2, v2);
      hi2 = _mm512_max_ps(hi2, v2);
      lo3 = _mm512_min_ps(lo3, v3);
      hi3 = _mm512_max_ps(hi3, v3);
    }
    lo0 = _mm512_min_ps(lo0, lo2);
    hi0 = _mm512_max_ps(hi0, hi2);
    lo1 = _mm512_min_ps(lo1, lo3);
    hi1 = _mm512_max_ps(hi1, hi3);
    for (; i < k; i += 16) {  // masked: absent lanes read as 0, inside [lo, hi] already
      const __m512 v = _mm512_maskz_loadu_ps(k - i >= 16 ? static_cast<__mmask16>(0xffff) : ColumnMask(k - i), row + i);
      lo0 = _mm512_min_ps(lo0, v);
      hi0 = _mm512_max_ps(hi0, v);
      vbad = _mm512_add_ps(vbad, _mm512_sub_ps(v, v));
    }
    *lo = ReduceMin(_mm512_min_ps(lo0, lo1));
    *hi = ReduceMax(_mm512_max_ps(hi0, hi1));
    if (_mm512_cmp_ps_mask(vbad, vbad, _CMP_UNORD_Q) != 0) *bad = NAN;
    return k;
  };
  auto quantize = [k, &order](const float* row, const RowQuantization& p, uint8_t* out) {
    const __m512 inverse = _mm512_set1_ps(p.inverse);
    const __m512i zp = _mm512_set1_epi32(p.zero_point);
    // round to nearest even, add the zero point, saturate to [0, 255] while packing.
    auto quantize16 = [&](__m512 v) { return _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v, inverse)), zp); };
    size_t i = 0;
    for (; i + 64 <= k; i += 64) {
      const __m512i a0 = quantize16(_mm512_loadu_ps(row + i)), a1 = quantize16(_mm512_loadu_ps(row + i + 16));
      const __m512i a2 = quantize16(_mm512_loadu_ps(row + i + 32)), a3 = quantize16(_mm512_loadu_ps(row + i + 48));
      const __m512i bytes = _mm512_packus_epi16(_mm512_packs_epi32(a0, a1), _mm512_packs_epi32(a2, a3));
      _mm512_storeu_si512(out + i, _mm512_permutexvar_epi32(order, bytes));
    }
    const __m512i zero = _mm512_setzero_si512(), top = _mm512_set1_epi32(255);
    for (; i < k; i += 16) {
      const __mmask16 mask = k - i >= 16 ? static_cast<__mmask16>(0xffff) : ColumnMask(k - i);
      const __m512i v = quantize16(_mm512_maskz_loadu_ps(mask, row + i));
      _mm_mask_storeu_epi8(out + i, mask, _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(v, zero), top)));
    }
    return k;
  };
  return QuantizeRows(rows, k, x, x_stride, q, q_stride, k_padded, scales, zero_points, range, quantize);
}

PLE_QU8S8_GEMM(avx512) {
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (size_t t = 0; t < tiles; ++t) {
    const TileOutput& o = outputs[t];
    if (o.out == nullptr) continue;
    const int8_t* tile = w + t * w_tile_stride;
    const __m512 ws = _mm512_loadu_ps(w_scales + 16 * t);
    const __m512i sums = _mm512_loadu_si512(w_sums + 16 * t);
    ForRowBlocks<kInt8Rows>(rows, [&](auto block_rows, size_t first) {
      constexpr int R = decltype(block_rows)::value;
      __m512i lo[R], hi[R];  // pairs of products of columns 0-7 and 8-15: [c0 (k0,k1), c0 (k2,k3), c1 ...]
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm512_setzero_si512();
      const uint8_t* row = a + first * a_stride;
      for (size_t b = 0; b < blocks; ++b) {
        const __m512i w_lo = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + b * 64)));
        const __m512i w_hi =
            _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + b * 64 + 32)));
        #pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          int32_t four;
          __builtin_memcpy(&four, row + r * a_stride + 4 * b, 4);
          const __m512i x = _mm512_cvtepu8_epi16(_mm256_set1_epi32(four));  // [a0 a1 a2 a3] x 8, int16
          lo[r] = _mm512_add_epi32(lo[r], _mm512_madd_epi16(x, w_lo));
          hi[r] = _mm512_add_epi32(hi[r], _mm512_madd_epi16(x, w_hi));
        }
      }
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512i acc = _mm512_add_epi32(_mm512_permutex2var_epi32(lo[r], evens, hi[r]),
                                             _mm512_permutex2var_epi32(lo[r], odds, hi[r]));
        const size_t at = first + r;
        DequantizeTileRow(acc, scales[at], zero_points[at], ws, sums, o, at, add_stride);
      }
    });
  }
}

PLE_F32_GATE_SOFTMAX_SUM(avx512) {
  // Expert-major over blocks of up to 8 registers (128 columns): each expert's row is read
  // once, linearly, into accumulators held in registers. Per element the operations and their
  // order are the scalar reference's: p[0] * v[0], then + p[e] * v[e] for e ascending.
  constexpr size_t kBlock = 8 * 16;
  for (size_t r = 0; r < rows; ++r) {
    float* p = weights + r * weights_stride;
    SoftmaxWeights(count, logits + r * logits_stride, p);
    float* o = out + r * out_stride;
    for (size_t c0 = 0; c0 < width; c0 += kBlock) {
      const size_t n = std::min(kBlock, width - c0);
      const size_t vectors = (n + 15) / 16;
      const __mmask16 last = n % 16 == 0 ? static_cast<__mmask16>(0xffff) : ColumnMask(n % 16);
      __m512 sum[8];
      const float* v0 = experts[0] + r * expert_stride + c0;
      const __m512 p0 = _mm512_set1_ps(p[0]);
      #pragma GCC unroll 8
      for (size_t i = 0; i < 8; ++i) {
        if (i < vectors) sum[i] = _mm512_mul_ps(p0, _mm512_maskz_loadu_ps(i + 1 < vectors ? 0xffff : last, v0 + 16 * i));
      }
      for (size_t e = 1; e < count; ++e) {
        const float* v = experts[e] + r * expert_stride + c0;
        const __m512 pe = _mm512_set1_ps(p[e]);
        #pragma GCC unroll 8
        for (size_t i = 0; i < 8; ++i) {
          if (i < vectors) {
            sum[i] = _mm512_add_ps(sum[i], _mm512_mul_ps(pe, _mm512_maskz_loadu_ps(i + 1 < vectors ? 0xffff : last, v + 16 * i)));
          }
        }
      }
      #pragma GCC unroll 8
      for (size_t i = 0; i < 8; ++i) {
        if (i < vectors) _mm512_mask_storeu_ps(o + c0 + 16 * i, i + 1 < vectors ? 0xffff : last, sum[i]);
      }
    }
  }
}

}  // namespace kernels
}  // namespace ple::rt
