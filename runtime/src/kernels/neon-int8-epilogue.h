// One row's int8 epilogue on aarch64 NEON, the qu8s8_gemm contract of kernels.h: for the tile's
// 16 channels, centered = sums + shift x channel sum in int32 (shift: the path's correction to
// "sum q w - zero_point sum w": -zero_point, or 128 - zero_point where activations were
// shifted to int8), then (row scale x channel scale) x float(centered) + add, ReLU when the tile
// says, stored for the tile's columns. The neondot and neoni8mm paths share it: the same float
// operations in the same order as the scalar reference. Internal linkage (quantize-params.h).
#ifndef PLE_RUNTIME_KERNELS_NEON_INT8_EPILOGUE_H_
#define PLE_RUNTIME_KERNELS_NEON_INT8_EPILOGUE_H_

#include <arm_neon.h>

#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {
namespace {

inline float32x4_t Relu(float32x4_t y) { return vbslq_f32(vcgtq_f32(y, vdupq_n_f32(0.0f)), y, vdupq_n_f32(0.0f)); }

// sums[j]: channels 4j..4j+3; w_scales, w_sums: the tile's 16; add: the row's 16 addends.
inline void StoreInt8Row(const int32x4_t (&sums)[4], int32_t shift, float scale, const float* w_scales,
                         const int32_t* w_sums, const float* add, const TileOutput& o, float* out) {
  const int32x4_t shifts = vdupq_n_s32(shift);
  const float32x4_t s = vdupq_n_f32(scale);
  float values[16];
  for (int j = 0; j < 4; ++j) {
    const int32x4_t centered = vmlaq_s32(sums[j], shifts, vld1q_s32(w_sums + 4 * j));
    float32x4_t y = vmulq_f32(vmulq_f32(s, vld1q_f32(w_scales + 4 * j)), vcvtq_f32_s32(centered));
    y = vaddq_f32(y, vld1q_f32(add + 4 * j));
    if (o.relu) y = Relu(y);
    vst1q_f32(values + 4 * j, y);
  }
  for (size_t c = 0; c < o.columns; ++c) out[c] = values[c];
}

}  // namespace
}  // namespace kernels
}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_NEON_INT8_EPILOGUE_H_
