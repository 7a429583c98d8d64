// Expected ranking measures from score noise (for `--precision auto:`, tools/precision_planner.h).
// Measured top-k overlaps on a few dozen requests move in steps (one swapped candidate in 30
// requests is 0.0067 of top-5) and are 1.0 for most single-layer changes, so they neither rank
// the layers nor predict held-out data. Here the quantized scores are read as the float32
// scores plus noise: the noise's spread is measured on all candidates (in log space when every
// score is > 0, where a score's relative error is the noise; centred per request, since a
// shift common to a request changes no order), and each pair of candidates swaps with the
// probability that noise of that spread crosses their float32 gap:
// P(i, j swap) = Phi(-|g_i - g_j| / (sqrt(2) sigma)). The expected measures follow: top-k overlap
// 1 - (expected swaps across the top-k boundary) / k, top-1 kept 1 - sum over j of P(best, j
// swap), Kendall's tau 1 - 2 (expected swapped pairs) / pairs; averaged over the requests
// where each is defined, as the measured ones. Pairs are treated as independent, so the
// expected swaps overstate the loss when many pairs are close: a conservative estimate.
#ifndef PLE_TOOLS_RANKING_PREDICTION_H_
#define PLE_TOOLS_RANKING_PREDICTION_H_

#include <cstddef>
#include <string>
#include <vector>

namespace ple {
namespace tools {

struct PredictedRanking {
  double sigma = 0.0;  // the noise's spread (log space when every score is > 0)
  double top1 = 1.0, top3 = 1.0, top5 = 1.0, top10 = 1.0, tau = 1.0;
  double Get(const std::string& name) const;  // top1, top3, top5, top10, tau; NaN for any other
};

// `reference`, `other`: the same candidates' scores; `requests`: how many candidates each
// request has, in order (summing to the scores' size).
PredictedRanking PredictRanking(const std::vector<double>& reference, const std::vector<double>& other,
                                const std::vector<size_t>& requests);

}  // namespace tools
}  // namespace ple

#endif  // PLE_TOOLS_RANKING_PREDICTION_H_
