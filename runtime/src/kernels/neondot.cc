// aarch64 dot-product int8 kernel (compiled with -march=armv8.2-a+dotprod; run only when the
// CPU reports it). SDOT multiplies int8 by int8, so each activation is shifted to q - 128 (a
// flip of its top bit) and 128 x the column's weight sum is added back: the same exact int32
// dot product as the scalar reference. A 64-byte block is four registers of 4 columns x 4
// inputs, what SDOT's lanes sum. MR = 4 rows x 16 columns (16 accumulators).
//
// The main loop (StepLoop4, inline assembly) takes four blocks (16 inputs) a step for 4 rows:
// each row's 16 activation bytes are loaded and flipped once and each block uses one 4-byte
// lane of them through the lane-indexed SDOT (`sdot v.4s, w.16b, x.4b[lane]`); each weight
// register is reloaded for the next block right after its 4 SDOTs, and the next step's
// activations load during the current step, so an in-order core (Cortex-A55, A510) always has
// its loads' latency covered. llvm-mca 19 on the built loop (tools/arm_kernel_mca.py): 94 % of
// peak on Neoverse N1/N2/V1 and Apple M1, 62 % on Cortex-A55 and 49 % on A510, where a 128-bit
// load does not issue beside a 128-bit SDOT (docs/performance.md); the 6-row intrinsics loop
// before it was at 57-61 % and 23-30 %. Written with intrinsics, GCC 12 hoists all 16 weight
// loads of a step, spills accumulators and chains each accumulator's SDOTs back to back. Rows
// past a multiple of 4, and a row's last blocks % 4 blocks, take the intrinsics below, one
// block a step. Every path computes the same exact integers: the int8 results do not change.
#include <arm_neon.h>

#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"

namespace ple::rt {
namespace kernels {
namespace {

constexpr int kRows = 4;

inline float32x4_t Relu(float32x4_t y) { return vbslq_f32(vcgtq_f32(y, vdupq_n_f32(0.0f)), y, vdupq_n_f32(0.0f)); }

// The step loop's registers: accumulators v16-v31 (row r's columns 4j..4j+3 in v(16 + 4r + j)),
// activations in v0-v3 or v12-v15 (row r's 16 bytes, flipped to int8; the next step's load
// into the other set), a block's weights in v4-v7 (columns 4j..4j+3 in v(4 + j)); GCC picks
// the flip constant's register among the rest. One column group: the 4 rows' SDOTs that use
// v(4 + j), then `after` (the load of the next block's v(4 + j), and the step's other work).
#define PLE_COLUMNS(j, a0, a1, a2, a3, x0, x1, x2, x3, lane, after)                              \
  "sdot " a0 ".4s, v" j ".16b, " x0 ".4b[" lane "]\n"                                             \
  "sdot " a1 ".4s, v" j ".16b, " x1 ".4b[" lane "]\n"                                             \
  "sdot " a2 ".4s, v" j ".16b, " x2 ".4b[" lane "]\n"                                             \
  "sdot " a3 ".4s, v" j ".16b, " x3 ".4b[" lane "]\n" after
// The next block's weights for column group j, at byte `offset` from the step's weights.
// Offsets, not post-increments: a chain of address write-backs would serialise the loads.
#define PLE_LOAD_W(j, offset) "ldr q" j ", [%[w], #" offset "]\n"
// Block `lane` of a step on activations x0..x3; after column group j: w_j (the weight load or
// ""), then e_j.
#define PLE_BLOCK(x0, x1, x2, x3, lane, w4, w5, w6, w7, e0, e1, e2, e3)                         \
  PLE_COLUMNS("4", "v16", "v20", "v24", "v28", x0, x1, x2, x3, lane, w4 e0)                        \
  PLE_COLUMNS("5", "v17", "v21", "v25", "v29", x0, x1, x2, x3, lane, w5 e1)                        \
  PLE_COLUMNS("6", "v18", "v22", "v26", "v30", x0, x1, x2, x3, lane, w6 e2)                        \
  PLE_COLUMNS("7", "v19", "v23", "v27", "v31", x0, x1, x2, x3, lane, w7 e3)
// Block b's loads of block b + 1 (the step's blocks are 64 bytes apart; block 4 is the next
// step's block 0).
#define PLE_BLOCK_LOADING(x0, x1, x2, x3, lane, b1, e0, e1, e2, e3)                                  \
  PLE_BLOCK(x0, x1, x2, x3, lane, PLE_LOAD_W("4", b1 "*64+0"), PLE_LOAD_W("5", b1 "*64+16"),             \
            PLE_LOAD_W("6", b1 "*64+32"), PLE_LOAD_W("7", b1 "*64+48"), e0, e1, e2, e3)
#define PLE_LOAD_X(x, r) "ldr q" x ", [%[" r "]], #16\n"
#define PLE_FLIP(x) "eor v" x ".16b, v" x ".16b, %[flip].16b\n"
// A step on activations v{c0..c3} that also loads the next step: its weights after every
// column group, its activations into v{n0..n3} during block 2, flipped during block 3.
#define PLE_STEP(c0, c1, c2, c3, n0, n1, n2, n3)                                                     \
  PLE_BLOCK_LOADING("v" c0, "v" c1, "v" c2, "v" c3, "0", "1", "", "", "", "")                 \
  PLE_BLOCK_LOADING("v" c0, "v" c1, "v" c2, "v" c3, "1", "2", "", "", "", "")                 \
  PLE_BLOCK_LOADING("v" c0, "v" c1, "v" c2, "v" c3, "2", "3", PLE_LOAD_X(n0, "r0"),            \
            PLE_LOAD_X(n1, "r1"), PLE_LOAD_X(n2, "r2"), PLE_LOAD_X(n3, "r3"))                        \
  PLE_BLOCK_LOADING("v" c0, "v" c1, "v" c2, "v" c3, "3", "4", PLE_FLIP(n0), PLE_FLIP(n1),      \
            PLE_FLIP(n2), PLE_FLIP(n3))                                                               \
  "add %[w], %[w], #256\n"
// The last step: no loads after its last block (nothing is read past the rows and weights).
#define PLE_LAST_STEP(c0, c1, c2, c3)                                                                \
  PLE_BLOCK_LOADING("v" c0, "v" c1, "v" c2, "v" c3, "0", "1", "", "", "", "")                 \
  PLE_BLOCK_LOADING("v" c0, "v" c1, "v" c2, "v" c3, "1", "2", "", "", "", "")                 \
  PLE_BLOCK_LOADING("v" c0, "v" c1, "v" c2, "v" c3, "2", "3", "", "", "", "")                 \
  PLE_BLOCK("v" c0, "v" c1, "v" c2, "v" c3, "3", "", "", "", "", "", "", "", "")

// `steps` (> 0) steps of four blocks for 4 rows: rows r0..r3 (16 bytes a step each), weights
// w (256 bytes a step), added to acc (row r's 16 columns at acc[r][0..3]). Reads exactly
// 16 x steps bytes of each row and 256 x steps bytes of weights.
inline void StepLoop4(int32x4_t (&acc)[4][4], const uint8_t* r0, const uint8_t* r1, const uint8_t* r2,
                      const uint8_t* r3, const int8_t* w, size_t steps, uint8x16_t flip) {
  int32x4_t* a = &acc[0][0];
  size_t with_next = steps - 1;  // steps followed by another: they load it
  __asm__ volatile(
      "ldp q16, q17, [%[a]]\n"
      "ldp q18, q19, [%[a], #32]\n"
      "ldp q20, q21, [%[a], #64]\n"
      "ldp q22, q23, [%[a], #96]\n"
      "ldp q24, q25, [%[a], #128]\n"
      "ldp q26, q27, [%[a], #160]\n"
      "ldp q28, q29, [%[a], #192]\n"
      "ldp q30, q31, [%[a], #224]\n"
      PLE_LOAD_X("0", "r0") PLE_LOAD_X("1", "r1") PLE_LOAD_X("2", "r2") PLE_LOAD_X("3", "r3")
      PLE_LOAD_W("4", "0") PLE_LOAD_W("5", "16") PLE_LOAD_W("6", "32") PLE_LOAD_W("7", "48")
      PLE_FLIP("0") PLE_FLIP("1") PLE_FLIP("2") PLE_FLIP("3")
      "cbz %[n], 4f\n"
      "1:\n"
      PLE_STEP("0", "1", "2", "3", "12", "13", "14", "15")
      "subs %[n], %[n], #1\n"
      "b.eq 5f\n"
      PLE_STEP("12", "13", "14", "15", "0", "1", "2", "3")
      "subs %[n], %[n], #1\n"
      "b.ne 1b\n"
      "4:\n"
      PLE_LAST_STEP("0", "1", "2", "3")
      "b 6f\n"
      "5:\n"
      PLE_LAST_STEP("12", "13", "14", "15")
      "6:\n"
      "stp q16, q17, [%[a]]\n"
      "stp q18, q19, [%[a], #32]\n"
      "stp q20, q21, [%[a], #64]\n"
      "stp q22, q23, [%[a], #96]\n"
      "stp q24, q25, [%[a], #128]\n"
      "stp q26, q27, [%[a], #160]\n"
      "stp q28, q29, [%[a], #192]\n"
      "stp q30, q31, [%[a], #224]\n"
      : [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2), [r3] "+r"(r3), [w] "+r"(w), [n] "+r"(with_next)
      : [a] "r"(a), [flip] "w"(flip)
      : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v12", "v13", "v14", "v15", "v16", "v17",
        "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31");
}

#undef PLE_LAST_STEP
#undef PLE_STEP
#undef PLE_FLIP
#undef PLE_LOAD_X
#undef PLE_BLOCK_LOADING
#undef PLE_BLOCK
#undef PLE_LOAD_W
#undef PLE_COLUMNS


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
        const int32x4_t shift = vdupq_n_s32(128 - zero_points[at]);
        const float32x4_t s = vdupq_n_f32(scales[at]);
        const float* add = o.add + at * add_stride;
        float values[16];
        for (int j = 0; j < 4; ++j) {
          const int32x4_t centered = vmlaq_s32(acc[r][j], shift, vld1q_s32(sums + 4 * j));
          float32x4_t y = vmulq_f32(vmulq_f32(s, vld1q_f32(ws + 4 * j)), vcvtq_f32_s32(centered));
          y = vaddq_f32(y, vld1q_f32(add + 4 * j));
          if (o.relu) y = Relu(y);
          vst1q_f32(values + 4 * j, y);
        }
        float* out = o.out + at * o.out_stride;
        for (size_t c = 0; c < o.columns; ++c) out[c] = values[c];
      }
    });
  }
}

}  // namespace kernels
}  // namespace ple::rt
