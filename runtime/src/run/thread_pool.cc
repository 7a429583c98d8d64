#include "run/thread_pool.h"

#include "run/cpu_affinity.h"

#if defined(__linux__)
#include <sched.h>
#endif

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ple::rt {
namespace {

// One step of a spin: tells the core (and an SMT sibling) that this thread is waiting.
inline void Pause() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7)
  __asm__ __volatile__("yield");
#endif
}

uint64_t NowNanoseconds() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

// Spins until done() or the steady clock passes deadline() (read again every 64 pauses, in
// nanoseconds); true when done() became true. Every 64 pauses it also yields the CPU: when the
// thread it waits for was placed on the same CPU, that thread runs instead of the two taking
// turns by time slices.
template <typename Done, typename Deadline>
bool SpinUntil(Done done, Deadline deadline) {
  for (int i = 0;; ++i) {
    if (done()) return true;
    Pause();
    if ((i & 63) == 63) {
      if (NowNanoseconds() >= deadline()) return done();
      std::this_thread::yield();
    }
  }
}

#if defined(__linux__)
// The CPUs the workers may use (bit i = CPU i): `selected`, or with 0 the creating thread's
// allowed ones; 0 (the workers left free) when some allowed CPU is beyond the mask's 64.
uint64_t WorkerCpus(uint64_t selected) {
  if (selected != 0) return selected;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return 0;
  const uint64_t mask = CurrentThreadCpus();
  return CPU_COUNT(&allowed) == __builtin_popcountll(mask) ? mask : 0;
}

// Restricts the calling worker to `cpus` but `caller_cpu` when another is left. Left free (or
// pinned away from the CPU the caller had when the session started, which the caller may
// leave), the scheduler sometimes put a worker on the caller's CPU (this VM: one process in two,
// for the life of the session), where the two threads of a run take turns instead of running
// together: a 2-thread run of bench-m-dense int8 at batch 50 took 458 us instead of 174
// (1 thread: 336), and sessions stopped splitting. A failure leaves the thread as it was.
void AvoidCallerCpu(uint64_t cpus, int caller_cpu) {
  uint64_t mask = cpus;
  if (caller_cpu >= 0 && caller_cpu < 64) {
    const uint64_t caller = uint64_t{1} << caller_cpu;
    if ((mask & caller) != 0 && (mask & ~caller) != 0) mask &= ~caller;
  }
  SetCurrentThreadCpus(mask);
}
#endif

}  // namespace

ThreadPool::ThreadPool(size_t threads, uint64_t spin_ns, uint64_t selected) : spin_ns_(spin_ns) {
#if defined(__linux__)
  worker_cpus_ = threads > 1 ? WorkerCpus(selected) : 0;
  caller_cpu_.store(sched_getcpu());
#else
  (void)selected;  // no affinity here: ResolveCpuSelection refused any selection
#endif
  for (size_t i = 1; i < threads; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true);
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

double ThreadPool::MeasureWakeNanoseconds(int rounds, bool warm) {
  if (warm && spin_ns_ == 0) warm = false;  // workers never spin: every wake-up is cold
  std::vector<double> times;
  times.reserve(static_cast<size_t>(rounds));
  auto nothing = [](size_t) {};
  if (warm) Run(threads(), nothing, true);  // the workers spin after it
  for (int i = 0; i < rounds; ++i) {
    // Cold: the workers asleep, as they are when runs come far apart.
    if (!warm) std::this_thread::sleep_for(std::chrono::nanoseconds(2 * spin_ns_ + 20000));
    const auto start = std::chrono::steady_clock::now();
    Run(threads(), nothing, warm);
    times.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count());
  }
  if (times.empty()) return 0.0;
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

uint64_t ThreadPool::WorkerCpuMask() {
  std::vector<uint64_t> masks(threads(), 0);
  auto read = [&masks](size_t t) {
    if (t > 0) masks[t] = CurrentThreadCpus();
  };
  Run(threads(), read);
  uint64_t mask = 0;
  for (uint64_t m : masks) mask |= m;
  return mask;
}

void ThreadPool::RunTasks(size_t count, void (*task)(void*, size_t), void* context, bool spin_after) {
  if (count > 1) {
    spin_after_.store(spin_after && spin_ns_ > 0);
    run_end_ns_.store(0);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = task;
      context_ = context;
      count_ = count;
      pending_.store(count - 1);
#if defined(__linux__)
      if (worker_cpus_ != 0) caller_cpu_.store(sched_getcpu());
#endif
      generation_.fetch_add(1);
    }
    wake_.notify_all();
  }
  if (count > 0) task(context, 0);
  if (count <= 1) return;
  const uint64_t deadline = spin_ns_ == 0 ? 0 : NowNanoseconds() + spin_ns_;
  if (!SpinUntil([this] { return pending_.load() == 0; }, [deadline] { return deadline; })) {
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [this] { return pending_.load() == 0; });
  }
  run_end_ns_.store(NowNanoseconds());
}

void ThreadPool::WorkerLoop(size_t index) {
  uint64_t seen = 0;
#if defined(__linux__)
  int avoided = -2;  // the caller's CPU this worker was last placed away from
#endif
  for (;;) {
    // The next run, watched for spin_ns before sleeping when runs come back to back: they find
    // the worker awake. The first round, and after a run that came alone, it sleeps at once.
    // The spin lasts until spin_ns after the run's end (the caller's), when that comes within
    // kWorkerSpinCap x spin_ns of this worker's own end: a worker done before a slower caller
    // is still awake for the next run.
    if (seen != 0 && spin_after_.load()) {
      const uint64_t cap = NowNanoseconds() + kWorkerSpinCap * spin_ns_;
      SpinUntil([&] { return stopping_.load() || generation_.load() != seen; },
                [&] {
                  const uint64_t run_end = run_end_ns_.load();
                  return run_end == 0 ? cap : std::min(cap, run_end + spin_ns_);
                });
    }
    void (*task)(void*, size_t) = nullptr;
    void* context = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_.load() || generation_.load() != seen; });
      if (stopping_.load()) return;
      seen = generation_.load();
      if (index >= count_) continue;  // not part of this run
      task = task_;
      context = context_;
    }
#if defined(__linux__)
    // Away from the CPU the caller started this run on, before its share: placed again
    // whenever the caller is found on another CPU (one system call then, none otherwise).
    if (worker_cpus_ != 0 && caller_cpu_.load() != avoided) {
      avoided = caller_cpu_.load();
      AvoidCallerCpu(worker_cpus_, avoided);
    }
#endif
    task(context, index);
    bool last = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      last = pending_.fetch_sub(1) == 1;
    }
    if (last) finished_.notify_one();
  }
}

}  // namespace ple::rt
