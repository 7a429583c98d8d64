// AVX-VNNI int8 kernel (compiled with -mavx2 -mfma -mf16c -mavxvnni): vpdpbusd on 256-bit
// registers, two per 16-column tile, uint8 activations times int8 weights summed in int32
// exactly (the non-saturating form). MR = 6 rows (12 accumulators of the 16 ymm registers).
#include <immintrin.h>

#include "kernels/simd_kernels.h"
#include "kernels/x86-avx2-common.h"

namespace ple::rt {
namespace kernels {

PLE_QU8S8_GEMM(avxvnni) {
  Int8TileGemm256<6>(rows, blocks, a, a_stride, w, w_tile_stride, tiles, scales, zero_points, w_scales, w_sums,
                     outputs, add_stride, [](__m256i acc, __m256i x, __m256i weights) {
                       return _mm256_dpbusd_avx_epi32(acc, x, weights);
                     });
}

}  // namespace kernels
}  // namespace ple::rt
