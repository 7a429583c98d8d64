// How many workers a run's candidates deserve (docs/performance.md, "Threads"). Splitting a
// run across w threads costs a wake-up: the run's time with w workers is modelled as
//   T(w) = rows x row_ns / w + (w > 1 ? wake_ns : 0)
// and a run takes w > 1 workers only when T(w) is at most kWorthSplitting x T(1) (a margin for
// what the model leaves out: uneven rows, a worker's cold caches). The inputs, stated:
//   wake_ns  what a split costs beyond its slowest range (waking the workers, waiting for the
//            last to say it is done), in two kinds: "cold" when the workers sleep, "warm" when
//            they still spin after the last run (thread_pool.h). Each starts as the thread
//            pool's measurement when the session starts (ThreadPool::MeasureWakeNanoseconds)
//            and then follows what split runs meet: the median of the last kWakeSamples runs of
//            its kind, so that a few preempted runs on a shared machine move it little.
//   row_ns   one candidate row on one thread: first the plan's multiply-adds per candidate row
//            at kOptimisticMacsPerNs (an overestimate of the speed, so the first runs split
//            less, never more), then the mean measured time per row of worker 0's ranges.
// An estimate that grew above the one measured at creation stops the runs that would show it
// wrong from splitting: every kProbeEvery-th run that only the grown estimate keeps on one
// thread splits anyway and measures it again.
// The choice never changes a result: every row's bits are the same whichever worker computes
// it, for any number of workers (docs/determinism.md).
#ifndef PLE_RUNTIME_RUN_WORKER_COST_H_
#define PLE_RUNTIME_RUN_WORKER_COST_H_

#include <array>
#include <cstddef>

namespace ple::rt {

// A worker's share must save this much of the one-thread time to be worth waking it.
constexpr double kWorthSplitting = 0.85;
// Multiply-adds per nanosecond of one core at its best (AVX-512 VNNI int8 measured ~467 G/s
// peak per 2 cores: docs/performance.md); any real run is slower, so row_ns starts low.
constexpr double kOptimisticMacsPerNs = 250.0;
// How many split runs the wake-up estimate remembers, and how often a declined run probes.
constexpr size_t kWakeSamples = 8;
constexpr size_t kProbeEvery = 8;

struct WorkerCost {
  double wake_ns = 0.0;  // a split's cost beyond its slowest range
  double row_ns = 0.0;   // one candidate row on one thread
};

// The number of workers in [1, max_workers] that minimises the modelled time of `rows` rows,
// 1 unless splitting saves at least (1 - kWorthSplitting) of the one-thread time. Every worker
// gets one row at least.
size_t WorkersFor(size_t rows, const WorkerCost& cost, size_t max_workers);

// row_ns after a measured range: `nanoseconds` for `rows` rows on one thread, folded into the
// running mean (one in four: a cold first run, a preempted one, weigh little).
double UpdatedRowNs(double row_ns, double nanoseconds, size_t rows);

// One kind of wake-up's cost: the median of the last kWakeSamples samples, all of them the
// measurement at creation to begin with. A negative sample (the caller's own range was the
// slowest) counts as 0.
class WakeEstimate {
 public:
  explicit WakeEstimate(double measured_ns = 0.0);
  void Add(double waited_ns);
  double ns() const { return ns_; }
  double measured_ns() const { return measured_ns_; }

 private:
  std::array<double, kWakeSamples> samples_{};
  size_t next_ = 0;
  double ns_ = 0.0;
  double measured_ns_ = 0.0;
};

// A session's choice of workers, run after run, and what it learns from them. Not thread-safe
// (a session runs on one thread at a time).
class WorkerPlanner {
 public:
  WorkerPlanner() = default;
  WorkerPlanner(double cold_wake_ns, double warm_wake_ns, double row_ns);

  // Workers for a run of `rows` rows; `warm` when the pool's workers are still spinning
  // (ThreadPool::WorkersSpinning). Counts the runs it declines for probing.
  size_t Workers(size_t rows, size_t max_workers, bool warm);
  // Worker 0's range: `nanoseconds` for `rows` rows.
  void RangeMeasured(double nanoseconds, size_t rows) { row_ns_ = UpdatedRowNs(row_ns_, nanoseconds, rows); }
  // A split run of the kind Workers was told: its time beyond its slowest range.
  void SplitMeasured(bool warm, double waited_ns) { (warm ? warm_ : cold_).Add(waited_ns); }

  WorkerCost cost(bool warm) const { return {(warm ? warm_ : cold_).ns(), row_ns_}; }

 private:
  WakeEstimate cold_, warm_;
  double row_ns_ = 0.0;
  size_t declined_ = 0;  // runs kept on one thread by a grown estimate alone
};

}  // namespace ple::rt

#endif  // PLE_RUNTIME_RUN_WORKER_COST_H_
