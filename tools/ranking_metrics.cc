#include "ranking_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ple {
namespace tools {
namespace {

double TopKOverlap(const std::vector<size_t>& a, const std::vector<size_t>& b, size_t k) {
  if (a.size() <= k) return NAN;
  std::vector<size_t> x(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(k));
  std::vector<size_t> y(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(k));
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  std::vector<size_t> common;
  std::set_intersection(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(common));
  return static_cast<double>(common.size()) / static_cast<double>(k);
}

double Dcg(const std::vector<size_t>& order, const std::vector<double>& gains) {
  double dcg = 0.0;
  for (size_t r = 0; r < order.size(); ++r) dcg += gains[order[r]] / std::log2(static_cast<double>(r) + 2.0);
  return dcg;
}

}  // namespace

std::vector<size_t> RankOrder(const std::vector<double>& scores) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) {
    const bool nan_i = std::isnan(scores[i]), nan_j = std::isnan(scores[j]);
    if (nan_i || nan_j) return !nan_i && nan_j;
    return scores[i] > scores[j];
  });
  return order;
}

double KendallTauB(const std::vector<double>& a, const std::vector<double>& b) {
  double concordant = 0.0, discordant = 0.0, ties_a = 0.0, ties_b = 0.0, pairs = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = i + 1; j < a.size(); ++j) {
      const double da = a[i] - a[j], db = b[i] - b[j];
      pairs += 1.0;
      if (da == 0.0) ties_a += 1.0;
      if (db == 0.0) ties_b += 1.0;
      if (da == 0.0 || db == 0.0) continue;
      ((da > 0.0) == (db > 0.0) ? concordant : discordant) += 1.0;
    }
  }
  const double denominator = std::sqrt((pairs - ties_a) * (pairs - ties_b));
  return denominator > 0.0 ? (concordant - discordant) / denominator : NAN;
}

RankingAgreement CompareRanking(const std::vector<double>& reference, const std::vector<double>& other) {
  RankingAgreement r;
  r.candidates = reference.size();
  const std::vector<size_t> ideal = RankOrder(reference), order = RankOrder(other);
  r.top1_kept = !ideal.empty() && ideal[0] == order[0];
  r.top3 = TopKOverlap(ideal, order, 3);
  r.top5 = TopKOverlap(ideal, order, 5);
  r.top10 = TopKOverlap(ideal, order, 10);
  r.tau_b = KendallTauB(reference, other);
  std::vector<double> gains = reference;
  double lowest = INFINITY;
  for (double g : gains) lowest = std::isnan(g) ? lowest : std::min(lowest, g);
  for (double& g : gains) g = std::isnan(g) ? 0.0 : g - std::min(lowest, 0.0);
  const double best = Dcg(ideal, gains), worst_possible = Dcg(std::vector<size_t>(ideal.rbegin(), ideal.rend()), gains);
  r.ndcg = best > worst_possible ? Dcg(order, gains) / best : NAN;
  return r;
}

}  // namespace tools
}  // namespace ple
