// Thread CPU affinity, for a session's core selection (ple_session_options.cpus;
// docs/architecture.md, "Threading and ownership"). Linux and Android have it
// (sched_getaffinity, sched_setaffinity); other platforms have none, and these functions say
// so. Masks: bit i = CPU i, CPUs 0 to 63.
#ifndef PLE_RUNTIME_RUN_CPU_AFFINITY_H_
#define PLE_RUNTIME_RUN_CPU_AFFINITY_H_

#include <cstdint>

#if defined(__linux__)
#include <sched.h>
#endif

#include "run/cpu_classes.h"
#include "status.h"

namespace ple::rt {

bool ThreadAffinitySupported();

// The CPUs (0 to 63) the calling thread may run on; 0 where that cannot be known.
uint64_t CurrentThreadCpus();

#if defined(__linux__)
// `mask` (bit i = CPU i) as a cpu_set_t.
void CpuSetOf(uint64_t mask, cpu_set_t* set);
#endif

// Restricts the calling thread to `mask` (non-zero); false when the system refuses.
bool SetCurrentThreadCpus(uint64_t mask);

// The CPU the calling thread runs on now, or -1.
int CurrentCpu();

// Restricts the calling thread to `mask` (0: no change) unless its own mask is already inside
// (CPUs past 63 count as outside). Costs one system call when inside, two when it moves.
void MoveCurrentThreadInside(uint64_t mask);

// While it lives, the calling thread runs inside `mask` (0: no change). It moves the thread
// only when the thread's own mask is not already inside (then it costs one system call), and
// gives the thread back its whole own mask, CPUs past 63 included, when destroyed.
class ScopedThreadCpus {
 public:
  explicit ScopedThreadCpus(uint64_t mask);
  ~ScopedThreadCpus();
  ScopedThreadCpus(const ScopedThreadCpus&) = delete;
  ScopedThreadCpus& operator=(const ScopedThreadCpus&) = delete;

#if defined(__linux__)
 private:
  bool moved_ = false;
  cpu_set_t saved_;
#endif
};

// ReadCpuClasses(sysfs_root), with the configured CPUs (sysconf) as one class when sysfs shows
// none; source PLE_CPU_CLASSES_UNAVAILABLE where threads have no affinity.
CpuClasses DeviceCpuClasses(const char* sysfs_root);

// The CPUs a session with this selection runs on: the selection's CPUs (ple_cpu_classes for
// big and little, read under `sysfs_root`) intersected with the calling thread's. 0 for
// PLE_CPUS_ALL (no restriction). Errors: an unknown selection, an empty mask, a CPU the
// device does not have, an empty intersection (PLE_ERROR_INVALID_ARGUMENT, naming the masks);
// anything but PLE_CPUS_ALL where threads have no affinity (PLE_ERROR_UNSUPPORTED).
Status ResolveCpuSelection(int selection, uint64_t cpu_mask, const char* sysfs_root, uint64_t* cpus);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_RUN_CPU_AFFINITY_H_
