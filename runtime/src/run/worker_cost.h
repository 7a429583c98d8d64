// How many workers a run's candidates deserve (docs/performance.md, "Threads"). Splitting a
// run across w threads costs a wake-up: the run's time with w workers is modelled as
//   T(w) = rows x row_ns / w + (w > 1 ? wake_ns : 0)
// and a run takes w > 1 workers only when T(w) is at most kWorthSplitting x T(1) (a margin for
// what the model leaves out: uneven rows, a worker's cold caches). The inputs, stated:
//   wake_ns  first measured by the session's thread pool when it starts: the median round trip
//            of waking its sleeping workers for an empty task (ThreadPool::MeasureWakeNanoseconds);
//            then, after every run that split, the run's time beyond its slowest range (each
//            worker times its own): the wake-ups as runs meet them. On the x86 VM of
//            docs/performance.md runs met three times the cost measured at creation, and
//            bench-m-dense int8 at batch 8 split into a run 1.4x slower than one thread's.
//            (Counting the wait beyond the caller's own range instead charged a slower
//            worker's rows to the wake-up: at batch 1000 that is hundreds of microseconds, and
//            batch 200 stopped splitting.)
//   row_ns   one candidate row on one thread: first the plan's multiply-adds per candidate row
//            at kOptimisticMacsPerNs (an overestimate of the speed, so the first runs split
//            less, never more), then the mean measured time per row of worker 0's ranges.
// The choice never changes a result: every row's bits are the same whichever worker computes
// it, for any number of workers (docs/determinism.md).
#ifndef PLE_RUNTIME_RUN_WORKER_COST_H_
#define PLE_RUNTIME_RUN_WORKER_COST_H_

#include <cstddef>

namespace ple::rt {

// A worker's share must save this much of the one-thread time to be worth waking it.
constexpr double kWorthSplitting = 0.85;
// Multiply-adds per nanosecond of one core at its best (AVX-512 VNNI int8 measured ~467 G/s
// peak per 2 cores: docs/performance.md); any real run is slower, so row_ns starts low.
constexpr double kOptimisticMacsPerNs = 250.0;

struct WorkerCost {
  double wake_ns = 0.0;  // measured wake-up round trip of the pool's workers
  double row_ns = 0.0;   // one candidate row on one thread
};

// The number of workers in [1, max_workers] that minimises the modelled time of `rows` rows,
// 1 unless splitting saves at least (1 - kWorthSplitting) of the one-thread time. Every worker
// gets one row at least.
size_t WorkersFor(size_t rows, const WorkerCost& cost, size_t max_workers);

// row_ns after a measured range: `nanoseconds` for `rows` rows on one thread, folded into the
// running mean (one in four: a cold first run, a preempted one, weigh little).
double UpdatedRowNs(double row_ns, double nanoseconds, size_t rows);

// wake_ns after a split run that took `waited_ns` beyond its slowest range: folded into
// the running mean one in four, a sample counting at most kWakeSampleCap times the current
// value (a run preempted for milliseconds must not stop splitting for good: a higher estimate
// splits fewer runs, and only split runs are measured).
constexpr double kWakeSampleCap = 4.0;
double UpdatedWakeNs(double wake_ns, double waited_ns);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_RUN_WORKER_COST_H_
