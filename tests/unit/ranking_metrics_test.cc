// The ranking agreement of the quantization report (tools/ranking_metrics.h): values worked by
// hand, ties, NaN, and the order agreeing with ple_rank_top_k's.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "ple/ple.h"
#include "ranking_metrics.h"

using ple::tools::CompareRanking;
using ple::tools::KendallTauB;
using ple::tools::RankOrder;

TEST_CASE("ranking metrics: the same scores agree everywhere", "[ranking]") {
  const std::vector<double> s = {0.3, 0.9, 0.1, 0.5, 0.7, 0.2, 0.8, 0.4, 0.6, 0.05, 0.65};
  const auto r = CompareRanking(s, s);
  CHECK(r.candidates == 11);
  CHECK(r.top1_kept);
  CHECK(r.top3 == 1.0);
  CHECK(r.top5 == 1.0);
  CHECK(r.top10 == 1.0);
  CHECK(r.tau_b == Approx(1.0));
  CHECK(r.ndcg == Approx(1.0));
}

TEST_CASE("ranking metrics: a reversed order, one swap at the top, worked by hand", "[ranking]") {
  std::vector<double> a(10), reversed(10);
  for (int i = 0; i < 10; ++i) a[i] = 10 - i, reversed[i] = i;
  auto r = CompareRanking(a, reversed);
  CHECK_FALSE(r.top1_kept);
  CHECK(r.top3 == 0.0);  // the best three became the worst three
  CHECK(r.top5 == 0.0);
  CHECK(std::isnan(r.top10));  // no more than 10 candidates: undefined
  CHECK(r.tau_b == Approx(-1.0));

  const std::vector<double> six = {6, 5, 4, 3, 2, 1}, swapped = {5, 6, 4, 3, 2, 1};
  r = CompareRanking(six, swapped);
  CHECK_FALSE(r.top1_kept);
  CHECK(r.top3 == 1.0);
  CHECK(r.tau_b == Approx(13.0 / 15.0));  // 15 pairs, one discordant

  // NDCG: gains 3, 2, 1; the other order puts candidate 1 first
  r = CompareRanking({3, 2, 1}, {2, 3, 1});
  const double ideal = 3 + 2 / std::log2(3.0) + 1 / 2.0, got = 2 + 3 / std::log2(3.0) + 1 / 2.0;
  CHECK(r.ndcg == Approx(got / ideal));
}

TEST_CASE("ranking metrics: ties count in tau-b, NaN ranks last, equal gains leave NDCG undefined", "[ranking]") {
  // pairs: (0,1) tied in b, (0,2) and (1,2) concordant: (2 - 0) / sqrt((3 - 0) (3 - 1))
  CHECK(KendallTauB({1, 2, 3}, {1, 1, 2}) == Approx(2.0 / std::sqrt(6.0)));
  CHECK(std::isnan(KendallTauB({1, 1, 1}, {1, 2, 3})));
  CHECK(RankOrder({0.5, NAN, 0.9, 0.5}) == std::vector<size_t>{2, 0, 3, 1});
  CHECK(std::isnan(CompareRanking({1, 1, 1, 1}, {4, 3, 2, 1}).ndcg));
  const auto r = CompareRanking({-1.0, -3.0, -2.0}, {-1.0, -2.0, -3.0});  // negative gains are shifted to >= 0
  CHECK(r.top1_kept);
  CHECK(r.ndcg < 1.0);
  CHECK(r.ndcg > 0.0);
}

TEST_CASE("ranking metrics: the order is ple_rank_top_k's, ties and all", "[ranking]") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> value(0, 9);  // many ties
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<float> scores(37);
    std::vector<double> doubles(scores.size());
    for (size_t i = 0; i < scores.size(); ++i) doubles[i] = scores[i] = static_cast<float>(value(rng)) / 4.0f;
    std::vector<uint32_t> top(scores.size());
    REQUIRE(ple_rank_top_k(scores.data(), scores.size(), scores.size(), top.data()) == PLE_OK);
    const std::vector<size_t> order = RankOrder(doubles);
    CHECK(std::vector<size_t>(top.begin(), top.end()) == order);
  }
}
