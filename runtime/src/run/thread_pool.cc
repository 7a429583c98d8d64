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

// Spins until done() or spin_ns have passed; true when done() became true.
template <typename Done>
bool SpinUntil(uint64_t spin_ns, Done done) {
  if (spin_ns == 0) return done();
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(spin_ns);
  for (int i = 0;; ++i) {
    if (done()) return true;
    Pause();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() >= until) return done();
  }
}

#if defined(__linux__)
// The CPUs the workers may use: `selected` (bit i = CPU i), or with 0 the creating thread's
// allowed ones, but the creating thread's current CPU when at least one other is left. Left
// free, the scheduler sometimes wakes a worker on its waker's CPU (this VM: one process in two,
// for the life of the session), where the two threads of a run take turns instead of running
// together, spinning against each other: a 2-thread run of bench-m-dense int8 at batch 50 took
// 458 us instead of 174 (1 thread: 336). False: leave the workers as they start.
bool WorkerCpus(uint64_t selected, cpu_set_t* cpus) {
  CPU_ZERO(cpus);
  if (selected != 0) {
    CpuSetOf(selected, cpus);
  } else if (sched_getaffinity(0, sizeof(*cpus), cpus) != 0) {
    return false;
  }
  const int caller = sched_getcpu();
  if (caller >= 0 && CPU_ISSET(caller, cpus) && CPU_COUNT(cpus) > 1) CPU_CLR(caller, cpus);
  return selected != 0 || (caller >= 0 && CPU_COUNT(cpus) > 0);
}
#endif

}  // namespace

ThreadPool::ThreadPool(size_t threads, uint64_t spin_ns, uint64_t selected) : spin_ns_(spin_ns) {
#if defined(__linux__)
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  const bool pin = threads > 1 && WorkerCpus(selected, &cpus);
  for (size_t i = 1; i < threads; ++i) {
    workers_.emplace_back([this, i, pin, cpus] {
      if (pin) sched_setaffinity(0, sizeof(cpus), &cpus);  // this thread; a failure leaves it free
      WorkerLoop(i);
    });
  }
#else
  (void)selected;  // no affinity here: ResolveCpuSelection refused any selection
  for (size_t i = 1; i < threads; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
#endif
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true);
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

double ThreadPool::MeasureWakeNanoseconds(int rounds) {
  std::vector<double> times;
  times.reserve(static_cast<size_t>(rounds));
  auto nothing = [](size_t) {};
  for (int i = 0; i < rounds; ++i) {
    // The workers asleep, as they are when runs come far apart: the cost of a cold wake-up.
    std::this_thread::sleep_for(std::chrono::nanoseconds(2 * spin_ns_ + 20000));
    const auto start = std::chrono::steady_clock::now();
    Run(threads(), nothing);
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

void ThreadPool::RunTasks(size_t count, void (*task)(void*, size_t), void* context) {
  if (count > 1) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = task;
      context_ = context;
      count_ = count;
      pending_.store(count - 1);
      generation_.fetch_add(1);
    }
    wake_.notify_all();
  }
  if (count > 0) task(context, 0);
  if (count > 1 && !SpinUntil(spin_ns_, [this] { return pending_.load() == 0; })) {
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [this] { return pending_.load() == 0; });
  }
}

void ThreadPool::WorkerLoop(size_t index) {
  uint64_t seen = 0;
  for (;;) {
    // The next run, watched for spin_ns before sleeping: back-to-back runs find the worker awake.
    SpinUntil(spin_ns_, [&] { return stopping_.load() || generation_.load() != seen; });
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
