// Session::RunSplit: one run's candidate rows computed by several threads (docs/architecture.md,
// "Threads"), a contiguous range of equal size each; every row's bits are the same whichever
// worker computes it. Handing rows out in chunks instead (guided: a quarter of what is left, 8
// rows at least, to whichever worker is free) was measured slower: each chunk streams every
// layer's weights once more. 2 threads / 1 thread, bench-m-dense at batch 50 and 200, median of
// 9 interleaved rounds on the x86 VM of docs/performance.md (2026-12-07): int8 0.60 and 0.54 in
// equal ranges, 0.67 and 0.60 in chunks; float32 0.60 and 0.54, 0.69 and 0.61.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "run/session.h"

namespace ple::rt {

ple_status Session::RunSplit(RunInputs* inputs, size_t rows, size_t active, bool warm, float* outputs, float* scores) {
  const size_t features = model_->features().size();
  for (size_t w = 1; w < active; ++w) {
    Worker& worker = workers_[w];
    std::copy(inputs->sources, inputs->sources + worker.sources.size(), worker.sources.begin());
    // A sequence with per-row lengths is read in row order: start this worker at its first row.
    const size_t previous_begin = rows * (w - 1) / active, begin = rows * w / active;
    for (size_t i = 0; i < features; ++i) {
      FeatureSource& source = worker.sources[i];
      if (model_->features()[i].kind != FeatureKind::kSequence || source.lengths == nullptr) continue;
      source.next_id = workers_[w - 1].sources[i].next_id;
      for (size_t r = previous_begin; r < begin; ++r) source.next_id += source.lengths[r];
    }
  }
  auto run_range = [&](size_t w) {
    Worker& worker = workers_[w];
    const size_t begin = rows * w / active, end = rows * (w + 1) / active;
    const auto start = std::chrono::steady_clock::now();
    worker.status = RunRows(worker, inputs, begin, end, outputs, scores);
    worker.range_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    if (worker.status != PLE_OK && w > 0) std::snprintf(worker.error, sizeof(worker.error), "%s", LastError());
  };
  const auto split_start = std::chrono::steady_clock::now();
  pool_->Run(active, run_range, warm);
  // What the split cost as this run met it: the run's time beyond its slowest range (waking
  // the workers and waiting for the last one to say it is done). The next runs decide with it
  // (worker_cost.h); a slower range is the rows' cost, not the split's.
  const double split_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - split_start).count();
  double slowest_ns = 0.0;
  for (size_t w = 0; w < active; ++w) slowest_ns = std::max(slowest_ns, workers_[w].range_ns);
  planner_.SplitMeasured(warm, split_ns - slowest_ns);
  if (workers_[0].status == PLE_OK) planner_.RangeMeasured(workers_[0].range_ns, rows / active);
  // The first failing range's error: the one a single thread would meet first (worker 0's is
  // already this thread's last error).
  for (size_t w = 0; w < active; ++w) {
    if (workers_[w].status == PLE_OK) continue;
    return w == 0 ? workers_[0].status : SetLastError(workers_[w].status, "%s", workers_[w].error);
  }
  return PLE_OK;
}

}  // namespace ple::rt
