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

#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {
namespace {

inline __mmask16 ColumnMask(size_t columns) { return static_cast<__mmask16>((1u << columns) - 1u); }

// One row of a tile: y = v + add, max(y, 0) when the tile's layer is ReLU, stored for its
// columns (masked: nothing past them is read or written).
inline void StoreTileRow(__m512 v, const TileOutput& o, size_t r, size_t add_stride) {
  const __mmask16 mask = ColumnMask(o.columns);
  __m512 y = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, o.add + r * add_stride));
  if (o.relu) y = _mm512_max_ps(y, _mm512_setzero_ps());  // +0 for -0 and NaN, as the scalar reference
  _mm512_mask_storeu_ps(o.out + r * o.out_stride, mask, y);
}

// The int8 epilogue for one row: (scale * w_scales) * float(acc - zero_point * w_sums), then
// StoreTileRow. `w_scales` and `w_sums` hold the tile's 16 channels.
inline void DequantizeTileRow(__m512i acc, float scale, int32_t zero_point, __m512 w_scales, __m512i w_sums,
                              const TileOutput& o, size_t r, size_t add_stride) {
  const __m512i centered = _mm512_sub_epi32(acc, _mm512_mullo_epi32(_mm512_set1_epi32(zero_point), w_sums));
  StoreTileRow(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(scale), w_scales), _mm512_cvtepi32_ps(centered)), o, r,
               add_stride);
}

}  // namespace
}  // namespace kernels
}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_X86_AVX512_COMMON_H_
