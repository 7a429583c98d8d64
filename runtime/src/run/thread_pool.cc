#include "run/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace ple::rt {

ThreadPool::ThreadPool(size_t threads) {
  for (size_t i = 1; i < threads; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::RunTasks(size_t count, void (*task)(void*, size_t), void* context) {
  if (count > 1) {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = task;
    context_ = context;
    count_ = count;
    pending_ = count - 1;
    ++generation_;
  }
  if (count > 1) wake_.notify_all();
  if (count > 0) task(context, 0);
  if (count > 1) {
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [this] { return pending_ == 0; });
  }
}

double ThreadPool::MeasureWakeNanoseconds(int rounds) {
  std::vector<double> times;
  times.reserve(static_cast<size_t>(rounds));
  auto nothing = [](size_t) {};
  for (int i = 0; i < rounds; ++i) {
    const auto start = std::chrono::steady_clock::now();
    Run(threads(), nothing);
    times.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count());
  }
  if (times.empty()) return 0.0;
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

void ThreadPool::WorkerLoop(size_t index) {
  uint64_t seen = 0;
  for (;;) {
    void (*task)(void*, size_t) = nullptr;
    void* context = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      if (index >= count_) continue;  // not part of this run
      task = task_;
      context = context_;
    }
    task(context, index);
    bool last = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      last = --pending_ == 0;
    }
    if (last) finished_.notify_one();
  }
}

}  // namespace ple::rt
