// WebAssembly SIMD128 kernels. The whole wasm build is compiled with -msimd128, so the scalar
// path there is the compiler's vectorisation of the reference loops, one row at a time; these
// GEMMs block rows so that a tile's weights are loaded (and, for int8 and float16, widened) once
// for several rows. No run-time detection: a module built with SIMD128 only instantiates on an
// engine that has it. Every kernel here gives the scalar reference's bits (KernelSet::float_exact):
//
// f32 and f16: per row, 16 accumulators across the tile's columns, a[r][i] * w[i][c] then the
// add, i ascending: the reference's operations in its order (no fused multiply-add exists in
// SIMD128; relaxed madd is not used). float16 weights are widened exactly (F16ToF32 below).
// int8: exact. A block's 16 weight bytes per 4 channels are widened to int16 (channels 4j, 4j+1
// and 4j+2, 4j+3: 8 values each), a row's 4 activations to int16 twice ([x0..x3, x0..x3]), and
// i32x4.dot_i16x8_s sums products in pairs: lanes [channel 4j: inputs 0-1, 2-3; channel 4j+1:
// the same]; the two lanes of a channel are added at the end. The int32 sums are the scalar
// reference's (255 x 128 x 2 fits easily); the epilogue is its float operations in its order.
// Quantization: min, max and the finiteness check per row, then x * inverse rounded to nearest
// even, shifted and clamped by saturating narrows: quantize-params.h's operations.
// Gate: the shared softmax (softmax-weights.h), then the weighted sum four columns at a time,
// products then sums in expert order, as WeightedSumColumns.
#include <wasm_simd128.h>

#include <algorithm>

#include "kernels/quantize-params.h"
#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"
#include "kernels/softmax-weights.h"
#include "kernels/wasmsimd-epilogue.h"

namespace ple::rt {
namespace kernels {
namespace {

constexpr int kFloatRows = 2;  // 8 accumulators a row + 4 weight vectors: V8 keeps 16 in registers on x86-64
constexpr int kInt8Rows = 2;

// 8 float16 values to float32, exactly as f16_to_f32: the magnitude's bits moved to a float's
// place and scaled by 2^112 (exact for normal and subnormal halves: a power of two), infinities
// and NaNs (exponent 31) rebuilt, the sign put back.
inline void F16ToF32(v128_t halves, v128_t* low, v128_t* high) {
  const v128_t magnitude_mask = wasm_i32x4_splat(0x7fff), exponent_mask = wasm_i32x4_splat(0x7c00);
  const v128_t scale = wasm_f32x4_splat(0x1p112f);
  v128_t* out[2] = {low, high};
  const v128_t words[2] = {wasm_u32x4_extend_low_u16x8(halves), wasm_u32x4_extend_high_u16x8(halves)};
  for (int h = 0; h < 2; ++h) {
    const v128_t x = words[h];
    const v128_t magnitude = wasm_v128_and(x, magnitude_mask);
    const v128_t finite = wasm_f32x4_mul(wasm_i32x4_shl(magnitude, 13), scale);
    const v128_t is_special = wasm_i32x4_eq(wasm_v128_and(x, exponent_mask), exponent_mask);
    const v128_t is_nan = wasm_v128_and(is_special, wasm_i32x4_ne(wasm_v128_and(x, wasm_i32x4_splat(0x3ff)), wasm_i32x4_splat(0)));
    const v128_t special = wasm_v128_or(wasm_i32x4_splat(0x7f800000), wasm_v128_and(is_nan, wasm_i32x4_splat(0x00400000)));
    const v128_t value = wasm_v128_bitselect(special, finite, is_special);
    *out[h] = wasm_v128_or(value, wasm_i32x4_shl(wasm_v128_and(x, wasm_i32x4_splat(0x8000)), 16));
  }
}

// Input i's 16 weights of a tile as 4 float32 vectors.
inline void LoadWeights(const float* tile, size_t i, v128_t (&w)[4]) {
  for (int j = 0; j < 4; ++j) w[j] = wasm_v128_load(tile + 16 * i + 4 * j);
}
inline void LoadWeights(const uint16_t* tile, size_t i, v128_t (&w)[4]) {
  F16ToF32(wasm_v128_load(tile + 16 * i), &w[0], &w[1]);
  F16ToF32(wasm_v128_load(tile + 16 * i + 8), &w[2], &w[3]);
}

template <typename Weight>
void FloatGemm(size_t rows, size_t k, const float* a, size_t a_stride, const Weight* w, size_t w_tile_stride,
               size_t tiles, const TileOutput* outputs, size_t add_stride) {
  for (size_t t = 0; t < tiles; ++t) {
    const TileOutput& o = outputs[t];
    if (o.out == nullptr) continue;
    const Weight* tile = w + t * w_tile_stride;
    ForRowBlocks<kFloatRows>(rows, [&](auto block_rows, size_t first) {
      constexpr int R = decltype(block_rows)::value;
      v128_t acc[R][4];
      for (int r = 0; r < R; ++r) {
        for (int j = 0; j < 4; ++j) acc[r][j] = wasm_f32x4_splat(0.0f);
      }
      const float* row = a + first * a_stride;
      for (size_t i = 0; i < k; ++i) {
        v128_t wv[4];
        LoadWeights(tile, i, wv);
        for (int r = 0; r < R; ++r) {
          const v128_t x = wasm_f32x4_splat(row[r * a_stride + i]);
          for (int j = 0; j < 4; ++j) acc[r][j] = wasm_f32x4_add(acc[r][j], wasm_f32x4_mul(x, wv[j]));
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

inline float HorizontalMin(v128_t v) {
  float lanes[4];
  wasm_v128_store(lanes, v);
  return std::min(std::min(lanes[0], lanes[1]), std::min(lanes[2], lanes[3]));
}

inline float HorizontalMax(v128_t v) {
  float lanes[4];
  wasm_v128_store(lanes, v);
  return std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
}

}  // namespace

PLE_F32_GEMM(wasmsimd) { FloatGemm(rows, k, a, a_stride, w, w_tile_stride, tiles, outputs, add_stride); }

PLE_F16_GEMM(wasmsimd) { FloatGemm(rows, k, a, a_stride, w, w_tile_stride, tiles, outputs, add_stride); }

PLE_F32_QU8_QUANTIZE(wasmsimd) {
  // pmin/pmax are std::min/std::max's comparisons (b < a ? b : a).
  auto range = [k](const float* row, float* lo, float* hi, float* bad) {
    v128_t vlo = wasm_f32x4_splat(0.0f), vhi = vlo, vbad = vlo;
    size_t i = 0;
    for (; i + 4 <= k; i += 4) {
      const v128_t v = wasm_v128_load(row + i);
      vlo = wasm_f32x4_pmin(vlo, v);
      vhi = wasm_f32x4_pmax(vhi, v);
      vbad = wasm_f32x4_add(vbad, wasm_f32x4_sub(v, v));
    }
    *lo = HorizontalMin(vlo);
    *hi = HorizontalMax(vhi);
    *bad = (wasm_f32x4_extract_lane(vbad, 0) + wasm_f32x4_extract_lane(vbad, 1)) +
           (wasm_f32x4_extract_lane(vbad, 2) + wasm_f32x4_extract_lane(vbad, 3));
    return i;
  };
  auto quantize = [k](const float* row, const RowQuantization& p, uint8_t* out) {
    const v128_t inverse = wasm_f32x4_splat(p.inverse);
    const v128_t zero_point = wasm_i32x4_splat(p.zero_point);
    size_t i = 0;
    for (; i + 16 <= k; i += 16) {
      v128_t q32[4];
      for (int j = 0; j < 4; ++j) {  // |x * inverse| <= 255: the conversion is exact
        const v128_t scaled = wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(row + i + 4 * j), inverse));
        q32[j] = wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(scaled), zero_point);
      }
      // Saturating narrows: below 0 to 0, above 255 to 255.
      const v128_t q16a = wasm_i16x8_narrow_i32x4(q32[0], q32[1]), q16b = wasm_i16x8_narrow_i32x4(q32[2], q32[3]);
      wasm_v128_store(out + i, wasm_u8x16_narrow_i16x8(q16a, q16b));
    }
    return i;
  };
  return QuantizeRows(rows, k, x, x_stride, q, q_stride, k_padded, scales, zero_points, range, quantize);
}

PLE_F32_GATE_SOFTMAX_SUM(wasmsimd) {
  for (size_t r = 0; r < rows; ++r) {
    float* p = weights + r * weights_stride;
    SoftmaxWeights(count, logits + r * logits_stride, p);
    float* o = out + r * out_stride;
    const size_t offset = r * expert_stride;
    size_t c = 0;
    for (; c + 4 <= width; c += 4) {
      v128_t sum = wasm_f32x4_mul(wasm_f32x4_splat(p[0]), wasm_v128_load(experts[0] + offset + c));
      for (size_t e = 1; e < count; ++e) {
        sum = wasm_f32x4_add(sum, wasm_f32x4_mul(wasm_f32x4_splat(p[e]), wasm_v128_load(experts[e] + offset + c)));
      }
      wasm_v128_store(o + c, sum);
    }
    WeightedSumColumns(count, p, experts, offset, c, width, o);
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
        v128_t centered[4];
        for (int j = 0; j < 4; ++j) {
          const v128_t even = wasm_i32x4_shuffle(acc[r][2 * j], acc[r][2 * j + 1], 0, 2, 4, 6);
          const v128_t odd = wasm_i32x4_shuffle(acc[r][2 * j], acc[r][2 * j + 1], 1, 3, 5, 7);
          const v128_t dot = wasm_i32x4_add(even, odd);  // channels 4j..4j+3
          centered[j] = wasm_i32x4_sub(dot, wasm_i32x4_mul(zero_point, wasm_v128_load(sums + j)));
        }
        StoreInt8Row(centered, scales[at], ws, o.add + at * add_stride, o.relu != 0, o.out + at * o.out_stride,
                     o.columns);
      }
    });
  }
}

}  // namespace kernels
}  // namespace ple::rt
