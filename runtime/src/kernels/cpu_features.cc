#include "kernels/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if (defined(__aarch64__) || defined(__arm__)) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(__APPLE__) && defined(__aarch64__)
#include <sys/sysctl.h>
#endif

namespace ple::rt {
namespace {

#if defined(__x86_64__) || defined(__i386__)
unsigned long long ReadXcr0() {
  unsigned eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

CpuFeatures Detect() {
  CpuFeatures f;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool fma = ecx & (1u << 12), osxsave = ecx & (1u << 27), avx = ecx & (1u << 28), f16c = ecx & (1u << 29);
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = ReadXcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;
  const bool zmm_state = ymm_state && (xcr0 & 0xe0) == 0xe0;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool avx2 = ebx & (1u << 5), avx512f = ebx & (1u << 16), avx512dq = ebx & (1u << 17),
             avx512bw = ebx & (1u << 30), avx512vl = ebx & (1u << 31), avx512vnni = ecx & (1u << 11);
  const unsigned max_subleaf = eax;
  bool avxvnni = false;
  if (max_subleaf >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    avxvnni = eax & (1u << 4);
  }
  f.x86_avx2 = ymm_state && avx2 && fma && f16c;
  f.x86_avx512 = f.x86_avx2 && zmm_state && avx512f && avx512bw && avx512vl && avx512dq;
  f.x86_avx512_vnni = f.x86_avx512 && avx512vnni;
  f.x86_avx_vnni = f.x86_avx2 && avxvnni;
  return f;
}
#elif defined(__aarch64__) && defined(__linux__)
CpuFeatures Detect() {
  CpuFeatures f;
  f.arm_neon = true;
  f.arm_neon_dot = (getauxval(AT_HWCAP) & (1ul << 20)) != 0;  // HWCAP_ASIMDDP
  f.arm_neon_i8mm = f.arm_neon_dot && (getauxval(AT_HWCAP2) & (1ul << 13)) != 0;  // HWCAP2_I8MM
  return f;
}
#elif defined(__arm__) && defined(__linux__)
CpuFeatures Detect() {
  CpuFeatures f;
  const unsigned long hwcap = getauxval(AT_HWCAP);
  f.arm_neon = (hwcap & (1ul << 12)) && (hwcap & (1ul << 16));  // HWCAP_NEON, HWCAP_VFPv4
  return f;
}
#elif defined(__APPLE__) && defined(__aarch64__)
CpuFeatures Detect() {
  CpuFeatures f;
  f.arm_neon = true;
  int value = 0;
  size_t size = sizeof(value);
  f.arm_neon_dot = sysctlbyname("hw.optional.arm.FEAT_DotProd", &value, &size, nullptr, 0) == 0 && value != 0;
  value = 0;
  size = sizeof(value);
  f.arm_neon_i8mm =
      f.arm_neon_dot && sysctlbyname("hw.optional.arm.FEAT_I8MM", &value, &size, nullptr, 0) == 0 && value != 0;
  return f;
}
#else
CpuFeatures Detect() { return CpuFeatures{}; }
#endif

}  // namespace

const CpuFeatures& GetCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

}  // namespace ple::rt
