#include "kernels/kernel_set.h"

#include <cstdlib>
#include <cstring>

#include "kernels/cpu_features.h"
#include "kernels/simd_kernels.h"
#include "kernels/xnnpack_gemm.h"

namespace ple::rt {
namespace {

using namespace kernels;  // NOLINT: the kernel tables below name many of them

const KernelSet kReference = {PLE_KERNELS_REFERENCE, "reference", f32_gemm__scalar, f16_gemm__scalar,
                              f32_qu8_quantize__scalar, qu8s8_gemm__scalar, f32_gate_softmax_sum__scalar, false,
    qu8s8_gemm__scalar, nullptr, true};

#if PLE_HAVE_X86_KERNELS
const KernelSet kAvx2 = {PLE_KERNELS_X86_AVX2, "avx2", f32_gemm__avx2, f16_gemm__avx2,
                         f32_qu8_quantize__avx2, qu8s8_gemm__avx2, f32_gate_softmax_sum__avx2, false,
    qu8s8_gemm_narrow__avx2};
const KernelSet kAvx512 = {PLE_KERNELS_X86_AVX512, "avx512", f32_gemm__avx512, f16_gemm__avx512,
                           f32_qu8_quantize__avx512, qu8s8_gemm__avx512, f32_gate_softmax_sum__avx512, false,
    qu8s8_gemm__avx512};
const KernelSet kAvx512Vnni = {PLE_KERNELS_X86_AVX512_VNNI, "avx512vnni", f32_gemm__avx512,
                               f16_gemm__avx512, f32_qu8_quantize__avx512, qu8s8_gemm__avx512vnni, f32_gate_softmax_sum__avx512, false,
    qu8s8_gemm__avx512vnni};
#endif
#if PLE_HAVE_X86_AVX_VNNI_KERNELS
const KernelSet kAvxVnni = {PLE_KERNELS_X86_AVX_VNNI, "avxvnni", f32_gemm__avx2, f16_gemm__avx2,
                            f32_qu8_quantize__avx2, qu8s8_gemm__avxvnni, f32_gate_softmax_sum__avx2, false,
    qu8s8_gemm__avxvnni};
#endif
#if PLE_HAVE_ARM_NEON_KERNELS
const KernelSet kNeon = {PLE_KERNELS_ARM_NEON, "neon", f32_gemm__neon, f16_gemm__neon,
                         f32_qu8_quantize__neon, qu8s8_gemm__neon, f32_gate_softmax_sum__neon, false,
    qu8s8_gemm__neon};
#endif
#if PLE_HAVE_ARM_NEON_DOT_KERNELS
const KernelSet kNeonDot = {PLE_KERNELS_ARM_NEON_DOT, "neondot", f32_gemm__neon, f16_gemm__neon,
                            f32_qu8_quantize__neon, qu8s8_gemm__neondot, f32_gate_softmax_sum__neon, false,
    qu8s8_gemm__neondot};
#endif
#if PLE_HAVE_ARM_NEON_I8MM_KERNELS
const KernelSet kNeonI8mm = {PLE_KERNELS_ARM_NEON_I8MM, "neoni8mm", f32_gemm__neon, f16_gemm__neon,
                             f32_qu8_quantize__neon, qu8s8_gemm__neoni8mm, f32_gate_softmax_sum__neon, false,
    qu8s8_gemm__neoni8mm, qs8_pair_blocks};
#endif

#if PLE_HAVE_WASM_SIMD_KERNELS
// Every kernel SIMD128 (wasmsimd.cc), every result the reference's bits (float_exact).
const KernelSet kWasmSimd = {PLE_KERNELS_WASM_SIMD, "wasmsimd", f32_gemm__wasmsimd, f16_gemm__wasmsimd,
                             f32_qu8_quantize__wasmsimd, qu8s8_gemm__wasmsimd, f32_gate_softmax_sum__wasmsimd, false,
    qu8s8_gemm__wasmsimd, nullptr, true};
#endif
#if PLE_HAVE_WASM_RELAXED_KERNELS
// wasmsimd with relaxed SIMD's int8 dot product (wasmrelaxed.cc) for the int8 groups this engine
// computes it exactly for, as the CPU features decide native paths: narrow groups where the
// narrow extremes come out exact (else no wasmrelaxed path), every int8 group where full bytes
// do too (an engine lowering it to vpdpbusd). In the web package's relaxed module only.
const KernelSet* WasmRelaxedSet() {
  static const KernelSet set = [] {
    KernelSet s = {PLE_KERNELS_WASM_RELAXED, "wasmrelaxed", f32_gemm__wasmsimd, f16_gemm__wasmsimd,
                   f32_qu8_quantize__wasmsimd, qu8s8_gemm__wasmsimd, f32_gate_softmax_sum__wasmsimd, false,
                   qu8s8_gemm_narrow__wasmrelaxed, nullptr, true};
    if (RelaxedDotExact(/*full_range=*/true)) s.qu8s8_gemm = qu8s8_gemm__wasmrelaxed;
    return s;
  }();
  static const bool usable = RelaxedDotExact(/*full_range=*/false);
  return usable ? &set : nullptr;
}
#endif

// Native paths, fastest first.
std::vector<const KernelSet*> NativeSets() {
  std::vector<const KernelSet*> sets;
  const CpuFeatures& cpu = GetCpuFeatures();
  (void)cpu;
#if PLE_HAVE_X86_KERNELS
  if (cpu.x86_avx512_vnni) sets.push_back(&kAvx512Vnni);
#endif
#if PLE_HAVE_X86_AVX_VNNI_KERNELS
  if (cpu.x86_avx_vnni) sets.push_back(&kAvxVnni);
#endif
#if PLE_HAVE_X86_KERNELS
  if (cpu.x86_avx512) sets.push_back(&kAvx512);
  if (cpu.x86_avx2) sets.push_back(&kAvx2);
#endif
#if PLE_HAVE_ARM_NEON_I8MM_KERNELS
  if (cpu.arm_neon_i8mm) sets.push_back(&kNeonI8mm);
#endif
#if PLE_HAVE_ARM_NEON_DOT_KERNELS
  if (cpu.arm_neon_dot) sets.push_back(&kNeonDot);
#endif
#if PLE_HAVE_ARM_NEON_KERNELS
  if (cpu.arm_neon) sets.push_back(&kNeon);
#endif
#if PLE_HAVE_WASM_RELAXED_KERNELS
  if (const KernelSet* relaxed = WasmRelaxedSet()) sets.push_back(relaxed);
#endif
#if PLE_HAVE_WASM_SIMD_KERNELS
  sets.push_back(&kWasmSimd);  // a module built with SIMD128 runs only where the engine has it
#endif
  sets.push_back(&kReference);
  return sets;
}

const KernelSet& BestNativeSet() {
  static const KernelSet* best = NativeSets().front();
  return *best;
}

// XNNPACK for float32, the best native kernels for the rest.
const KernelSet& XnnpackSet() {
  static const KernelSet set = [] {
    KernelSet s = BestNativeSet();
    s.path = PLE_KERNELS_XNNPACK;
    s.name = "xnnpack";
    s.xnnpack_f32 = true;
    s.float_exact = false;
    return s;
  }();
  return set;
}

struct PathName {
  ple_kernel_path path;
  const char* name;
};
constexpr PathName kPathNames[] = {
    {PLE_KERNELS_AUTO, "auto"},           {PLE_KERNELS_REFERENCE, "reference"},
    {PLE_KERNELS_XNNPACK, "xnnpack"},     {PLE_KERNELS_X86_AVX2, "avx2"},
    {PLE_KERNELS_X86_AVX512, "avx512"},   {PLE_KERNELS_X86_AVX512_VNNI, "avx512vnni"},
    {PLE_KERNELS_X86_AVX_VNNI, "avxvnni"}, {PLE_KERNELS_ARM_NEON, "neon"},
    {PLE_KERNELS_ARM_NEON_DOT, "neondot"}, {PLE_KERNELS_ARM_NEON_I8MM, "neoni8mm"},
    {PLE_KERNELS_WASM_SIMD, "wasmsimd"},   {PLE_KERNELS_WASM_RELAXED, "wasmrelaxed"},
};

}  // namespace

const KernelSet* FindKernelSet(ple_kernel_path path) {
  if (path == PLE_KERNELS_XNNPACK) return XnnpackAvailable() ? &XnnpackSet() : nullptr;
  for (const KernelSet* set : NativeSets()) {
    if (set->path == path) return set;
  }
  return nullptr;
}

Status ResolveKernelPath(ple_kernel_path requested, ple_kernel_path* resolved) {
  if (requested != PLE_KERNELS_AUTO) {
    *resolved = requested;
    return Status::Ok();
  }
  const char* forced = std::getenv("PLE_KERNELS");
  if (forced != nullptr && *forced != '\0' && std::strcmp(forced, "auto") != 0) {
    ple_kernel_path path;
    if (!KernelPathFromName(forced, &path)) {
      return MakeError(PLE_ERROR_INVALID_ARGUMENT,
                       "PLE_KERNELS=%s is not a kernel path (auto, reference, xnnpack, avx2, avx512, avx512vnni, "
                       "avxvnni, neon, neondot, neoni8mm, wasmsimd, wasmrelaxed)",
                       forced);
    }
    *resolved = path;
    return Status::Ok();
  }
  *resolved = BestNativeSet().path;
  return Status::Ok();
}

std::vector<ple_kernel_path> AvailableKernelPaths() {
  std::vector<ple_kernel_path> paths = {PLE_KERNELS_REFERENCE};
  if (XnnpackAvailable()) paths.push_back(PLE_KERNELS_XNNPACK);
  for (const KernelSet* set : NativeSets()) {
    if (set->path != PLE_KERNELS_REFERENCE) paths.push_back(set->path);
  }
  return paths;
}

const char* KernelPathName(ple_kernel_path path) {
  for (const PathName& p : kPathNames) {
    if (p.path == path) return p.name;
  }
  return "unknown";
}

bool KernelPathFromName(const char* name, ple_kernel_path* path) {
  for (const PathName& p : kPathNames) {
    if (std::strcmp(p.name, name) == 0) {
      *path = p.path;
      return true;
    }
  }
  return false;
}

}  // namespace ple::rt
