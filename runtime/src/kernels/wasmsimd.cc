// WebAssembly SIMD128 kernels. The whole wasm build is compiled with -msimd128, so the scalar
// path there is the compiler's vectorisation of the reference loops, one row at a time; these
// GEMMs block rows so that a tile's weights are loaded (and, for int8, widened) once for several
// rows. No run-time detection: a module built with SIMD128 only instantiates on an engine that
// has it.
//
// f32: per row, 16 accumulators across the tile's columns, a[r][i] * w[i][c] then the add, i
// ascending: the scalar reference's operations in its order, so the results are bit-identical
// to it (no fused multiply-add exists in SIMD128; relaxed madd is not used).
// int8: exact. A block's 16 weight bytes per 4 channels are widened to int16 (channels 4j, 4j+1
// and 4j+2, 4j+3: 8 values each), a row's 4 activations to int16 twice ([x0..x3, x0..x3]), and
// i32x4.dot_i16x8_s sums products in pairs: lanes [channel 4j: inputs 0-1, 2-3; channel 4j+1:
// the same]; the two lanes of a channel are added at the end. The int32 sums are the scalar
// reference's (255 x 128 x 2 fits easily); the epilogue is its float operations in its order.
#include <wasm_simd128.h>

#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"

namespace ple::rt {
namespace kernels {
namespace {

constexpr int kFloatRows = 2;  // 8 accumulators a row + 4 weight vectors: V8 keeps 16 in registers on x86-64
constexpr int kInt8Rows = 2;

// y = sum + add, then ReLU as the reference writes it: !(y > 0) gives 0 (a NaN too).
inline v128_t AddRelu(v128_t sum, const float* add, bool relu) {
  const v128_t y = wasm_f32x4_add(sum, wasm_v128_load(add));
  return relu ? wasm_v128_and(y, wasm_f32x4_gt(y, wasm_f32x4_splat(0.0f))) : y;
}

inline void StoreColumns(const v128_t (&values)[4], float* out, size_t columns) {
  if (columns == 16) {
    for (int j = 0; j < 4; ++j) wasm_v128_store(out + 4 * j, values[j]);
    return;
  }
  alignas(16) float all[16];
  for (int j = 0; j < 4; ++j) wasm_v128_store(all + 4 * j, values[j]);
  for (size_t c = 0; c < columns; ++c) out[c] = all[c];
}

}  // namespace

PLE_F32_GEMM(wasmsimd) {
  for (size_t t = 0; t < tiles; ++t) {
    const TileOutput& o = outputs[t];
    if (o.out == nullptr) continue;
    const float* tile = w + t * w_tile_stride;
    ForRowBlocks<kFloatRows>(rows, [&](auto block_rows, size_t first) {
      constexpr int R = decltype(block_rows)::value;
      v128_t acc[R][4];
      for (int r = 0; r < R; ++r) {
        for (int j = 0; j < 4; ++j) acc[r][j] = wasm_f32x4_splat(0.0f);
      }
      const float* row = a + first * a_stride;
      for (size_t i = 0; i < k; ++i) {
        const v128_t w0 = wasm_v128_load(tile + 16 * i), w1 = wasm_v128_load(tile + 16 * i + 4);
        const v128_t w2 = wasm_v128_load(tile + 16 * i + 8), w3 = wasm_v128_load(tile + 16 * i + 12);
        for (int r = 0; r < R; ++r) {
          const v128_t x = wasm_f32x4_splat(row[r * a_stride + i]);
          acc[r][0] = wasm_f32x4_add(acc[r][0], wasm_f32x4_mul(x, w0));
          acc[r][1] = wasm_f32x4_add(acc[r][1], wasm_f32x4_mul(x, w1));
          acc[r][2] = wasm_f32x4_add(acc[r][2], wasm_f32x4_mul(x, w2));
          acc[r][3] = wasm_f32x4_add(acc[r][3], wasm_f32x4_mul(x, w3));
        }
      }
      for (int r = 0; r < R; ++r) {
        const size_t at = first + r;
        const float* add = o.add + at * add_stride;
        v128_t y[4];
        for (int j = 0; j < 4; ++j) y[j] = AddRelu(acc[r][j], add + 4 * j, o.relu != 0);
        StoreColumns(y, o.out + at * o.out_stride, o.columns);
      }
    });
  }
}

PLE_QU8S8_GEMM(wasmsimd) {
  for (size_t t = 0; t < tiles; ++t) {
    const TileOutput& o = outputs[t];
    if (o.out == nullptr) continue;
    const int8_t* tile = w + t * w_tile_stride;
    ForRowBlocks<kInt8Rows>(rows, [&](auto block_rows, size_t first) {
      constexpr int R = decltype(block_rows)::value;
      v128_t acc[R][8];  // [row][channels 2m, 2m+1 as (inputs 0-1, 2-3) each]
      for (int r = 0; r < R; ++r) {
        for (int m = 0; m < 8; ++m) acc[r][m] = wasm_i32x4_splat(0);
      }
      const uint8_t* row = a + first * a_stride;
      for (size_t b = 0; b < blocks; ++b) {
        v128_t x[R];
        for (int r = 0; r < R; ++r) x[r] = wasm_u16x8_extend_low_u8x16(wasm_v128_load32_splat(row + r * a_stride + 4 * b));
        for (int j = 0; j < 4; ++j) {
          const v128_t bytes = wasm_v128_load(tile + b * 64 + 16 * j);
          const v128_t low = wasm_i16x8_extend_low_i8x16(bytes), high = wasm_i16x8_extend_high_i8x16(bytes);
          for (int r = 0; r < R; ++r) {
            acc[r][2 * j] = wasm_i32x4_add(acc[r][2 * j], wasm_i32x4_dot_i16x8(low, x[r]));
            acc[r][2 * j + 1] = wasm_i32x4_add(acc[r][2 * j + 1], wasm_i32x4_dot_i16x8(high, x[r]));
          }
        }
      }
      const v128_t* sums = reinterpret_cast<const v128_t*>(w_sums + 16 * t);
      const float* ws = w_scales + 16 * t;
      for (int r = 0; r < R; ++r) {
        const size_t at = first + r;
        const v128_t zero_point = wasm_i32x4_splat(zero_points[at]);
        const v128_t scale = wasm_f32x4_splat(scales[at]);
        const float* add = o.add + at * add_stride;
        v128_t y[4];
        for (int j = 0; j < 4; ++j) {
          const v128_t even = wasm_i32x4_shuffle(acc[r][2 * j], acc[r][2 * j + 1], 0, 2, 4, 6);
          const v128_t odd = wasm_i32x4_shuffle(acc[r][2 * j], acc[r][2 * j + 1], 1, 3, 5, 7);
          const v128_t dot = wasm_i32x4_add(even, odd);  // channels 4j..4j+3
          const v128_t centered = wasm_i32x4_sub(dot, wasm_i32x4_mul(zero_point, wasm_v128_load(sums + j)));
          const v128_t combined = wasm_f32x4_mul(scale, wasm_v128_load(ws + 4 * j));
          y[j] = AddRelu(wasm_f32x4_mul(combined, wasm_f32x4_convert_i32x4(centered)), add + 4 * j, o.relu != 0);
        }
        StoreColumns(y, o.out + at * o.out_stride, o.columns);
      }
    });
  }
}

}  // namespace kernels
}  // namespace ple::rt
