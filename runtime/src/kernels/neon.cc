// ARM NEON kernels, for aarch64 and for armv7 with NEON + VFPv4 (compiled with
// -mfpu=neon-vfpv4 -mfp16-format=ieee there). float32/float16: a tile is four 4-float
// registers per row; aarch64 runs fused multiply-adds, float32 in blocks of 4 rows, 4 inputs a
// step in the inline-assembly step loop it shares with the dot-product int8 GEMM
// (aarch64-step-loop.h, lane-indexed FMLA: llvm-mca numbers in docs/performance.md), float16 in
// blocks of 6 rows; armv7 MR = 2 with vmla (16 registers). int8 without the dot product: vld4 de-interleaves a block
// into the 16 columns' weights for each of its 4 inputs, widened to int16, and vmlal
// multiplies them by the row's value into int32 exactly.
#include <arm_neon.h>

#include <type_traits>

#include "kernels/quantize-params.h"
#include "kernels/row-blocks.h"
#include "kernels/simd_kernels.h"
#include "kernels/softmax-weights.h"

namespace ple::rt {
namespace kernels {
namespace {

#if defined(__aarch64__)
// Rows per block: float32 4 (the step loop's), float16 6 (24 accumulators, the weights widened
// as they load).
template <typename Weight>
constexpr int kFloatRows = std::is_same_v<Weight, float> ? 4 : 6;
constexpr int kInt8Rows = 4;
inline float32x4_t MultiplyAdd(float32x4_t acc, float32x4_t x, float32x4_t w) { return vfmaq_f32(acc, x, w); }
#else
template <typename Weight>
constexpr int kFloatRows = 2;
constexpr int kInt8Rows = 1;
inline float32x4_t MultiplyAdd(float32x4_t acc, float32x4_t x, float32x4_t w) { return vmlaq_f32(acc, x, w); }
#endif

// y > 0 ? y : 0, exactly as the scalar reference (vmaxq would keep a NaN).
inline float32x4_t Relu(float32x4_t y) { return vbslq_f32(vcgtq_f32(y, vdupq_n_f32(0.0f)), y, vdupq_n_f32(0.0f)); }

// One row of a tile: y = v + add, ReLU when the tile's layer is ReLU, stored for its columns.
inline void StoreTileRow(const float32x4_t v[4], const TileOutput& o, size_t r, size_t add_stride) {
  const float* add = o.add + r * add_stride;
  float* out = o.out + r * o.out_stride;
  float32x4_t y[4];
  for (int j = 0; j < 4; ++j) {
    y[j] = vaddq_f32(v[j], vld1q_f32(add + 4 * j));
    if (o.relu) y[j] = Relu(y[j]);
  }
  if (o.columns == 16) {
    for (int j = 0; j < 4; ++j) vst1q_f32(out + 4 * j, y[j]);
    return;
  }
  float values[16];
  for (int j = 0; j < 4; ++j) vst1q_f32(values + 4 * j, y[j]);
  for (size_t c = 0; c < o.columns; ++c) out[c] = values[c];
}

struct LoadF32 {
  const float* w;
  float32x4_t operator()(size_t i, int j) const { return vld1q_f32(w + i * 16 + 4 * j); }
};

struct LoadF16 {
  const uint16_t* w;
  float32x4_t operator()(size_t i, int j) const {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(w + i * 16 + 4 * j)));
  }
};

#if defined(__aarch64__)
#define PLE_A64_MAC(acc, w, x, lane) "fmla " acc ".4s, " w ".4s, " x ".s[" lane "]\n"
#define PLE_A64_PREPARE_X(x) ""
#include "kernels/aarch64-step-loop.h"

// float32 weights, 4 rows: `steps` (> 0) steps of 4 inputs, rows r0..r3 (4 floats a step
// each), weights w (64 floats a step), fused into acc (row r's 16 columns at acc[r][0..3]):
// acc += w x x[i] for i ascending, one fused multiply-add per product, as the loop below.
inline void StepLoopF32(float32x4_t (&acc)[4][4], const float* r0, const float* r1, const float* r2,
                        const float* r3, const float* w, size_t steps) {
  float32x4_t* a = &acc[0][0];
  size_t with_next = steps - 1;  // steps followed by another: they load it
  __asm__ volatile(PLE_A64_STEP_LOOP_4X16
                   : [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2), [r3] "+r"(r3), [w] "+r"(w), [n] "+r"(with_next)
                   : [a] "r"(a)
                   : PLE_A64_STEP_LOOP_CLOBBERS);
}
#endif

template <typename Weight, typename Loader>
void FloatGemm(size_t rows, size_t k, const float* a, size_t a_stride, const Weight* w, size_t w_tile_stride,
               size_t tiles, const TileOutput* outputs, size_t add_stride) {
  for (size_t t = 0; t < tiles; ++t) {
    const TileOutput& o = outputs[t];
    if (o.out == nullptr) continue;
    const Loader weights{w + t * w_tile_stride};
    ForRowBlocks<kFloatRows<Weight>>(rows, [&](auto block_rows, size_t first) {
      constexpr int R = decltype(block_rows)::value;
      float32x4_t acc[R][4];
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        for (int j = 0; j < 4; ++j) acc[r][j] = vdupq_n_f32(0.0f);
      }
      const float* row = a + first * a_stride;
      size_t i = 0;
#if defined(__aarch64__)
      // float32 weights in blocks of 4 rows: the step loop (aarch64-step-loop.h), 4 inputs a step.
      if constexpr (R == 4 && std::is_same_v<Weight, float>) {
        const size_t steps = k / 4;
        if (steps > 0) {
          StepLoopF32(acc, row, row + a_stride, row + 2 * a_stride, row + 3 * a_stride, weights.w, steps);
          i = 4 * steps;
        }
      }
#endif
      for (; i < k; ++i) {
        const float32x4_t w0 = weights(i, 0), w1 = weights(i, 1), w2 = weights(i, 2), w3 = weights(i, 3);
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const float32x4_t x = vdupq_n_f32(row[r * a_stride + i]);
          acc[r][0] = MultiplyAdd(acc[r][0], x, w0);
          acc[r][1] = MultiplyAdd(acc[r][1], x, w1);
          acc[r][2] = MultiplyAdd(acc[r][2], x, w2);
          acc[r][3] = MultiplyAdd(acc[r][3], x, w3);
        }
      }
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) StoreTileRow(acc[r], o, first + r, add_stride);
    });
  }
}

// Round to nearest even, as the default rounding mode does (vcvtq_s32_f32 truncates).
inline int32x4_t RoundToInt(float32x4_t v) {
#if defined(__aarch64__)
  return vcvtnq_s32_f32(v);
#else
  // |v| <= 2^22: adding and subtracting 1.5 * 2^23 rounds to an integer, nearest even.
  const float32x4_t magic = vdupq_n_f32(12582912.0f);
  return vcvtq_s32_f32(vsubq_f32(vaddq_f32(v, magic), magic));
#endif
}

inline float HorizontalMin(float32x4_t v) {
  const float32x2_t m = vpmin_f32(vget_low_f32(v), vget_high_f32(v));
  return vget_lane_f32(vpmin_f32(m, m), 0);
}

inline float HorizontalMax(float32x4_t v) {
  const float32x2_t m = vpmax_f32(vget_low_f32(v), vget_high_f32(v));
  return vget_lane_f32(vpmax_f32(m, m), 0);
}

}  // namespace

PLE_F32_GEMM(neon) { FloatGemm<float, LoadF32>(rows, k, a, a_stride, w, w_tile_stride, tiles, outputs, add_stride); }

PLE_F16_GEMM(neon) {
  FloatGemm<uint16_t, LoadF16>(rows, k, a, a_stride, w, w_tile_stride, tiles, outputs, add_stride);
}

PLE_F32_QU8_QUANTIZE(neon) {
  auto range = [k](const float* row, float* lo, float* hi, float* bad) {
    float32x4_t vlo = vdupq_n_f32(0.0f), vhi = vdupq_n_f32(0.0f), vbad = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 4 <= k; i += 4) {
      const float32x4_t v = vld1q_f32(row + i);
      vlo = vminq_f32(vlo, v);
      vhi = vmaxq_f32(vhi, v);
      vbad = vaddq_f32(vbad, vsubq_f32(v, v));
    }
    *lo = HorizontalMin(vlo);
    *hi = HorizontalMax(vhi);
    *bad = (vgetq_lane_f32(vbad, 0) + vgetq_lane_f32(vbad, 1)) + (vgetq_lane_f32(vbad, 2) + vgetq_lane_f32(vbad, 3));
    return i;
  };
  auto quantize = [k](const float* row, const RowQuantization& p, uint8_t* out) {
    const float32x4_t inverse = vdupq_n_f32(p.inverse);
    const int32x4_t zp = vdupq_n_s32(p.zero_point);
    size_t i = 0;
    for (; i + 8 <= k; i += 8) {
      const int32x4_t a0 = vaddq_s32(RoundToInt(vmulq_f32(vld1q_f32(row + i), inverse)), zp);
      const int32x4_t a1 = vaddq_s32(RoundToInt(vmulq_f32(vld1q_f32(row + i + 4), inverse)), zp);
      // Saturating narrows: negative to 0, above 255 to 255.
      vst1_u8(out + i, vqmovn_u16(vcombine_u16(vqmovun_s32(a0), vqmovun_s32(a1))));
    }
    return i;
  };
  return QuantizeRows(rows, k, x, x_stride, q, q_stride, k_padded, scales, zero_points, range, quantize);
}

PLE_QU8S8_GEMM(neon) {
  for (size_t t = 0; t < tiles; ++t) {
    const TileOutput& o = outputs[t];
    if (o.out == nullptr) continue;
    const int8_t* tile = w + t * w_tile_stride;
    const float* ws = w_scales + 16 * t;
    const int32_t* sums = w_sums + 16 * t;
    ForRowBlocks<kInt8Rows>(rows, [&](auto block_rows, size_t first) {
      constexpr int R = decltype(block_rows)::value;
      int32x4_t acc[R][4];
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        for (int j = 0; j < 4; ++j) acc[r][j] = vdupq_n_s32(0);
      }
      const uint8_t* row = a + first * a_stride;
      for (size_t b = 0; b < blocks; ++b) {
        const int8x16x4_t block = vld4q_s8(tile + b * 64);  // block.val[j][c]: column c's weight for input 4b + j
        for (int j = 0; j < 4; ++j) {
          const int16x8_t lo = vmovl_s8(vget_low_s8(block.val[j])), hi = vmovl_s8(vget_high_s8(block.val[j]));
          #pragma GCC unroll 8
          for (int r = 0; r < R; ++r) {
            const int16_t x = row[r * a_stride + 4 * b + j];
            acc[r][0] = vmlal_n_s16(acc[r][0], vget_low_s16(lo), x);
            acc[r][1] = vmlal_n_s16(acc[r][1], vget_high_s16(lo), x);
            acc[r][2] = vmlal_n_s16(acc[r][2], vget_low_s16(hi), x);
            acc[r][3] = vmlal_n_s16(acc[r][3], vget_high_s16(hi), x);
          }
        }
      }
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const size_t at = first + r;
        const int32x4_t zp = vdupq_n_s32(zero_points[at]);
        const float32x4_t s = vdupq_n_f32(scales[at]);
        float32x4_t y[4];
        for (int j = 0; j < 4; ++j) {
          const int32x4_t centered = vsubq_s32(acc[r][j], vmulq_s32(zp, vld1q_s32(sums + 4 * j)));
          y[j] = vmulq_f32(vmulq_f32(s, vld1q_f32(ws + 4 * j)), vcvtq_f32_s32(centered));
        }
        StoreTileRow(y, o, at, add_stride);
      }
    });
  }
}

PLE_F32_GATE_SOFTMAX_SUM(neon) {
  for (size_t r = 0; r < rows; ++r) {
    float* p = weights + r * weights_stride;
    SoftmaxWeights(count, logits + r * logits_stride, p);
    float* o = out + r * out_stride;
    size_t c = 0;
    for (; c + 4 <= width; c += 4) {  // products then sums, as the scalar reference
      float32x4_t sum = vmulq_f32(vdupq_n_f32(p[0]), vld1q_f32(experts[0] + r * expert_stride + c));
      for (size_t e = 1; e < count; ++e) {
        sum = vaddq_f32(sum, vmulq_f32(vdupq_n_f32(p[e]), vld1q_f32(experts[e] + r * expert_stride + c)));
      }
      vst1q_f32(o + c, sum);
    }
    WeightedSumColumns(count, p, experts, r * expert_stride, c, width, o);
  }
}

}  // namespace kernels
}  // namespace ple::rt
