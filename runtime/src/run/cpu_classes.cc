#include "run/cpu_classes.h"

#include <dirent.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

namespace ple::rt {
namespace {

// The unsigned integer a sysfs file holds, or 0 when it is missing or holds something else.
uint64_t ReadNumber(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "r");
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
      values[cpu] = ReadNumber(root + "/cpu" + std::to_string(cpu) + "/" + file);
      any = any || values[cpu] != 0;
    }
    if (!any) continue;
    classes.source = std::strcmp(file, "cpu_capacity") == 0 ? PLE_CPU_CLASSES_CAPACITY : PLE_CPU_CLASSES_MAX_FREQUENCY;
    break;
  }
  std::set<uint64_t> distinct;
  for (int cpu = 0; cpu < kMaxSelectableCpus; ++cpu) {
    if (values[cpu] != 0) distinct.insert(values[cpu]);
  }
  if (distinct.size() <= 1) {  // nothing read, or every CPU alike
    classes.source = PLE_CPU_CLASSES_UNIFORM;
    classes.big = classes.little = classes.cpus;
    classes.num_classes = 1;
    return classes;
  }
  classes.num_classes = static_cast<uint32_t>(distinct.size());
  const uint64_t lowest = *distinct.begin();
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
