// The device's CPU classes, read from Linux's sysfs (docs/architecture.md, "Threading and
// ownership"): which CPUs are big and which little. The root is a parameter so that tests read
// fixture trees (tests/data/cpu-topologies/); sessions read CpuSysfsRoot().
#ifndef PLE_RUNTIME_RUN_CPU_CLASSES_H_
#define PLE_RUNTIME_RUN_CPU_CLASSES_H_

#include <cstdint>
#include <string>

#include "ple/ple.h"

namespace ple::rt {

// CPUs 0 to 63: a bit per CPU, as in the C API's masks.
constexpr int kMaxSelectableCpus = 64;

struct CpuClasses {
  ple_cpu_class_source source = PLE_CPU_CLASSES_UNIFORM;
  uint64_t cpus = 0;         // cpuN folders found under the root
  uint64_t big = 0;          // every CPU above the lowest class (all of them when uniform)
  uint64_t little = 0;       // the lowest class (all of them when uniform)
  uint32_t num_classes = 1;  // distinct values of the source read
};

// Reads root/cpuN/cpu_capacity for every cpuN folder (N < 64); when no CPU has one,
// root/cpuN/cpufreq/cpuinfo_max_freq. A CPU without the value the others have (an offline
// CPU has no cpufreq folder) is in neither class. With no values, or all equal: uniform, and
// big = little = the CPUs found. Reads files only; never fails.
CpuClasses ReadCpuClasses(const std::string& root);

// PLE_CPU_SYSFS_ROOT when set (tests), else /sys/devices/system/cpu.
std::string CpuSysfsRoot();

}  // namespace ple::rt

#endif  // PLE_RUNTIME_RUN_CPU_CLASSES_H_
