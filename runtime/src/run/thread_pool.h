// A session's worker threads. Run(fn) calls fn(t) once for every t < count, thread t on worker t
// (the calling thread is worker 0), and returns when all calls have returned: the caller
// decides what each worker computes, so which thread computes what never changes a result.
// After a run that the caller says is one of back-to-back runs, a worker spins until spin_ns
// after the run's end, watching for the next run, then sleeps on a condition variable; after
// any other run it sleeps at once. The caller, done with its own share, spins as long for the
// workers to finish before it sleeps. Spinning yields the CPU now and then (a thread waited for
// on the same CPU runs). An idle pool (no run for longer than spin_ns) uses no CPU. On Linux
// the workers may run on every CPU of `cpus` (0: every allowed CPU) but the one the caller
// started the current run on (AvoidCallerCpu). Joined by the destructor. Used by one thread at
// a time, like its session.
#ifndef PLE_RUNTIME_RUN_THREAD_POOL_H_
#define PLE_RUNTIME_RUN_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace ple::rt {

// How long a worker and the caller spin before they sleep (docs/performance.md, "Threads").
// Only back-to-back runs spin (a feed scored now and then never does, a phone's battery pays for
// spinning); a worker waking on a CPU of this VM took 20 to 100 us, a spinning one ~1 us.
// PLE_THREAD_SPIN_NS sets it, for measuring.
constexpr uint64_t kDefaultSpinNanoseconds = 30000;

// A worker done with its share before the caller spins at most this many spin_ns for the
// caller to finish (and spin_ns more).
constexpr uint64_t kWorkerSpinCap = 8;

class ThreadPool {
 public:
  // Starts threads - 1 workers (none for 1), restricted to `cpus` (bit i = CPU i; 0: no
  // restriction) where threads have affinity.
  explicit ThreadPool(size_t threads, uint64_t spin_ns = kDefaultSpinNanoseconds, uint64_t cpus = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t threads() const { return workers_.size() + 1; }

  // The median time of `rounds` runs of an empty task on every worker. Cold: each after the
  // workers have gone to sleep, what waking them costs when runs come far apart; takes rounds x
  // (2 spin_ns + a 20 us sleep + a wake-up): 1.2 ms for 5 rounds and 2 threads without a spin on
  // the x86-64 VM of docs/performance.md. Warm: back to back, the workers spinning (the cold
  // figure when spin_ns is 0).
  double MeasureWakeNanoseconds(int rounds, bool warm);

  uint64_t spin_ns() const { return spin_ns_; }

  // The CPUs the workers run with, as each read its own affinity inside itself (their union;
  // bit i = CPU i, CPUs 0 to 63). 0 without workers or where threads have no affinity.
  uint64_t WorkerCpuMask();

  // fn(t) for t < count (count <= threads()), worker t calling it. Allocates nothing.
  // `spin_after`: the next run is expected within spin_ns, the workers spin for it.
  template <typename F>
  void Run(size_t count, F& fn, bool spin_after = false) {
    RunTasks(count, [](void* f, size_t t) { (*static_cast<F*>(f))(t); }, &fn, spin_after);
  }

 private:
  void RunTasks(size_t count, void (*task)(void*, size_t), void* context, bool spin_after);
  void WorkerLoop(size_t index);

  std::vector<std::thread> workers_;
  const uint64_t spin_ns_;
  std::mutex mutex_;
  std::condition_variable wake_;      // a new run, or stopping
  std::condition_variable finished_;  // the last worker of a run is done
  // Written under mutex_; atomic so that a spinning thread may watch them without it.
  std::atomic<uint64_t> generation_{0};  // runs started
  std::atomic<size_t> pending_{0};       // workers of the current run still busy
  std::atomic<bool> stopping_{false};
  std::atomic<bool> spin_after_{false};  // the workers spin after the current (last) run
  std::atomic<uint64_t> run_end_ns_{0};  // when the current run ended (steady clock); 0 until then
#if defined(__linux__)
  uint64_t worker_cpus_ = 0;             // where the workers may run (bit i = CPU i); 0: anywhere
  std::atomic<int> caller_cpu_{-1};      // the caller's CPU when it started the current run
#endif
  size_t count_ = 0;                  // workers taking part in the current run (with the caller)
  void (*task_)(void*, size_t) = nullptr;
  void* context_ = nullptr;
};

}  // namespace ple::rt

#endif  // PLE_RUNTIME_RUN_THREAD_POOL_H_
