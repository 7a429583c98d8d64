// The kernels of one kernel path, chosen once when a session is created (docs/kernels.md).
#ifndef PLE_RUNTIME_KERNELS_KERNEL_SET_H_
#define PLE_RUNTIME_KERNELS_KERNEL_SET_H_

#include <vector>

#include "kernels/kernels.h"
#include "ple/ple.h"
#include "status.h"

namespace ple::rt {

struct KernelSet {
  ple_kernel_path path = PLE_KERNELS_REFERENCE;
  const char* name = "reference";
  decltype(&kernels::f32_gemm__scalar) f32_gemm = nullptr;
  decltype(&kernels::f16_gemm__scalar) f16_gemm = nullptr;
  decltype(&kernels::f32_qu8_quantize__scalar) f32_qu8_quantize = nullptr;
  decltype(&kernels::qu8s8_gemm__scalar) qu8s8_gemm = nullptr;
  decltype(&kernels::f32_gate_softmax_sum__scalar) f32_gate_softmax_sum = nullptr;
  bool xnnpack_f32 = false;  // float32 groups go through XNNPACK instead of f32_gemm
  // Groups whose int8 weights are narrow ([-64, 64]): the same contract and bits as qu8s8_gemm,
  // faster where the instruction set has a narrow form (AVX2); elsewhere qu8s8_gemm itself.
  decltype(&kernels::qu8s8_gemm__scalar) qu8s8_gemm_narrow = nullptr;
  // Non-null: the int8 GEMMs read the layout this function writes (kernels::qs8_pair_blocks, the
  // i8mm path), which the model builds from the file's weights once
  // (LoadedModel::PairedInt8Weights), instead of the file's blocks. Built only where a path uses it.
  decltype(&kernels::qs8_pair_blocks) int8_pair = nullptr;
  // The float GEMMs compute the scalar reference's operations in its order (no fused
  // multiply-add): their bits are the reference's, and the kernel tests compare them with ==.
  bool float_exact = false;
};

// The kernels of `path` (not AUTO), or nullptr when the path is not built into this library or
// this CPU lacks its instructions (or, for XNNPACK, XNNPACK cannot run here).
const KernelSet* FindKernelSet(ple_kernel_path path);

// The path AUTO means: PLE_KERNELS from the environment when set, else the fastest path built
// and supported here. Errors name a bad or unavailable PLE_KERNELS value.
Status ResolveKernelPath(ple_kernel_path requested, ple_kernel_path* resolved);

// Every path usable here (REFERENCE first), for tests and tools that run them all.
std::vector<ple_kernel_path> AvailableKernelPaths();

const char* KernelPathName(ple_kernel_path path);
bool KernelPathFromName(const char* name, ple_kernel_path* path);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_KERNEL_SET_H_
