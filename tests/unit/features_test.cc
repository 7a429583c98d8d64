// The feature layer, request contexts and the ranking score through the C and C++ APIs, on the
// features_mixed bundle's model: user_id (request, sparse, oov error), history (request,
// sequence, mean, padding 0, max_length 12), age (request, dense, normalized, NaN is an error),
// video_id (candidate, sparse, oov hash, table of 80), category (candidate, sparse, oov row 0,
// table of 12), quality (candidate, dense width 3, NaN replaced by 0.5), extra video_len.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "capi/c_api_internal.h"
#include "ple/ple.hpp"
#include "test_util.h"

namespace {

using ple::FeatureValues;

struct Fixture {
  std::vector<uint8_t> bytes = ple::test::ConvertBundle("features_mixed").bytes;
  ple::Model model = ple::Model::OpenBuffer(bytes.data(), bytes.size());  // unaligned: one aligned copy

  // Request values.
  std::vector<int64_t> user_id = {7};
  std::vector<int64_t> history = {3, 0, 17, 5};  // 0 is the padding id
  std::vector<uint32_t> history_lengths = {4};
  std::vector<float> age = {31.0f};
  // Candidate values (n candidates).
  size_t n = 6;
  std::vector<int64_t> video_id = {1, 2, 79, -1, 80, 1000};
  std::vector<int64_t> category = {0, 1, 11, 12, -3, 5};
  std::vector<float> quality = std::vector<float>(6 * 3, 0.25f);
  std::vector<float> video_len = {10, 20, 30, 40, 50, 60};

  std::vector<FeatureValues> Request() const {
    return {FeatureValues::Ids("user_id", user_id), FeatureValues::Sequences("history", history, history_lengths),
            FeatureValues::Dense("age", age)};
  }
  std::vector<FeatureValues> Candidates() const {
    return {FeatureValues::Ids("video_id", video_id), FeatureValues::Ids("category", category),
            FeatureValues::Dense("quality", quality), FeatureValues::Dense("video_len", video_len)};
  }
};

// Outputs and scores of `f`'s values on `session` (whose model is `model`).
std::pair<std::vector<float>, std::vector<float>> Score(const Fixture& f, const ple::Model& model,
                                                        ple::Session& session) {
  ple::Request request(model);
  request.Set(f.Request());
  std::vector<float> scores;
  std::vector<float> outputs = session.Run(&request, f.Candidates(), f.n, &scores);
  return {outputs, scores};
}

std::string RunError(ple::Session& session, const ple::Request* request, const std::vector<FeatureValues>& candidates,
                     size_t n, bool scores = false) {
  try {
    std::vector<float> s;
    session.Run(request, candidates, n, scores ? &s : nullptr);
  } catch (const ple::Error& e) {
    return e.what();
  }
  return "";
}

std::string SetError(ple::Request& request, const std::vector<FeatureValues>& values) {
  try {
    request.Set(values);
  } catch (const ple::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("features: queries describe features, scopes, widths and extras", "[features]") {
  Fixture f;
  const auto features = f.model.features();
  REQUIRE(features.size() == 6);
  // Request-scope first (the converter's order), each keeping its kind.
  CHECK(features[0].name == "user_id");
  CHECK(features[0].kind == PLE_FEATURE_SPARSE);
  CHECK(features[0].scope == PLE_SCOPE_REQUEST);
  CHECK(features[0].vocabulary == 50);
  CHECK(features[1].kind == PLE_FEATURE_SEQUENCE);
  CHECK(features[1].width == 12);
  CHECK(features[5].name == "quality");
  CHECK(features[5].width == 3);
  CHECK(f.model.extras() == std::vector<std::string>{"video_len"});
  CHECK(f.model.has_score());
  // ple_session_run's float rows cannot carry ids.
  ple::Session session(f.model);
  std::vector<float> rows(f.model.row_width()), outputs(3);
  CHECK(ple_session_run(session.get(), rows.data(), rows.size(), 1, outputs.data(), 3) == PLE_ERROR_UNSUPPORTED);
  CHECK_THAT(ple_last_error(), Catch::Contains("ple_session_run_features"));
}

TEST_CASE("features: a request's part is computed once and reused until the request is set again", "[features]") {
  Fixture f;
  ple::Session session(f.model);
  const ple::rt::Session& internal = *ple::rt::InternalSession(session.get());
  ple::Request request(f.model);
  request.Set(f.Request());
  const std::vector<float> first = session.Run(&request, f.Candidates(), f.n);
  CHECK(internal.request_part_updates() == 1);
  for (int scroll = 0; scroll < 3; ++scroll) CHECK(session.Run(&request, f.Candidates(), f.n) == first);
  CHECK(internal.request_part_updates() == 1);
  request.Set(f.Request());  // the same values, set again: recomputed once, same bits
  CHECK(session.Run(&request, f.Candidates(), f.n) == first);
  CHECK(internal.request_part_updates() == 2);
  // Another request on the same session: different outputs, then back.
  ple::Request other(f.model);
  Fixture g;
  g.user_id = {8};
  other.Set(g.Request());
  CHECK(session.Run(&other, f.Candidates(), f.n) != first);
  CHECK(session.Run(&request, f.Candidates(), f.n) == first);
  CHECK(internal.request_part_updates() == 4);
}

TEST_CASE("features: a candidate's outputs and score do not depend on its batch", "[features]") {
  Fixture f;
  for (ple_kernel_path path : ple::test::KernelPaths()) {
    INFO("kernel path " << ple_kernel_path_name(path));
    ple::SessionOptions options;
    options.kernel_path = path;
    ple::Session session(f.model, options);
    const auto [outputs, scores] = Score(f, f.model, session);
    for (size_t c = 0; c < f.n; ++c) {
      Fixture one;
      one.n = 1;
      one.video_id = {f.video_id[c]};
      one.category = {f.category[c]};
      one.quality = std::vector<float>(f.quality.begin() + 3 * c, f.quality.begin() + 3 * c + 3);
      one.video_len = {f.video_len[c]};
      const auto [o, s] = Score(one, f.model, session);
      CHECK(std::memcmp(o.data(), outputs.data() + 3 * c, 3 * sizeof(float)) == 0);
      CHECK(std::memcmp(s.data(), scores.data() + c, sizeof(float)) == 0);
    }
  }
}

TEST_CASE("features: out-of-vocabulary ids follow each feature's policy", "[features]") {
  Fixture f;
  ple::Session session(f.model);
  auto outputs_for = [&](int64_t video, int64_t category) {
    Fixture one;
    one.n = 1;
    one.video_id = {video};
    one.category = {category};
    one.quality = {0.25f, 0.25f, 0.25f};
    one.video_len = {10};
    return Score(one, f.model, session).first;
  };
  // hash: the floor modulo of the table's 80 rows.
  CHECK(outputs_for(-1, 1) == outputs_for(79, 1));
  CHECK(outputs_for(80, 1) == outputs_for(0, 1));
  CHECK(outputs_for(1000, 1) == outputs_for(1000 % 80, 1));
  CHECK(outputs_for(-161, 1) == outputs_for(79, 1));
  // oov_row 0: every id outside [0, 12) reads row 0.
  CHECK(outputs_for(5, 12) == outputs_for(5, 0));
  CHECK(outputs_for(5, -3) == outputs_for(5, 0));
  CHECK(outputs_for(5, 1) != outputs_for(5, 0));
  // error: the request's user_id.
  ple::Request request(f.model);
  f.user_id = {50};
  CHECK_THAT(SetError(request, f.Request()),
             Catch::Contains("feature 'user_id': id 50") && Catch::Contains("[0, 50)") &&
                 Catch::Contains("oov policy: error"));
  f.user_id = {-1};
  CHECK_THAT(SetError(request, f.Request()), Catch::Contains("id -1"));
  // A request that failed to set cannot be used.
  CHECK_THAT(RunError(session, &request, f.Candidates(), f.n), Catch::Contains("has not been set"));
}

TEST_CASE("features: sequences skip padding, pool empty to zeros, and stop at max_length", "[features]") {
  Fixture f;
  ple::Session session(f.model);
  const auto base = Score(f, f.model, session).first;
  Fixture without_padding;
  without_padding.history = {3, 17, 5};
  without_padding.history_lengths = {3};
  CHECK(Score(without_padding, f.model, session).first == base);
  Fixture all_padding, empty;
  all_padding.history = {0, 0, 0};
  all_padding.history_lengths = {3};
  empty.history = {};
  empty.history_lengths = {0};
  CHECK(Score(all_padding, f.model, session).first == Score(empty, f.model, session).first);
  CHECK(Score(empty, f.model, session).first != base);
  // Padded to max_length without lengths, as a framework's [N, L] array.
  Fixture padded;
  padded.history = {3, 17, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  {
    ple::Request request(f.model);
    std::vector<FeatureValues> values = padded.Request();
    values[1].lengths = nullptr;
    request.Set(values);
    CHECK(session.Run(&request, f.Candidates(), f.n) == base);
  }
  Fixture too_long;
  too_long.history = std::vector<int64_t>(13, 4);
  too_long.history_lengths = {13};
  ple::Request request(f.model);
  CHECK_THAT(SetError(request, too_long.Request()),
             Catch::Contains("'history'") && Catch::Contains("13 ids, max_length is 12"));
  Fixture short_ids;
  short_ids.history_lengths = {5};  // claims more ids than given
  CHECK_THAT(SetError(request, short_ids.Request()), Catch::Contains("needs 5 ids") && Catch::Contains("found 4"));
}

TEST_CASE("features: NaN dense values are an error or replaced, per feature", "[features]") {
  Fixture f;
  ple::Session session(f.model);
  Fixture replaced, explicit_value;
  replaced.quality[4] = std::nanf("");
  replaced.quality[8] = INFINITY;
  explicit_value.quality[4] = 0.5f;
  explicit_value.quality[8] = 0.5f;
  CHECK(Score(replaced, f.model, session).first == Score(explicit_value, f.model, session).first);
  ple::Request request(f.model);
  f.age = {std::nanf("")};
  CHECK_THAT(SetError(request, f.Request()), Catch::Contains("feature 'age': value 0") && Catch::Contains("NaN") &&
                                                 Catch::Contains("nan policy: error"));
}

TEST_CASE("features: missing, unknown, misplaced, duplicated or mistyped values are named", "[features]") {
  Fixture f;
  ple::Session session(f.model);
  ple::Request request(f.model);
  request.Set(f.Request());
  auto without = [&](const std::string& name) {
    std::vector<FeatureValues> values;
    for (const auto& v : f.Candidates()) {
      if (v.name != name) values.push_back(v);
    }
    return values;
  };
  CHECK_THAT(RunError(session, &request, without("category"), f.n), Catch::Contains("feature 'category' is missing"));
  auto candidates = f.Candidates();
  candidates.push_back(FeatureValues::Dense("colour", f.video_len));
  CHECK_THAT(RunError(session, &request, candidates, f.n), Catch::Contains("'colour' is not a feature or an extra"));
  candidates = f.Candidates();
  candidates.push_back(FeatureValues::Dense("age", f.video_len));
  CHECK_THAT(RunError(session, &request, candidates, f.n),
             Catch::Contains("'age' is a request-scope feature") && Catch::Contains("ple_request_set"));
  candidates = f.Candidates();
  candidates.push_back(candidates[0]);
  CHECK_THAT(RunError(session, &request, candidates, f.n), Catch::Contains("'video_id' is given twice"));
  candidates = f.Candidates();
  candidates[2] = FeatureValues::Ids("quality", f.video_id);  // ids for a dense feature
  CHECK_THAT(RunError(session, &request, candidates, f.n),
             Catch::Contains("dense feature 'quality' needs 18 values") && Catch::Contains("found 0"));
  candidates = f.Candidates();
  candidates[0] = FeatureValues::Dense("video_id", f.video_len);  // floats for a sparse feature
  CHECK_THAT(RunError(session, &request, candidates, f.n), Catch::Contains("sparse feature 'video_id' needs 6 ids"));
  CHECK_THAT(RunError(session, &request, f.Candidates(), 5), Catch::Contains("needs 5 ids, found 6"));
  CHECK_THAT(RunError(session, nullptr, f.Candidates(), f.n), Catch::Contains("a request is needed"));
  CHECK_THAT(SetError(request, {f.Request()[0], f.Request()[1]}), Catch::Contains("feature 'age' is missing"));
  CHECK_THAT(SetError(request, f.Candidates()), Catch::Contains("'video_id' is a candidate-scope feature"));
  // A request of another model.
  const auto other_bytes = ple::test::ConvertBundle("features_mixed").bytes;
  ple::Model other = ple::Model::OpenBuffer(other_bytes.data(), other_bytes.size());
  ple::Request foreign(other);
  foreign.Set(f.Request());
  CHECK_THAT(RunError(session, &foreign, f.Candidates(), f.n), Catch::Contains("created for another model"));
}

TEST_CASE("features: the ranking score follows the model's config and can be overridden", "[features]") {
  Fixture f;
  ple::Session session(f.model);
  ple::Request request(f.model);
  request.Set(f.Request());
  std::vector<float> scores;
  const std::vector<float> outputs = session.Run(&request, f.Candidates(), f.n, &scores);
  for (size_t c = 0; c < f.n; ++c) {  // click^1 * like^0.5 * max(watch, 0)^1.5 * log1p(video_len)
    const double expected = outputs[3 * c] * std::sqrt(static_cast<double>(outputs[3 * c + 1])) *
                            std::pow(std::max(0.0, static_cast<double>(outputs[3 * c + 2])), 1.5) *
                            std::log1p(static_cast<double>(f.video_len[c]));
    CHECK(scores[c] == Approx(expected).epsilon(1e-5).margin(1e-7));
  }
  // The score needs its extra.
  auto without_len = f.Candidates();
  without_len.pop_back();
  CHECK_THAT(RunError(session, &request, without_len, f.n, /*scores=*/true),
             Catch::Contains("the score reads 'video_len'"));
  CHECK(RunError(session, &request, without_len, f.n, /*scores=*/false).empty());
  // Override: click only, sigmoid of video_len.
  session.SetScore({1.0f, 0.0f, 0.0f}, PLE_SCORE_SIGMOID, "video_len", 0.0f, 0.1f, -2.0f);
  session.Run(&request, f.Candidates(), f.n, &scores);
  for (size_t c = 0; c < f.n; ++c) {
    CHECK(scores[c] == Approx(outputs[3 * c] / (1.0 + std::exp(-(0.1 * f.video_len[c] - 2.0)))).epsilon(1e-5));
  }
  // The score's input must be finite (an extra has no NaN policy).
  Fixture nan_len;
  nan_len.video_len[2] = std::nanf("");
  CHECK_THAT(RunError(session, &request, nan_len.Candidates(), f.n, /*scores=*/true),
             Catch::Contains("extra 'video_len': the score's input of candidate 2 is NaN"));
  CHECK_THROWS_WITH(session.SetScore({1.0f, 0.0f}), Catch::Contains("3 exponents expected"));
  CHECK_THROWS_WITH(session.SetScore({1.0f, 0.0f, NAN}), Catch::Contains("'watch' is not finite"));
  CHECK_THROWS_WITH(session.SetScore({1.0f, 0.0f, 0.0f}, PLE_SCORE_LOG1P, "category"),
                    Catch::Contains("not an extra or a candidate-scope dense feature of width 1"));
  CHECK_THROWS_WITH(session.SetScore({1.0f, 0.0f, 0.0f}, PLE_SCORE_NONE, "", -1.0f),
                    Catch::Contains("regression_floor"));
}

TEST_CASE("ranking: top-K is best first, ties by index, NaN last", "[features]") {
  const std::vector<float> scores = {0.5f, NAN, 0.9f, 0.5f, -1.0f, 0.9f, INFINITY};
  CHECK(ple::TopK(scores, 7) == std::vector<uint32_t>{6, 2, 5, 0, 3, 4, 1});
  CHECK(ple::TopK(scores, 3) == std::vector<uint32_t>{6, 2, 5});
  CHECK(ple::TopK(scores, 100).size() == 7);
  CHECK(ple::TopK({}, 3).empty());
  uint32_t out[2];
  CHECK(ple_rank_top_k(nullptr, 3, 2, out) == PLE_ERROR_INVALID_ARGUMENT);
}
