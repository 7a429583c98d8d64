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

double UpdatedWakeNs(double wake_ns, double waited_ns) {
  const double sample = std::max(0.0, wake_ns > 0.0 ? std::min(waited_ns, kWakeSampleCap * wake_ns) : waited_ns);
  return wake_ns <= 0.0 ? sample : 0.75 * wake_ns + 0.25 * sample;
}

double UpdatedRowNs(double row_ns, double nanoseconds, size_t rows) {
  if (rows == 0) return row_ns;
  const double sample = nanoseconds / static_cast<double>(rows);
  return row_ns <= 0.0 ? sample : 0.75 * row_ns + 0.25 * sample;
}

}  // namespace ple::rt
