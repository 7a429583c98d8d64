#include "run/worker_cost.h"

#include <algorithm>

namespace ple::rt {

size_t WorkersFor(size_t rows, const WorkerCost& cost, size_t max_workers) {
  const size_t limit = std::min(max_workers, rows);
  const double one = static_cast<double>(rows) * cost.row_ns;
  size_t best = 1;
  double best_time = one;
  for (size_t w = 2; w <= limit; ++w) {
    const double time = one / static_cast<double>(w) + cost.wake_ns;
    if (time < best_time && time <= kWorthSplitting * one) {
      best = w;
      best_time = time;
    }
  }
  return best;
}

double UpdatedRowNs(double row_ns, double nanoseconds, size_t rows) {
  if (rows == 0) return row_ns;
  const double sample = nanoseconds / static_cast<double>(rows);
  return row_ns <= 0.0 ? sample : 0.75 * row_ns + 0.25 * sample;
}

WakeEstimate::WakeEstimate(double measured_ns) : ns_(std::max(0.0, measured_ns)), measured_ns_(ns_) {
  samples_.fill(ns_);
}

void WakeEstimate::Add(double waited_ns) {
  samples_[next_] = std::max(0.0, waited_ns);
  next_ = (next_ + 1) % samples_.size();
  std::array<double, kWakeSamples> sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  const size_t half = sorted.size() / 2;
  ns_ = sorted.size() % 2 != 0 ? sorted[half] : 0.5 * (sorted[half - 1] + sorted[half]);
}

WorkerPlanner::WorkerPlanner(double cold_wake_ns, double warm_wake_ns, double row_ns)
    : cold_(cold_wake_ns), warm_(warm_wake_ns), row_ns_(row_ns) {}

size_t WorkerPlanner::Workers(size_t rows, size_t max_workers, bool warm) {
  const WakeEstimate& wake = warm ? warm_ : cold_;
  const size_t chosen = WorkersFor(rows, {wake.ns(), row_ns_}, max_workers);
  if (chosen > 1 || wake.ns() <= wake.measured_ns()) return chosen;
  const size_t at_measured = WorkersFor(rows, {wake.measured_ns(), row_ns_}, max_workers);
  if (at_measured == 1) return 1;
  return ++declined_ % kProbeEvery == 0 ? at_measured : 1;
}

}  // namespace ple::rt
