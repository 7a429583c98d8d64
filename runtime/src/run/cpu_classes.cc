#include "run/cpu_classes.h"

#include <dirent.h>

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

// N for a folder named cpuN with N < kMaxSelectableCpus, else -1 (cpufreq, cpuidle, ...).
int CpuNumber(const char* name) {
  if (std::strncmp(name, "cpu", 3) != 0 || name[3] == '\0') return -1;
  int number = 0;
  for (const char* c = name + 3; *c != '\0'; ++c) {
    if (*c < '0' || *c > '9') return -1;
    number = number * 10 + (*c - '0');
    if (number >= kMaxSelectableCpus) return -1;
  }
  return number;
}

}  // namespace

CpuClasses ReadCpuClasses(const std::string& root) {
  CpuClasses classes;
  DIR* dir = opendir(root.c_str());
  if (dir != nullptr) {
    while (const dirent* entry = readdir(dir)) {
      const int cpu = CpuNumber(entry->d_name);
      if (cpu >= 0) classes.cpus |= uint64_t{1} << cpu;
    }
    closedir(dir);
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
