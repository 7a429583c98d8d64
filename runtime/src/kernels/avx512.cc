// AVX-512 kernels (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c; run
// only when the CPU and OS support them). float32/float16: one 16-float register per row and
// tile, MR = 8 rows, k ascending with one fused multiply-add per product. int8 without VNNI:
// weights and activations widened to int16, vpmaddwd sums pairs into int32 exactly.
// First: it silences a compiler-header warning before <immintrin.h> is read.
#include "kernels/x86-avx512-common.h"

#include "kernels/quantize-params.h"
#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"

namespace ple::rt {
namespace kernels {
namespace {

constexpr int kFloatRows = 8;
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

template <typename Weights>
void FloatTile(size_t rows, size_t k, const float* a, size_t a_stride, Weights weights, const float* add,
               size_t add_stride, float* out, size_t out_stride, size_t columns) {
  const __mmask16 mask = ColumnMask(columns);
  ForRowBlocks<kFloatRows>(rows, [&](auto block_rows, size_t first) {
    constexpr int R = decltype(block_rows)::value;
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    const float* row = a + first * a_stride;
    for (size_t i = 0; i < k; ++i) {
      const __m512 wi = weights(i);
      for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(row[r * a_stride + i]), wi, acc[r]);
    }
    for (int r = 0; r < R; ++r) StoreAdd16(acc[r], add + (first + r) * add_stride, out + (first + r) * out_stride, mask);
  });
}

}  // namespace

PLE_F32_GEMM_TILE(avx512) {
  FloatTile(rows, k, a, a_stride, LoadF32{w}, add, add_stride, out, out_stride, columns);
}

PLE_F16_GEMM_TILE(avx512) {
  FloatTile(rows, k, a, a_stride, LoadF16{w}, add, add_stride, out, out_stride, columns);
}

PLE_F32_QU8_QUANTIZE(avx512) {
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * x_stride;
    uint8_t* out = q + r * q_stride;
    __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= k; i += 16) {
      const __m512 v = _mm512_loadu_ps(row + i);
      vlo = _mm512_min_ps(vlo, v);
      vhi = _mm512_max_ps(vhi, v);
    }
    if (i < k) {  // the tail, masked: absent lanes read as 0, inside [lo, hi] already
      const __m512 v = _mm512_maskz_loadu_ps(ColumnMask(k - i), row + i);
      vlo = _mm512_min_ps(vlo, v);
      vhi = _mm512_max_ps(vhi, v);
    }
    const RowQuantization p = RowQuantizationFor(_mm512_reduce_min_ps(vlo), _mm512_reduce_max_ps(vhi));
    const __m512 inverse = _mm512_set1_ps(p.inverse);
    const __m512i zp = _mm512_set1_epi32(p.zero_point), zero = _mm512_setzero_si512(), top = _mm512_set1_epi32(255);
    for (i = 0; i < k; i += 16) {
      const __mmask16 mask = k - i >= 16 ? static_cast<__mmask16>(0xffff) : ColumnMask(k - i);
      const __m512i v = _mm512_add_epi32(
          _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mask, row + i), inverse)), zp);  // nearest even
      _mm_mask_storeu_epi8(out + i, mask, _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(v, zero), top)));
    }
    for (i = k; i < k_padded; ++i) out[i] = 0;
    scales[r] = p.scale;
    zero_points[r] = p.zero_point;
  }
}

PLE_QU8S8_GEMM_TILE(avx512) {
  const __mmask16 mask = ColumnMask(columns);
  const __m512 ws = _mm512_loadu_ps(w_scales);
  const __m512i sums = _mm512_loadu_si512(w_sums);
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  ForRowBlocks<kInt8Rows>(rows, [&](auto block_rows, size_t first) {
    constexpr int R = decltype(block_rows)::value;
    __m512i lo[R], hi[R];  // pairs of products of columns 0-7 and 8-15: [c0 (k0,k1), c0 (k2,k3), c1 ...]
    for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm512_setzero_si512();
    const uint8_t* row = a + first * a_stride;
    for (size_t b = 0; b < blocks; ++b) {
      const __m512i w_lo = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + b * 64)));
      const __m512i w_hi = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + b * 64 + 32)));
      for (int r = 0; r < R; ++r) {
        int32_t four;
        __builtin_memcpy(&four, row + r * a_stride + 4 * b, 4);
        const __m512i x = _mm512_cvtepu8_epi16(_mm256_set1_epi32(four));  // [a0 a1 a2 a3] x 8, int16
        lo[r] = _mm512_add_epi32(lo[r], _mm512_madd_epi16(x, w_lo));
        hi[r] = _mm512_add_epi32(hi[r], _mm512_madd_epi16(x, w_hi));
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m512i acc = _mm512_add_epi32(_mm512_permutex2var_epi32(lo[r], evens, hi[r]),
                                           _mm512_permutex2var_epi32(lo[r], odds, hi[r]));
      const size_t at = first + r;
      DequantizeStore16(acc, scales[at], zero_points[at], ws, sums, add + at * add_stride, out + at * out_stride, mask);
    }
  });
}

}  // namespace kernels
}  // namespace ple::rt
