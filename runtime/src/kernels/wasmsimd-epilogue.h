// The SIMD128 kernels' output step, shared by wasmsimd.cc and wasmrelaxed.cc (which clang-19
// compiles on its own): a tile's 16 columns of one row, the reference's float operations in its
// order. Internal linkage: see quantize-params.h.
#ifndef PLE_RUNTIME_KERNELS_WASMSIMD_EPILOGUE_H_
#define PLE_RUNTIME_KERNELS_WASMSIMD_EPILOGUE_H_

#include <wasm_simd128.h>

#include <cstddef>
#include <cstdint>

namespace ple::rt {
namespace kernels {
namespace {

// y = sum + add, then ReLU as the reference writes it: !(y > 0) gives 0 (a NaN too).
inline v128_t AddRelu(v128_t sum, const float* add, bool relu) {
  const v128_t y = wasm_f32x4_add(sum, wasm_v128_load(add));
  return relu ? wasm_v128_and(y, wasm_f32x4_gt(y, wasm_f32x4_splat(0.0f))) : y;
}

// The first `columns` (1..16) of 16 values to out.
inline void StoreColumns(const v128_t (&values)[4], float* out, size_t columns) {
  if (columns == 16) {
    for (int j = 0; j < 4; ++j) wasm_v128_store(out + 4 * j, values[j]);
    return;
  }
  alignas(16) float all[16];
  for (int j = 0; j < 4; ++j) wasm_v128_store(all + 4 * j, values[j]);
  for (size_t c = 0; c < columns; ++c) out[c] = all[c];
}

// An int8 row's 16 zero-point-centred int32 sums to floats: (row scale x column scale) x sum,
// plus `add`, ReLU, stored as qu8s8_gemm's contract says (kernels.h).
inline void StoreInt8Row(const v128_t (&centered)[4], float row_scale, const float* column_scales, const float* add,
                         bool relu, float* out, size_t columns) {
  const v128_t scale = wasm_f32x4_splat(row_scale);
  v128_t y[4];
  for (int j = 0; j < 4; ++j) {
    const v128_t combined = wasm_f32x4_mul(scale, wasm_v128_load(column_scales + 4 * j));
    y[j] = AddRelu(wasm_f32x4_mul(combined, wasm_f32x4_convert_i32x4(centered[j])), add + 4 * j, relu);
  }
  StoreColumns(y, out, columns);
}

}  // namespace
}  // namespace kernels
}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_WASMSIMD_EPILOGUE_H_
