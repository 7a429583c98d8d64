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

#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"

namespace ple::rt {
namespace kernels {
namespace {

constexpr int kRows = 4;

inline float32x4_t Relu(float32x4_t y) { return vbslq_f32(vcgtq_f32(y, vdupq_n_f32(0.0f)), y, vdupq_n_f32(0.0f)); }

inline uint8x16_t PairLow(uint8x16_t x0, uint8x16_t x1) {  // rows' inputs 0..7, side by side
  return vreinterpretq_u8_u64(vzip1q_u64(vreinterpretq_u64_u8(x0), vreinterpretq_u64_u8(x1)));
}
inline uint8x16_t PairHigh(uint8x16_t x0, uint8x16_t x1) {  // rows' inputs 8..15
  return vreinterpretq_u8_u64(vzip2q_u64(vreinterpretq_u64_u8(x0), vreinterpretq_u64_u8(x1)));
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
  for (; b + 4 <= blocks; b += 4) {  // 16 inputs: pairs of blocks b/2 and b/2 + 1
    uint8x16_t low[P], high[P];
    #pragma GCC unroll 2
    for (int p = 0; p < P; ++p) {
      const uint8x16_t x0 = vld1q_u8(rows[2 * p] + 4 * b), x1 = vld1q_u8(rows[2 * p + 1] + 4 * b);
      low[p] = PairLow(x0, x1);
      high[p] = PairHigh(x0, x1);
    }
    const int8_t* w = tile + b * 64;
    #pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) {
      const int8x16_t w0 = vld1q_s8(w + 16 * c), w1 = vld1q_s8(w + 128 + 16 * c);
      #pragma GCC unroll 2
      for (int p = 0; p < P; ++p) {
        acc[p][c] = vusmmlaq_s32(acc[p][c], low[p], w0);
        acc[p][c] = vusmmlaq_s32(acc[p][c], high[p], w1);
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
    // sum q w - zero_point sum w, in int32 (the scalar reference's integer).
    const int32x4_t shift = vdupq_n_s32(-zero_points[at]);
    const float32x4_t s = vdupq_n_f32(scales[at]);
    const float* add = o.add + at * add_stride;
    float values[16];
    for (int j = 0; j < 4; ++j) {
      const int32x4_t centered = vmlaq_s32(vld1q_s32(sums[r] + 4 * j), shift, vld1q_s32(w_sums + 4 * j));
      float32x4_t y = vmulq_f32(vmulq_f32(s, vld1q_f32(ws + 4 * j)), vcvtq_f32_s32(centered));
      y = vaddq_f32(y, vld1q_f32(add + 4 * j));
      if (o.relu) y = Relu(y);
      vst1q_f32(values + 4 * j, y);
    }
    float* out = o.out + at * o.out_stride;
    for (size_t c = 0; c < o.columns; ++c) out[c] = values[c];
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
