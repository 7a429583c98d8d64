// The scalar float GEMMs: float32 weights, and float16 weights widened exactly to float32 as they
// are read. One loop for both, so the reference's order of operations is defined once.
#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {
namespace {

inline float Widen(float w) { return w; }
inline float Widen(uint16_t w) { return f16_to_f32(w); }

template <typename Weight>
void FloatGemmScalar(size_t rows, size_t k, const float* a, size_t a_stride, const Weight* w, size_t w_tile_stride,
                     size_t tiles, const TileOutput* outputs, size_t add_stride) {
  for (size_t t = 0; t < tiles; ++t) {
    const TileOutput& o = outputs[t];
    if (o.out == nullptr) continue;
    const Weight* tile = w + t * w_tile_stride;
    for (size_t r = 0; r < rows; ++r) {
      const float* row = a + r * a_stride;
      float acc[16] = {};
      for (size_t i = 0; i < k; ++i) {
        for (size_t c = 0; c < 16; ++c) acc[c] += row[i] * Widen(tile[i * 16 + c]);
      }
      const float* add = o.add + r * add_stride;
      float* out = o.out + r * o.out_stride;
      for (size_t c = 0; c < o.columns; ++c) {
        const float y = acc[c] + add[c];
        out[c] = o.relu && !(y > 0.0f) ? 0.0f : y;
      }
    }
  }
}

}  // namespace

void f32_gemm__scalar(size_t rows, size_t k, const float* a, size_t a_stride, const float* w, size_t w_tile_stride,
                      size_t tiles, const TileOutput* outputs, size_t add_stride) {
  FloatGemmScalar(rows, k, a, a_stride, w, w_tile_stride, tiles, outputs, add_stride);
}

void f16_gemm__scalar(size_t rows, size_t k, const float* a, size_t a_stride, const uint16_t* w, size_t w_tile_stride,
                      size_t tiles, const TileOutput* outputs, size_t add_stride) {
  FloatGemmScalar(rows, k, a, a_stride, w, w_tile_stride, tiles, outputs, add_stride);
}

}  // namespace kernels
}  // namespace ple::rt
