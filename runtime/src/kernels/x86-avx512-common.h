// Building blocks of the AVX-512 kernels (compiled with at least AVX-512 F/BW/VL/DQ + FMA +
// F16C). Internal linkage: see quantize-params.h.
#ifndef PLE_RUNTIME_KERNELS_X86_AVX512_COMMON_H_
#define PLE_RUNTIME_KERNELS_X86_AVX512_COMMON_H_

// GCC 12 reports its own AVX-512 intrinsics (an undefined pass-through operand) as maybe
// uninitialized; the warning is about the compiler's header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace ple::rt {
namespace kernels {
namespace {

inline __mmask16 ColumnMask(size_t columns) { return static_cast<__mmask16>((1u << columns) - 1u); }

// out[0..columns) = v + add[0..columns).
inline void StoreAdd16(__m512 v, const float* add, float* out, __mmask16 mask) {
  _mm512_mask_storeu_ps(out, mask, _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, add)));
}

// The int8 epilogue for one row: (scale * w_scales) * float(acc - zero_point * w_sums) + add.
inline void DequantizeStore16(__m512i acc, float scale, int32_t zero_point, __m512 w_scales, __m512i w_sums,
                              const float* add, float* out, __mmask16 mask) {
  const __m512i centered = _mm512_sub_epi32(acc, _mm512_mullo_epi32(_mm512_set1_epi32(zero_point), w_sums));
  const __m512 y = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(scale), w_scales), _mm512_cvtepi32_ps(centered));
  StoreAdd16(y, add, out, mask);
}

}  // namespace
}  // namespace kernels
}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_X86_AVX512_COMMON_H_
