#include "run/cpu_classes.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ple::rt {
namespace {

// The unsigned integer root/cpuN/file holds, or 0 when it is missing or holds something else.
uint64_t ReadNumber(const std::string& root, int cpu, const char* file_name) {
  char path[4096];
  if (std::snprintf(path, sizeof(path), "%s/cpu%d/%s", root.c_str(), cpu, file_name) >= static_cast<int>(sizeof(path))) {
    return 0;
  }
  FILE* file = std::fopen(path, "r");
  if (file == nullptr) return 0;
  unsigned long long value = 0;
  if (std::fscanf(file, "%llu", &value) != 1) value = 0;
  std::fclose(file);
  return value;
}

}  // namespace

CpuClasses ReadCpuClasses(const std::string& root) {
  CpuClasses classes;
  // Each cpuN folder probed by name: glibc's 32-bit readdir (armv7 without 64-bit file offsets)
  // fails with EOVERFLOW on ext4's 64-bit directory cookies, and found nothing under qemu-arm.
  char path[4096];
  for (int cpu = 0; cpu < kMaxSelectableCpus; ++cpu) {
    if (std::snprintf(path, sizeof(path), "%s/cpu%d", root.c_str(), cpu) < static_cast<int>(sizeof(path)) &&
        access(path, F_OK) == 0) {
      classes.cpus |= uint64_t{1} << cpu;
    }
  }
  uint64_t values[kMaxSelectableCpus] = {};
  for (const char* file : {"cpu_capacity", "cpufreq/cpuinfo_max_freq"}) {
    bool any = false;
    for (int cpu = 0; cpu < kMaxSelectableCpus; ++cpu) {
      if ((classes.cpus >> cpu & 1) == 0) continue;
      values[cpu] = ReadNumber(root, cpu, file);
      any = any || values[cpu] != 0;
    }
    if (!any) continue;
    classes.source = std::strcmp(file, "cpu_capacity") == 0 ? PLE_CPU_CLASSES_CAPACITY : PLE_CPU_CLASSES_MAX_FREQUENCY;
    break;
  }
  // The lowest value read and how many distinct ones (at most 64: a quadratic count is fine).
  uint64_t lowest = 0;
  uint32_t distinct = 0;
  for (int cpu = 0; cpu < kMaxSelectableCpus; ++cpu) {
    if (values[cpu] == 0) continue;
    bool seen = false;
    for (int other = 0; other < cpu && !seen; ++other) seen = values[other] == values[cpu];
    distinct += seen ? 0 : 1;
    if (lowest == 0 || values[cpu] < lowest) lowest = values[cpu];
  }
  if (distinct <= 1) {  // nothing read, or every CPU alike
    classes.source = PLE_CPU_CLASSES_UNIFORM;
    classes.big = classes.little = classes.cpus;
    classes.num_classes = 1;
    return classes;
  }
  classes.num_classes = distinct;
  for (int cpu = 0; cpu < kMaxSelectableCpus; ++cpu) {
    if (values[cpu] == 0) continue;
    (values[cpu] == lowest ? classes.little : classes.big) |= uint64_t{1} << cpu;
  }
  return classes;
}

std::string CpuSysfsRoot() {
  const char* root = std::getenv("PLE_CPU_SYSFS_ROOT");
  return root != nullptr && *root != '\0' ? root : "/sys/devices/system/cpu";
}

}  // namespace ple::rt
