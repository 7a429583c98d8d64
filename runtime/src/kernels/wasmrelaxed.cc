// Int8 GEMMs with relaxed SIMD's i32x4.relaxed_dot_i8x16_i7x16_add_s: 16 multiply-adds an
// instruction where SIMD128's exact i32x4.dot_i16x8_s does 8 after widening. Compiled by a newer
// clang than Debian's emscripten carries (clang 14 cannot emit the instruction;
// runtime/CMakeLists.txt, PLE_WASM_RELAXED) and linked into the web package's relaxed module only
// (platforms/web/README.md).
//
// Exactness. The instruction's first operand is signed int8, the second "7-bit": for
// second-operand lanes in [0, 127] every engine gives the exact sum; for lanes >= 128 an engine
// may read them as unsigned or as signed (ARM), and may saturate pairs of products in int16 (x86
// without VNNI: pmaddubsw) or not (x86 with AVX-VNNI: vpdpbusd). Here the first operand is the
// activation shifted to signed (x - 128, in [-128, 127]) and the second the weight shifted to
// unsigned by kShift:
// - narrow groups (weights in [-64, 64]): w + 64, in [0, 128]. Exact where the engine reads 128
//   as unsigned, saturating or not: pmaddubsw's pair sums stay within [-32768, 32512].
// - any int8 group: w + 128, in [0, 255]. Exact only where nothing saturates (vpdpbusd).
// RelaxedDotExact() below runs the instruction on those extremes once; kernel_set.cc offers the
// path, and each kernel, only where the engine computed them exactly (and the package loads the
// module only where its own probe of the narrow case passed: platforms/web/src/ple.js).
//
// The sum of a row r and a channel c over the group's padded inputs (4 x blocks):
//   R = sum (x - 128)(w + S) = sum x w - 128 sum w + S X[r],   X[r] = sum (x - 128)
// so the zero-point-centred product the reference computes is
//   sum x w - zp sum w = R + (128 - zp) w_sums[c] - S X[r],
// all in int32 exactly as the reference's (the padding's weights are 0 and count in both sums),
// then the reference's float epilogue in its order.
#include <wasm_simd128.h>

#include <cstdint>

#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"
#include "kernels/wasmsimd-epilogue.h"

namespace ple::rt {
namespace kernels {
namespace {

constexpr int kRows = 2;        // 8 accumulators: measured in Chromium, 2 rows beat 1, 3 and 4
constexpr size_t kChunk = 64;   // rows whose activation sums are computed once for all tiles

// X[r] = sum over the row's 4 x blocks bytes of (x - 128).
inline int32_t ShiftedRowSum(const uint8_t* row, size_t blocks) {
  v128_t sum = wasm_i32x4_splat(0);
  size_t i = 0;
  const size_t bytes = 4 * blocks;
  for (; i + 16 <= bytes; i += 16) {
    sum = wasm_i32x4_add(sum, wasm_u32x4_extadd_pairwise_u16x8(wasm_u16x8_extadd_pairwise_u8x16(wasm_v128_load(row + i))));
  }
  int32_t total = wasm_i32x4_extract_lane(sum, 0) + wasm_i32x4_extract_lane(sum, 1) +
                  wasm_i32x4_extract_lane(sum, 2) + wasm_i32x4_extract_lane(sum, 3);
  for (; i < bytes; ++i) total += row[i];
  return total - 128 * static_cast<int32_t>(bytes);
}

template <int kShift>
void RelaxedGemm(size_t rows, size_t blocks, const uint8_t* a, size_t a_stride, const int8_t* w, size_t w_tile_stride,
                 size_t tiles, const float* scales, const int32_t* zero_points, const float* w_scales,
                 const int32_t* w_sums, const TileOutput* outputs, size_t add_stride) {
  const v128_t weight_shift = wasm_i8x16_splat(static_cast<int8_t>(kShift));
  const v128_t activation_flip = wasm_i8x16_splat(static_cast<int8_t>(0x80));
  for (size_t chunk = 0; chunk < rows; chunk += kChunk) {
    const size_t chunk_rows = rows - chunk < kChunk ? rows - chunk : kChunk;
    int32_t row_sums[kChunk];
    for (size_t r = 0; r < chunk_rows; ++r) row_sums[r] = ShiftedRowSum(a + (chunk + r) * a_stride, blocks);
    for (size_t t = 0; t < tiles; ++t) {
      const TileOutput& o = outputs[t];
      if (o.out == nullptr) continue;
      const int8_t* tile = w + t * w_tile_stride;
      ForRowBlocks<kRows>(chunk_rows, [&](auto block_rows, size_t first_in_chunk) {
        constexpr int R = decltype(block_rows)::value;
        const size_t first = chunk + first_in_chunk;
        v128_t acc[R][4];  // [row][channels 4j..4j+3]
        for (int r = 0; r < R; ++r) {
          for (int j = 0; j < 4; ++j) acc[r][j] = wasm_i32x4_splat(0);
        }
        const uint8_t* row = a + first * a_stride;
        for (size_t b = 0; b < blocks; ++b) {
          v128_t x[R];
          for (int r = 0; r < R; ++r) x[r] = wasm_v128_xor(wasm_v128_load32_splat(row + r * a_stride + 4 * b), activation_flip);
          for (int j = 0; j < 4; ++j) {
            const v128_t weights = wasm_i8x16_add(wasm_v128_load(tile + b * 64 + 16 * j), weight_shift);
            for (int r = 0; r < R; ++r) acc[r][j] = wasm_i32x4_relaxed_dot_i8x16_i7x16_add(x[r], weights, acc[r][j]);
          }
        }
        const v128_t* sums = reinterpret_cast<const v128_t*>(w_sums + 16 * t);
        const float* ws = w_scales + 16 * t;
        for (int r = 0; r < R; ++r) {
          const size_t at = first + r;
          const v128_t weight_sum_factor = wasm_i32x4_splat(128 - zero_points[at]);
          const v128_t row_term = wasm_i32x4_splat(kShift * row_sums[first_in_chunk + r]);
          v128_t centered[4];
          for (int j = 0; j < 4; ++j) {
            centered[j] = wasm_i32x4_sub(
                wasm_i32x4_add(acc[r][j], wasm_i32x4_mul(weight_sum_factor, wasm_v128_load(sums + j))), row_term);
          }
          StoreInt8Row(centered, scales[at], ws, o.add + at * add_stride, o.relu != 0, o.out + at * o.out_stride,
                       o.columns);
        }
      });
    }
  }
}

}  // namespace

// One instruction on operands read from memory (not foldable at compile time) against the exact
// sums, lanes read as unsigned. Lane 0 and 1: the narrow extremes (2 x 128 x -128 per pair, and
// 127 x 128); lane 2: mixed values; lane 3 with kFull: 255 x -128 and 255 x 127, which saturate
// an int16 pair and tell pmaddubsw from vpdpbusd.
bool RelaxedDotExact(bool full_range) {
  static const int8_t kA[16] = {-128, -128, -128, -128, 127, 127, 127, 127, -128, 127, -1, 3, -128, -128, 127, 127};
  static const uint8_t kNarrowB[16] = {128, 128, 128, 128, 128, 128, 128, 128, 127, 0, 128, 77, 1, 99, 64, 127};
  static const uint8_t kFullB[16] = {128, 128, 128, 128, 128, 128, 128, 128, 127, 0, 128, 77, 255, 255, 255, 255};
  static const int32_t kC[4] = {7, -1, 100000, -300};
  const volatile uint8_t* b = full_range ? kFullB : kNarrowB;
  alignas(16) int8_t av[16];
  alignas(16) uint8_t bv[16];
  for (int i = 0; i < 16; ++i) {
    av[i] = static_cast<const volatile int8_t*>(kA)[i];
    bv[i] = b[i];
  }
  alignas(16) int32_t got[4];
  wasm_v128_store(got, wasm_i32x4_relaxed_dot_i8x16_i7x16_add(wasm_v128_load(av), wasm_v128_load(bv),
                                                               wasm_v128_load(kC)));
  for (int lane = 0; lane < 4; ++lane) {
    int32_t want = kC[lane];
    for (int i = 4 * lane; i < 4 * lane + 4; ++i) want += static_cast<int32_t>(kA[i]) * (full_range ? kFullB[i] : kNarrowB[i]);
    if (got[lane] != want) return false;
  }
  return true;
}

PLE_QU8S8_GEMM(wasmrelaxed) {
  RelaxedGemm<128>(rows, blocks, a, a_stride, w, w_tile_stride, tiles, scales, zero_points, w_scales, w_sums, outputs,
                   add_stride);
}

PLE_QU8S8_GEMM_NARROW(wasmrelaxed) {
  RelaxedGemm<64>(rows, blocks, a, a_stride, w, w_tile_stride, tiles, scales, zero_points, w_scales, w_sums, outputs,
                  add_stride);
}

}  // namespace kernels
}  // namespace ple::rt
