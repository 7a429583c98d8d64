// The instruction-set kernels: the same contracts as their scalar references in kernels.h.
// Each instruction set's kernels are one translation unit, `<isa>.cc`, compiled with its own
// flags (runtime/CMakeLists.txt); only kernel_set.cc calls them, after checking the CPU.
#ifndef PLE_RUNTIME_KERNELS_SIMD_KERNELS_H_
#define PLE_RUNTIME_KERNELS_SIMD_KERNELS_H_

#include "kernels/kernels.h"

#define PLE_F32_GEMM(isa)                                                                                       \
  void f32_gemm__##isa(size_t rows, size_t k, const float* a, size_t a_stride, const float* w,                    \
                       size_t w_tile_stride, size_t tiles, const TileOutput* outputs, size_t add_stride)
#define PLE_F16_GEMM(isa)                                                                                       \
  void f16_gemm__##isa(size_t rows, size_t k, const float* a, size_t a_stride, const uint16_t* w,                 \
                       size_t w_tile_stride, size_t tiles, const TileOutput* outputs, size_t add_stride)
#define PLE_F32_QU8_QUANTIZE(isa)                                                                               \
  bool f32_qu8_quantize__##isa(size_t rows, size_t k, const float* x, size_t x_stride, uint8_t* q,             \
                               size_t q_stride, size_t k_padded, float* scales, int32_t* zero_points)
#define PLE_QU8S8_GEMM_NAMED(name)                                                                              \
  void name(size_t rows, size_t blocks, const uint8_t* a, size_t a_stride, const int8_t* w, size_t w_tile_stride, \
            size_t tiles, const float* scales, const int32_t* zero_points, const float* w_scales,                \
            const int32_t* w_sums, const TileOutput* outputs, size_t add_stride)
#define PLE_QU8S8_GEMM(isa) PLE_QU8S8_GEMM_NAMED(qu8s8_gemm__##isa)
// qu8s8_gemm's contract, only for weights in [-64, 64] (a group flagged narrow): the same bits.
#define PLE_QU8S8_GEMM_NARROW(isa) PLE_QU8S8_GEMM_NAMED(qu8s8_gemm_narrow__##isa)

#define PLE_F32_GATE_SOFTMAX_SUM(isa)                                                                           \
  void f32_gate_softmax_sum__##isa(size_t rows, size_t count, size_t width, const float* logits,                \
                                   size_t logits_stride, const float* const* experts, size_t expert_stride,     \
                                   float* weights, size_t weights_stride, float* out, size_t out_stride)

namespace ple::rt {
namespace kernels {

#if PLE_HAVE_X86_KERNELS
PLE_F32_GEMM(avx2);
PLE_F16_GEMM(avx2);
PLE_F32_QU8_QUANTIZE(avx2);
PLE_F32_GATE_SOFTMAX_SUM(avx2);
PLE_QU8S8_GEMM(avx2);
PLE_QU8S8_GEMM_NARROW(avx2);
PLE_F32_GEMM(avx512);
PLE_F16_GEMM(avx512);
PLE_F32_QU8_QUANTIZE(avx512);
PLE_F32_GATE_SOFTMAX_SUM(avx512);
PLE_QU8S8_GEMM(avx512);
PLE_QU8S8_GEMM(avx512vnni);
#endif
#if PLE_HAVE_X86_AVX_VNNI_KERNELS
PLE_QU8S8_GEMM(avxvnni);
#endif
#if PLE_HAVE_ARM_NEON_KERNELS
PLE_F32_GEMM(neon);
PLE_F16_GEMM(neon);
PLE_F32_QU8_QUANTIZE(neon);
PLE_F32_GATE_SOFTMAX_SUM(neon);
PLE_QU8S8_GEMM(neon);
#endif
#if PLE_HAVE_ARM_NEON_DOT_KERNELS
PLE_QU8S8_GEMM(neondot);
#endif
#if PLE_HAVE_WASM_SIMD_KERNELS
PLE_F32_GEMM(wasmsimd);
PLE_F16_GEMM(wasmsimd);
PLE_F32_QU8_QUANTIZE(wasmsimd);
PLE_F32_GATE_SOFTMAX_SUM(wasmsimd);
PLE_QU8S8_GEMM(wasmsimd);
#endif
#if PLE_HAVE_WASM_RELAXED_KERNELS
// wasmrelaxed.cc: exact only where RelaxedDotExact (all int8 groups: full_range) says so.
PLE_QU8S8_GEMM(wasmrelaxed);
PLE_QU8S8_GEMM_NARROW(wasmrelaxed);
bool RelaxedDotExact(bool full_range);
#endif
#if PLE_HAVE_ARM_NEON_I8MM_KERNELS
PLE_QU8S8_GEMM(neoni8mm);  // reads the paired layout (qs8_pair_blocks), not the file's
#endif

}  // namespace kernels
}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_SIMD_KERNELS_H_
