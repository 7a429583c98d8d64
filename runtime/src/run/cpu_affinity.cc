#include "run/cpu_affinity.h"

#include <unistd.h>

#include "run/cpu_classes.h"

namespace ple::rt {
namespace {

unsigned long long Hex(uint64_t mask) { return static_cast<unsigned long long>(mask); }

// The CPUs the device has: the sysfs folders found, else the configured count.
uint64_t DeviceCpus(const CpuClasses& classes) {
  if (classes.cpus != 0) return classes.cpus;
  const long configured = sysconf(_SC_NPROCESSORS_CONF);
  if (configured <= 0) return 0;
  return configured >= kMaxSelectableCpus ? ~uint64_t{0} : (uint64_t{1} << configured) - 1;
}

}  // namespace

#if defined(__linux__)

bool ThreadAffinitySupported() { return true; }

uint64_t CurrentThreadCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
  uint64_t mask = 0;
  for (int cpu = 0; cpu < kMaxSelectableCpus; ++cpu) {
    if (CPU_ISSET(cpu, &set)) mask |= uint64_t{1} << cpu;
  }
  return mask;
}

void CpuSetOf(uint64_t mask, cpu_set_t* set) {
  CPU_ZERO(set);
  for (int cpu = 0; cpu < kMaxSelectableCpus; ++cpu) {
    if (mask >> cpu & 1) CPU_SET(cpu, set);
  }
}

bool SetCurrentThreadCpus(uint64_t mask) {
  cpu_set_t set;
  CpuSetOf(mask, &set);
  return mask != 0 && sched_setaffinity(0, sizeof(set), &set) == 0;
}

int CurrentCpu() { return sched_getcpu(); }

namespace {

// Whether every CPU of `set` is in `mask`.
bool Inside(const cpu_set_t& set, uint64_t mask) {
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set) && (cpu >= kMaxSelectableCpus || (mask >> cpu & 1) == 0)) return false;
  }
  return true;
}

}  // namespace

void MoveCurrentThreadInside(uint64_t mask) {
  if (mask == 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && !Inside(set, mask)) SetCurrentThreadCpus(mask);
}

ScopedThreadCpus::ScopedThreadCpus(uint64_t mask) {
  if (mask == 0) return;
  CPU_ZERO(&saved_);
  if (sched_getaffinity(0, sizeof(saved_), &saved_) != 0) return;
  if (!Inside(saved_, mask)) moved_ = SetCurrentThreadCpus(mask);
}

ScopedThreadCpus::~ScopedThreadCpus() {
  if (moved_) sched_setaffinity(0, sizeof(saved_), &saved_);
}

#else

bool ThreadAffinitySupported() { return false; }
uint64_t CurrentThreadCpus() { return 0; }
bool SetCurrentThreadCpus(uint64_t) { return false; }
int CurrentCpu() { return -1; }
void MoveCurrentThreadInside(uint64_t) {}
ScopedThreadCpus::ScopedThreadCpus(uint64_t) {}
ScopedThreadCpus::~ScopedThreadCpus() {}

#endif

CpuClasses DeviceCpuClasses(const char* sysfs_root) {
  CpuClasses classes = ReadCpuClasses(sysfs_root);
  if (classes.cpus == 0) {
    classes.cpus = DeviceCpus(classes);
    classes.big = classes.little = classes.cpus;
  }
  if (!ThreadAffinitySupported()) classes.source = PLE_CPU_CLASSES_UNAVAILABLE;
  return classes;
}

Status ResolveCpuSelection(int selection, uint64_t cpu_mask, const char* sysfs_root, uint64_t* cpus) {
  *cpus = 0;
  if (selection < PLE_CPUS_ALL || selection > PLE_CPUS_MASK) {
    return MakeError(PLE_ERROR_INVALID_ARGUMENT, "unknown CPU selection %d (PLE_CPUS_ALL, _BIG, _LITTLE or _MASK)",
                     selection);
  }
  if (selection == PLE_CPUS_ALL) return Status::Ok();
  if (!ThreadAffinitySupported()) {
    return MakeError(PLE_ERROR_UNSUPPORTED,
                     "this platform has no thread affinity: only PLE_CPUS_ALL (on Apple platforms, set the "
                     "calling thread's QoS class: docs/performance.md, \"Big and little cores\")");
  }
  if (selection == PLE_CPUS_MASK && cpu_mask == 0) {
    return MakeError(PLE_ERROR_INVALID_ARGUMENT, "cpus is PLE_CPUS_MASK but cpu_mask is 0");
  }
  const CpuClasses classes = DeviceCpuClasses(sysfs_root);
  const uint64_t device = classes.cpus;
  const uint64_t allowed = CurrentThreadCpus();
  const char* name = selection == PLE_CPUS_BIG ? "big" : selection == PLE_CPUS_LITTLE ? "little" : "cpu_mask";
  const uint64_t wanted = selection == PLE_CPUS_BIG ? classes.big : selection == PLE_CPUS_LITTLE ? classes.little : cpu_mask;
  if ((wanted & ~device) != 0) {
    return MakeError(PLE_ERROR_INVALID_ARGUMENT, "%s 0x%llx names CPUs this device does not have (its CPUs: 0x%llx)",
                     name, Hex(wanted), Hex(device));
  }
  *cpus = wanted & allowed;
  if (*cpus == 0) {
    return MakeError(PLE_ERROR_INVALID_ARGUMENT,
                     "the %s CPUs (0x%llx) are all outside the CPUs this thread may run on (0x%llx)", name,
                     Hex(wanted), Hex(allowed));
  }
  return Status::Ok();
}

}  // namespace ple::rt
