// How far one ranking of a request's candidates is from another (docs/quantization.md,
// "Ranking"): the quantized model's scores against the float32 model's. Orders break ties by
// the lower candidate index and put NaN last, as ple_rank_top_k does.
#ifndef PLE_TOOLS_RANKING_METRICS_H_
#define PLE_TOOLS_RANKING_METRICS_H_

#include <cstddef>
#include <vector>

namespace ple {
namespace tools {

// One request's agreement; NaN where a measure is undefined (a top-k when the request has no
// more than k candidates; tau-b when either order is all ties; NDCG when every gain is equal).
struct RankingAgreement {
  size_t candidates = 0;
  bool top1_kept = false;
  double top3 = 0.0, top5 = 0.0, top10 = 0.0;  // |top-k of reference ∩ top-k of other| / k
  double tau_b = 0.0;                          // Kendall's tau-b of the two score orders
  double ndcg = 0.0;                           // NDCG of the other order, the reference scores as gains
};

// The candidates' order, best first.
std::vector<size_t> RankOrder(const std::vector<double>& scores);

// `reference` and `other`: the same candidates' scores. Gains for NDCG are the reference scores,
// shifted to a minimum of 0 when some are negative.
RankingAgreement CompareRanking(const std::vector<double>& reference, const std::vector<double>& other);

// Kendall's tau-b (ties in either list counted as neither concordant nor discordant).
double KendallTauB(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace tools
}  // namespace ple

#endif  // PLE_TOOLS_RANKING_METRICS_H_
