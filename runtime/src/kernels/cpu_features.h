// What this CPU can run, read once per process (cpuid and xgetbv on x86, getauxval(AT_HWCAP,
// AT_HWCAP2) on Linux and Android ARM, sysctl on Apple ARM). A feature counts only when the OS also saves the
// registers it needs.
#ifndef PLE_RUNTIME_KERNELS_CPU_FEATURES_H_
#define PLE_RUNTIME_KERNELS_CPU_FEATURES_H_

namespace ple::rt {

struct CpuFeatures {
  bool x86_avx2 = false;        // AVX2 + FMA + F16C, YMM state enabled
  bool x86_avx512 = false;      // AVX-512 F + BW + VL + DQ, ZMM state enabled
  bool x86_avx512_vnni = false; // and AVX512_VNNI
  bool x86_avx_vnni = false;    // AVX-VNNI (VEX-encoded, 256-bit), with x86_avx2
  bool arm_neon = false;        // NEON (aarch64: always; armv7: NEON + VFPv4 half conversions)
  bool arm_neon_dot = false;    // aarch64 SDOT/UDOT
  bool arm_neon_i8mm = false;   // aarch64 SMMLA/UMMLA/USMMLA (Armv8.6 FEAT_I8MM), with arm_neon_dot
};

const CpuFeatures& GetCpuFeatures();

}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_CPU_FEATURES_H_
