#include "ranking_prediction.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/portable-math.h"
#include "ranking_metrics.h"

namespace ple {
namespace tools {
namespace {

// erfc(x) for x >= 0 to a relative error below 1.2e-7 (the Chebyshev fit of Numerical Recipes'
// erfcc), with the runtime's portable exp: libm's erfc and log differ in the last bits between
// platforms, and a plan's choices must not.
double Erfc(double x) {
  const double t = 1.0 / (1.0 + 0.5 * x);
  const double poly =
      -x * x - 1.26551223 +
      t * (1.00002368 +
           t * (0.37409196 +
                t * (0.09678418 +
                     t * (-0.18628806 +
                          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * static_cast<double>(rt::kernels::Exp(static_cast<float>(std::max(poly, -100.0))));
}

// P(noise of spread sigma on both candidates crosses a float32 gap `gap`).
double SwapProbability(double gap, double sigma) {
  if (!(sigma > 0.0)) return gap == 0.0 ? 0.5 : 0.0;
  return 0.5 * Erfc(std::fabs(gap) / (2.0 * sigma));  // Phi(-|gap| / (sqrt(2) sigma))
}

struct Mean {
  double sum = 0.0;
  size_t count = 0;
  void Add(double v) { sum += v, ++count; }
  double value() const { return count ? sum / static_cast<double>(count) : std::numeric_limits<double>::quiet_NaN(); }
};

}  // namespace

double PredictedRanking::Get(const std::string& name) const {
  if (name == "top1") return top1;
  if (name == "top3") return top3;
  if (name == "top5") return top5;
  if (name == "top10") return top10;
  if (name == "tau") return tau;
  return std::numeric_limits<double>::quiet_NaN();
}

PredictedRanking PredictRanking(const std::vector<double>& reference, const std::vector<double>& other,
                                const std::vector<size_t>& requests) {
  bool positive = true;
  for (size_t i = 0; i < reference.size(); ++i) positive = positive && reference[i] > 0.0 && other[i] > 0.0;
  auto value = [&](const std::vector<double>& v, size_t i) {  // scores are float32 values
    return positive ? static_cast<double>(rt::kernels::Log(static_cast<float>(v[i]))) : v[i];
  };
  // The noise's spread, centred per request.
  double squares = 0.0;
  size_t n = 0, begin = 0;
  for (size_t count : requests) {
    double mean = 0.0;
    for (size_t i = begin; i < begin + count; ++i) mean += value(other, i) - value(reference, i);
    mean /= static_cast<double>(std::max<size_t>(count, 1));
    for (size_t i = begin; i < begin + count; ++i) {
      const double d = value(other, i) - value(reference, i) - mean;
      squares += d * d;
    }
    n += count;
    begin += count;
  }
  PredictedRanking out;
  out.sigma = n > 0 ? std::sqrt(squares / static_cast<double>(n)) : 0.0;
  Mean top1, top_k[3], tau;
  const size_t ks[3] = {3, 5, 10};
  begin = 0;
  for (size_t count : requests) {
    std::vector<double> g(count);
    for (size_t i = 0; i < count; ++i) g[i] = value(reference, begin + i);
    begin += count;
    if (count < 2) continue;
    const std::vector<size_t> order = RankOrder(g);  // best first
    double best_swaps = 0.0;
    for (size_t j = 1; j < count; ++j) best_swaps += SwapProbability(g[order[0]] - g[order[j]], out.sigma);
    top1.Add(std::max(0.0, 1.0 - best_swaps));
    for (int t = 0; t < 3; ++t) {
      const size_t k = ks[t];
      if (count <= k) continue;
      double swaps = 0.0;
      for (size_t a = 0; a < k; ++a) {
        for (size_t b = k; b < count; ++b) swaps += SwapProbability(g[order[a]] - g[order[b]], out.sigma);
      }
      top_k[t].Add(std::max(0.0, 1.0 - swaps / static_cast<double>(k)));
    }
    double swaps = 0.0;
    for (size_t a = 0; a < count; ++a) {
      for (size_t b = a + 1; b < count; ++b) swaps += SwapProbability(g[a] - g[b], out.sigma);
    }
    tau.Add(1.0 - 2.0 * swaps / (0.5 * static_cast<double>(count) * static_cast<double>(count - 1)));
  }
  out.top1 = top1.value();
  out.top3 = top_k[0].value();
  out.top5 = top_k[1].value();
  out.top10 = top_k[2].value();
  out.tau = tau.value();
  return out;
}

}  // namespace tools
}  // namespace ple
