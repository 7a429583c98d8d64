// aarch64 dot-product int8 kernel (compiled with -march=armv8.2-a+dotprod; run only when the
// CPU reports it). SDOT multiplies int8 by int8, so each activation is shifted to q - 128 (a
// flip of its top bit) and 128 x the column's weight sum is added back: the same exact int32
// dot product as the scalar reference. A 64-byte block is four registers of 4 columns x 4
// inputs, what SDOT's lanes sum. MR = 4 rows x 16 columns (16 accumulators).
//
// The main loop (StepLoop4) is the step loop of aarch64-step-loop.h with SDOT: four blocks
// (16 inputs) a step for 4 rows, each row's 16 activation bytes loaded and flipped once, each
// block using one 4-byte lane of them through the lane-indexed SDOT
// (`sdot v.4s, w.16b, x.4b[lane]`). llvm-mca 19 on the built loop (tools/arm_kernel_mca.py):
// 94 % of peak on Neoverse N1/N2/V1 and Apple M1, 62 % on Cortex-A55 and 49 % on A510, whose
// models issue a 128-bit load alone (docs/performance.md); the 6-row intrinsics loop before it
// was at 57-61 % and 23-30 % (GCC 12 hoisted a step's weight loads, spilled accumulators and
// chained each one's SDOTs). Rows past a multiple of 4, and a row's last blocks % 4 blocks,
// take the intrinsics below, one block a step. Every path computes the same exact integers:
// the int8 results do not change.
#include <arm_neon.h>

#include "kernels/neon-int8-epilogue.h"
#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"

namespace ple::rt {
namespace kernels {
namespace {

constexpr int kRows = 4;

#define PLE_A64_MAC(acc, w, x, lane) "sdot " acc ".4s, " w ".16b, " x ".4b[" lane "]\n"
#define PLE_A64_PREPARE_X(x) "eor v" x ".16b, v" x ".16b, %[flip].16b\n"  // uint8 to int8: q - 128
#include "kernels/aarch64-step-loop.h"

// `steps` (> 0) steps of four blocks for 4 rows: rows r0..r3 (16 bytes a step each), weights
// w (256 bytes a step), added to acc (row r's 16 columns at acc[r][0..3]). Reads exactly
// 16 x steps bytes of each row and 256 x steps bytes of weights.
inline void StepLoop4(int32x4_t (&acc)[4][4], const uint8_t* r0, const uint8_t* r1, const uint8_t* r2,
                      const uint8_t* r3, const int8_t* w, size_t steps, uint8x16_t flip) {
  int32x4_t* a = &acc[0][0];
  size_t with_next = steps - 1;  // steps followed by another: they load it
  __asm__ volatile(PLE_A64_STEP_LOOP_4X16
                   : [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2), [r3] "+r"(r3), [w] "+r"(w), [n] "+r"(with_next)
                   : [a] "r"(a), [flip] "w"(flip)
                   : PLE_A64_STEP_LOOP_CLOBBERS);
}

}  // namespace

PLE_QU8S8_GEMM(neondot) {
  const uint8x16_t flip = vdupq_n_u8(0x80);
  for (size_t t = 0; t < tiles; ++t) {
    const TileOutput& o = outputs[t];
    if (o.out == nullptr) continue;
    const int8_t* tile = w + t * w_tile_stride;
    const float* ws = w_scales + 16 * t;
    const int32_t* sums = w_sums + 16 * t;
    ForRowBlocks<kRows>(rows, [&](auto block_rows, size_t first) {
      constexpr int R = decltype(block_rows)::value;
      int32x4_t acc[R][4];
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        for (int j = 0; j < 4; ++j) acc[r][j] = vdupq_n_s32(0);
      }
      const uint8_t* row = a + first * a_stride;
      size_t b = 0;
      if constexpr (R == kRows) {
        const size_t steps = blocks / 4;
        if (steps > 0) {
          StepLoop4(acc, row, row + a_stride, row + 2 * a_stride, row + 3 * a_stride, tile, steps, flip);
          b = 4 * steps;
        }
      }
      for (; b < blocks; ++b) {
        const int8x16_t w0 = vld1q_s8(tile + b * 64), w1 = vld1q_s8(tile + b * 64 + 16);
        const int8x16_t w2 = vld1q_s8(tile + b * 64 + 32), w3 = vld1q_s8(tile + b * 64 + 48);
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          uint32_t four;
          __builtin_memcpy(&four, row + r * a_stride + 4 * b, 4);
          const int8x16_t x = vreinterpretq_s8_u8(veorq_u8(vreinterpretq_u8_u32(vdupq_n_u32(four)), flip));
          acc[r][0] = vdotq_s32(acc[r][0], w0, x);
          acc[r][1] = vdotq_s32(acc[r][1], w1, x);
          acc[r][2] = vdotq_s32(acc[r][2], w2, x);
          acc[r][3] = vdotq_s32(acc[r][3], w3, x);
        }
      }
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const size_t at = first + r;
        // sum (q - 128) w + 128 sum w - zero_point sum w = sum q w - zero_point sum w, in int32.
        StoreInt8Row(acc[r], 128 - zero_points[at], scales[at], ws, sums, o.add + at * add_stride, o,
                     o.out + at * o.out_stride);
      }
    });
  }
}

}  // namespace kernels
}  // namespace ple::rt
