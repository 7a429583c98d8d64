// The bundled example (examples/feed) gives the float64 reference's outputs, scores and
// ranking on its sample request, and the reference's per-task AUC on its held-out data.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "converter.h"
#include "ple/ple.hpp"
#include "request_io.h"
#include "test_util.h"

namespace {

struct Scored {
  std::vector<float> outputs, scores;
};

Scored ScoreBatch(ple::Session& session, const ple::Model& model, const ple::tools::RequestBatch& batch) {
  ple::Request request(model);
  const auto request_values = ple::tools::RequestValues(batch.columns);
  request.Set(request_values.data(), request_values.size());
  const auto candidates = ple::tools::CandidateValues(batch.columns, 0, batch.candidates);
  Scored s;
  s.outputs.resize(batch.candidates * model.tasks().size());
  s.scores.resize(batch.candidates);
  ple::Check(ple_session_run_features(session.get(), request.get(), candidates.data(), candidates.size(),
                                      batch.candidates, s.outputs.data(), s.outputs.size(), s.scores.data(),
                                      s.scores.size()));
  return s;
}

}  // namespace

TEST_CASE("example: outputs, scores, ranking and held-out AUC match the reference", "[conformance][example]") {
  const std::string dir = ple::test::SourcePath("examples/feed");
  const auto converted = ple::convert::ConvertNative(dir + "/config.json", dir + "/weights.safetensors");
  ple::Model model = ple::Model::OpenBuffer(converted.bytes.data(), converted.bytes.size());
  ple::Session session(model);
  std::ifstream expected_file(dir + "/expected.json");
  const nlohmann::json expected = nlohmann::json::parse(expected_file);
  const auto tasks = model.tasks();

  std::ifstream request_file(dir + "/request.jsonl");
  const auto batches = ple::tools::ReadJsonLines(request_file, model);
  REQUIRE(batches.size() == 1);
  const Scored s = ScoreBatch(session, model, batches[0]);
  REQUIRE(s.scores.size() == expected["scores"].size());
  for (size_t c = 0; c < s.scores.size(); ++c) {
    for (size_t t = 0; t < tasks.size(); ++t) {
      const double want = expected["outputs"][c][tasks[t].name];
      CHECK(std::fabs(s.outputs[c * tasks.size() + t] - want) <= std::max(1e-6, 1e-5 * std::fabs(want)));
    }
    const double want = expected["scores"][c];
    CHECK(std::fabs(s.scores[c] - want) <= std::max(1e-6, 1e-5 * std::fabs(want)));
  }
  std::vector<std::string> ranking;
  for (uint32_t c : ple::TopK(s.scores, s.scores.size())) ranking.push_back(batches[0].ids[c]);
  CHECK(ranking == expected["ranking"].get<std::vector<std::string>>());

  std::ifstream heldout_file(dir + "/heldout.jsonl");
  const auto heldout = ple::tools::ReadJsonLines(heldout_file, model);
  REQUIRE(heldout.size() == 100);
  std::vector<std::vector<double>> predictions(tasks.size()), labels(tasks.size());
  for (const auto& batch : heldout) {
    const Scored h = ScoreBatch(session, model, batch);
    for (size_t c = 0; c < batch.candidates; ++c) {
      for (size_t t = 0; t < tasks.size(); ++t) {
        if (!batch.labels[c][t]) continue;
        predictions[t].push_back(h.outputs[c * tasks.size() + t]);
        labels[t].push_back(*batch.labels[c][t]);
      }
    }
  }
  for (size_t t = 0; t < tasks.size(); ++t) {
    const double auc = ple::tools::Auc(predictions[t], labels[t]);
    INFO("task " << tasks[t].name << " AUC " << auc);
    CHECK(auc >= 0.7);  // the bar for the example
    CHECK(std::fabs(auc - expected["heldout"]["tasks"][tasks[t].name]["auc"].get<double>()) < 1e-9);
  }
}
