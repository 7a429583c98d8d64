// aarch64 i8mm int8 kernel (compiled with -march=armv8.2-a+dotprod+i8mm; run only when the CPU
// reports i8mm). USMMLA multiplies a 2 x 8 block of uint8 activations by an 8 x 2 block of int8
// weights into a 2 x 2 block of int32 sums: 32 multiply-adds, twice SDOT's, and uint8 by int8
// directly (no flip of the activations as on neondot). The sums are the same exact int32 dot
// products as the scalar reference, so every int8 result is bit-identical to it.
//
// Weights: the paired layout (qs8_pair_blocks, kernels.h), which the model builds once from the
// file's blocks when a session first runs this path (docs/kernels.md, "The i8mm weight layout"):
// one 16-byte load is two channels x 8 inputs, USMMLA's right operand as it is. Activations: two
// rows' 8 inputs side by side (ZIP1/ZIP2 of the rows' 16-byte loads). A row block is 4 rows x 16
// channels: row pairs p = 0, 1 by channel pairs c = 0..7, 16 accumulators, each [row 2p: channel
// 2c, 2c+1; row 2p+1: channel 2c, 2c+1]. A step is 16 inputs (two pairs of blocks); a last pair
// of blocks and an odd last block follow, the odd block with zero weights for its missing half.
// Row blocks of 3 rows compute 4 (the last row twice), of 1 row 2: the sums are stored to
// memory and one epilogue reads them.
#include <arm_neon.h>

#include "kernels/neon-int8-epilogue.h"
#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"

namespace ple::rt {
namespace kernels {
namespace {

constexpr int kRows = 4;

inline uint8x16_t PairLow(uint8x16_t x0, uint8x16_t x1) {  // rows' inputs 0..7, side by side
  return vreinterpretq_u8_u64(vzip1q_u64(vreinterpretq_u64_u8(x0), vreinterpretq_u64_u8(x1)));
}
inline uint8x16_t PairHigh(uint8x16_t x0, uint8x16_t x1) {  // rows' inputs 8..15
  return vreinterpretq_u8_u64(vzip2q_u64(vreinterpretq_u64_u8(x0), vreinterpretq_u64_u8(x1)));
}

// `steps` (> 0) steps of 16 inputs for 4 rows (two pairs) added to acc[pair][channel pair]:
// rows[0..3] advance 16 bytes a step, the weights 256. The step: the rows' loads, 4 ZIPs that
// pair them, 8 LDPs of weights, and 32 USMMLAs in two rounds (inputs 0..7 of every channel pair,
// then 8..15: an accumulator's two USMMLAs 16 apart, never waiting on each other). Written as
// assembly because GCC 12 addressed the rows through the pointer array inside the loop
// (61 instructions a step for 51; tools/arm_kernel_mca.py measures the loop as built).
inline void Steps4(int32x4_t (&acc)[2][8], const uint8_t* r0, const uint8_t* r1, const uint8_t* r2,
                   const uint8_t* r3, const int8_t* w, size_t steps) {
  int32x4_t* a = &acc[0][0];
  // acc[0][c] in v(16 + c), acc[1][c] in v(24 + c); row pairs in v4 (inputs 0..7) and v5 (8..15),
  // v6 and v7; channel pairs' weights in v8..v15.
  __asm__ volatile(
      "ldp q16, q17, [%[a]]\n" "ldp q18, q19, [%[a], #32]\n" "ldp q20, q21, [%[a], #64]\n"
      "ldp q22, q23, [%[a], #96]\n" "ldp q24, q25, [%[a], #128]\n" "ldp q26, q27, [%[a], #160]\n"
      "ldp q28, q29, [%[a], #192]\n" "ldp q30, q31, [%[a], #224]\n"
      "1:\n"
      "ldr q0, [%[r0]], #16\n" "ldr q1, [%[r1]], #16\n" "ldr q2, [%[r2]], #16\n" "ldr q3, [%[r3]], #16\n"
      "ldp q8, q9, [%[w]]\n" "ldp q10, q11, [%[w], #32]\n"
      "zip1 v4.2d, v0.2d, v1.2d\n" "zip1 v6.2d, v2.2d, v3.2d\n"
      "zip2 v5.2d, v0.2d, v1.2d\n" "zip2 v7.2d, v2.2d, v3.2d\n"
      "usmmla v16.4s, v4.16b, v8.16b\n" "usmmla v24.4s, v6.16b, v8.16b\n"
      "usmmla v17.4s, v4.16b, v9.16b\n" "usmmla v25.4s, v6.16b, v9.16b\n"
      "ldp q12, q13, [%[w], #64]\n"
      "usmmla v18.4s, v4.16b, v10.16b\n" "usmmla v26.4s, v6.16b, v10.16b\n"
      "usmmla v19.4s, v4.16b, v11.16b\n" "usmmla v27.4s, v6.16b, v11.16b\n"
      "ldp q14, q15, [%[w], #96]\n"
      "usmmla v20.4s, v4.16b, v12.16b\n" "usmmla v28.4s, v6.16b, v12.16b\n"
      "usmmla v21.4s, v4.16b, v13.16b\n" "usmmla v29.4s, v6.16b, v13.16b\n"
      "ldp q8, q9, [%[w], #128]\n"
      "usmmla v22.4s, v4.16b, v14.16b\n" "usmmla v30.4s, v6.16b, v14.16b\n"
      "usmmla v23.4s, v4.16b, v15.16b\n" "usmmla v31.4s, v6.16b, v15.16b\n"
      "ldp q10, q11, [%[w], #160]\n"
      "usmmla v16.4s, v5.16b, v8.16b\n" "usmmla v24.4s, v7.16b, v8.16b\n"
      "usmmla v17.4s, v5.16b, v9.16b\n" "usmmla v25.4s, v7.16b, v9.16b\n"
      "ldp q12, q13, [%[w], #192]\n"
      "usmmla v18.4s, v5.16b, v10.16b\n" "usmmla v26.4s, v7.16b, v10.16b\n"
      "usmmla v19.4s, v5.16b, v11.16b\n" "usmmla v27.4s, v7.16b, v11.16b\n"
      "ldp q14, q15, [%[w], #224]\n"
      "usmmla v20.4s, v5.16b, v12.16b\n" "usmmla v28.4s, v7.16b, v12.16b\n"
      "usmmla v21.4s, v5.16b, v13.16b\n" "usmmla v29.4s, v7.16b, v13.16b\n"
      "add %[w], %[w], #256\n"
      "usmmla v22.4s, v5.16b, v14.16b\n" "usmmla v30.4s, v7.16b, v14.16b\n"
      "usmmla v23.4s, v5.16b, v15.16b\n" "usmmla v31.4s, v7.16b, v15.16b\n"
      "subs %[n], %[n], #1\n"
      "b.ne 1b\n"
      "stp q16, q17, [%[a]]\n" "stp q18, q19, [%[a], #32]\n" "stp q20, q21, [%[a], #64]\n"
      "stp q22, q23, [%[a], #96]\n" "stp q24, q25, [%[a], #128]\n" "stp q26, q27, [%[a], #160]\n"
      "stp q28, q29, [%[a], #192]\n" "stp q30, q31, [%[a], #224]\n"
      : [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2), [r3] "+r"(r3), [w] "+r"(w), [n] "+r"(steps)
      : [a] "r"(a)
      : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13",
        "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28",
        "v29", "v30", "v31");
}

// The int32 sums of P row pairs (1 or 2): rows[0..2P) (a missing row of a block is its
// neighbour again: read in bounds, its sums never stored), into sums[row][channel]. Not inlined:
// the four row-block sizes share two copies (aarch64 libple's size budget, docs/platforms.md).
template <int P>
__attribute__((noinline)) void PairSums(const uint8_t* const* rows, const int8_t* tile, size_t blocks,
                                        int32_t (*sums)[16]) {
  int32x4_t acc[P][8];
  for (int p = 0; p < P; ++p) {
    for (int c = 0; c < 8; ++c) acc[p][c] = vdupq_n_s32(0);
  }
  size_t b = 0;
  if constexpr (P == 2) {
    if (blocks >= 4) {
      Steps4(acc, rows[0], rows[1], rows[2], rows[3], tile, blocks / 4);
      b = blocks / 4 * 4;
    }
  } else {
    for (; b + 4 <= blocks; b += 4) {  // 16 inputs: pairs of blocks b/2 and b/2 + 1, for 2 rows
      const uint8x16_t x0 = vld1q_u8(rows[0] + 4 * b), x1 = vld1q_u8(rows[1] + 4 * b);
      const uint8x16_t low = PairLow(x0, x1), high = PairHigh(x0, x1);
      const int8_t* w = tile + b * 64;
      #pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) {
        acc[0][c] = vusmmlaq_s32(acc[0][c], low, vld1q_s8(w + 16 * c));
        acc[0][c] = vusmmlaq_s32(acc[0][c], high, vld1q_s8(w + 128 + 16 * c));
      }
    }
  }
  if (b + 2 <= blocks) {  // a last pair of blocks: 8 inputs
    uint8x16_t x[P];
    for (int p = 0; p < P; ++p) x[p] = vcombine_u8(vld1_u8(rows[2 * p] + 4 * b), vld1_u8(rows[2 * p + 1] + 4 * b));
    const int8_t* w = tile + b * 64;
    for (int c = 0; c < 8; ++c) {
      const int8x16_t w0 = vld1q_s8(w + 16 * c);
      for (int p = 0; p < P; ++p) acc[p][c] = vusmmlaq_s32(acc[p][c], x[p], w0);
    }
    b += 2;
  }
  if (b < blocks) {  // an odd last block: 4 inputs, weights [channel 2c: 4, channel 2c+1: 4]
    uint8x16_t x[P];
    for (int p = 0; p < P; ++p) {
      uint32_t x0, x1;
      __builtin_memcpy(&x0, rows[2 * p] + 4 * b, 4);
      __builtin_memcpy(&x1, rows[2 * p + 1] + 4 * b, 4);
      x[p] = vreinterpretq_u8_u64(vcombine_u64(vcreate_u64(x0), vcreate_u64(x1)));
    }
    const int8_t* w = tile + b * 64;
    const int32x4_t zero = vdupq_n_s32(0);
    for (int c = 0; c < 8; ++c) {  // [channel 2c: inputs, 0 0 0 0, channel 2c+1: inputs, 0 0 0 0]
      const int32x4_t two = vcombine_s32(vreinterpret_s32_s8(vld1_s8(w + 8 * c)), vdup_n_s32(0));
      const int8x16_t w0 = vreinterpretq_s8_s32(vzip1q_s32(two, zero));
      for (int p = 0; p < P; ++p) acc[p][c] = vusmmlaq_s32(acc[p][c], x[p], w0);
    }
  }
  // acc[p][c] is [row 2p: channels 2c, 2c+1; row 2p+1: the same]: rows' channels 4j..4j+3 are
  // the halves of channel pairs 2j and 2j + 1.
  for (int p = 0; p < P; ++p) {
    for (int j = 0; j < 4; ++j) {
      const int64x2_t even = vreinterpretq_s64_s32(acc[p][2 * j]), odd = vreinterpretq_s64_s32(acc[p][2 * j + 1]);
      vst1q_s32(sums[2 * p] + 4 * j, vreinterpretq_s32_s64(vzip1q_s64(even, odd)));
      vst1q_s32(sums[2 * p + 1] + 4 * j, vreinterpretq_s32_s64(vzip2q_s64(even, odd)));
    }
  }
}

// Rows [first, first + count) of a tile from their int32 sums: the epilogue of kernels.h.
__attribute__((noinline)) void StoreRows(const int32_t (*sums)[16], size_t first, size_t count, const TileOutput& o,
                                         const float* scales, const int32_t* zero_points, const float* ws,
                                         const int32_t* w_sums, size_t add_stride) {
  for (size_t r = 0; r < count; ++r) {
    const size_t at = first + r;
    const int32x4_t row[4] = {vld1q_s32(sums[r]), vld1q_s32(sums[r] + 4), vld1q_s32(sums[r] + 8),
                              vld1q_s32(sums[r] + 12)};
    // USMMLA summed q w: the correction is -zero_point sum w (the scalar reference's integer).
    StoreInt8Row(row, -zero_points[at], scales[at], ws, w_sums, o.add + at * add_stride, o, o.out + at * o.out_stride);
  }
}

}  // namespace

PLE_QU8S8_GEMM(neoni8mm) {
  for (size_t t = 0; t < tiles; ++t) {
    const TileOutput& o = outputs[t];
    if (o.out == nullptr) continue;
    const int8_t* tile = w + t * w_tile_stride;
    ForRowBlocks<kRows>(rows, [&](auto block_rows, size_t first) {
      constexpr int R = decltype(block_rows)::value;
      const uint8_t* row[kRows];
      for (int r = 0; r < kRows; ++r) row[r] = a + (first + (r < R ? r : R - 1)) * a_stride;
      int32_t sums[kRows][16];
      if constexpr (R > 2) {
        PairSums<2>(row, tile, blocks, sums);
      } else {
        PairSums<1>(row, tile, blocks, sums);
      }
      StoreRows(sums, first, R, o, scales, zero_points, w_scales + 16 * t, w_sums + 16 * t, add_stride);
    });
  }
}

}  // namespace kernels
}  // namespace ple::rt
