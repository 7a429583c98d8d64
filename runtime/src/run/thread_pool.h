// A session's worker threads. Run(fn) calls fn(t) once for every t < threads(), thread t on
// worker t (the calling thread is worker 0), and returns when all calls have returned: the
// caller decides what each worker computes, so which thread computes what never changes a
// result. Workers sleep on a condition variable between runs (no spinning when idle) and are
// joined by the destructor. Used by one thread at a time, like its session.
#ifndef PLE_RUNTIME_RUN_THREAD_POOL_H_
#define PLE_RUNTIME_RUN_THREAD_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace ple::rt {

class ThreadPool {
 public:
  // Starts threads - 1 workers (none for 1).
  explicit ThreadPool(size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t threads() const { return workers_.size() + 1; }

  // The median time of `rounds` runs of an empty task on every worker: what waking the workers
  // for a run costs the caller. Takes about rounds x that (tens of microseconds each).
  double MeasureWakeNanoseconds(int rounds);

  // fn(t) for t < count (count <= threads()), worker t calling it. Allocates nothing.
  template <typename F>
  void Run(size_t count, F& fn) {
    RunTasks(count, [](void* f, size_t t) { (*static_cast<F*>(f))(t); }, &fn);
  }

 private:
  void RunTasks(size_t count, void (*task)(void*, size_t), void* context);
  void WorkerLoop(size_t index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;      // a new run, or stopping
  std::condition_variable finished_;  // the last worker of a run is done
  uint64_t generation_ = 0;           // runs started
  size_t count_ = 0;                  // workers taking part in the current run (with the caller)
  size_t pending_ = 0;                // workers of the current run still busy
  void (*task_)(void*, size_t) = nullptr;
  void* context_ = nullptr;
  bool stopping_ = false;
};

}  // namespace ple::rt

#endif  // PLE_RUNTIME_RUN_THREAD_POOL_H_
