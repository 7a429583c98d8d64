// Statistics of ple-bench's repeated runs: the summary of a run's times and the process's CPU
// time (every thread), in microseconds.
#ifndef PLE_TOOLS_BENCH_STATS_H_
#define PLE_TOOLS_BENCH_STATS_H_

#include <algorithm>
#include <cmath>
#include <ctime>
#include <vector>

namespace ple::tools {

// A run's times: min, mean, nearest-rank percentiles and max.
struct Stats {
  double min = 0, mean = 0, p50 = 0, p95 = 0, p99 = 0, max = 0;
};
inline Stats Summarize(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  Stats s;
  auto percentile = [&](double p) {  // nearest rank
    const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(samples.size())));
    return samples[std::min(samples.size() - 1, rank == 0 ? 0 : rank - 1)];
  };
  s.min = samples.front();
  s.max = samples.back();
  double total = 0;
  for (double v : samples) total += v;
  s.mean = total / static_cast<double>(samples.size());
  s.p50 = percentile(50);
  s.p95 = percentile(95);
  s.p99 = percentile(99);
  return s;
}

// The CPU time this process has used, every thread: microseconds.
inline double ProcessCpuMicroseconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

}  // namespace ple::tools

#endif  // PLE_TOOLS_BENCH_STATS_H_
