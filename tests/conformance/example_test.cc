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

namespace {

// Every held-out candidate's outputs (candidates x tasks) and the per-task labels.
struct HeldOut {
  std::vector<float> outputs;
  std::vector<std::vector<double>> predictions, labels;  // per task, labelled candidates only
};

HeldOut ScoreHeldOut(const std::vector<uint8_t>& bytes, ple_kernel_path path) {
  const std::string dir = ple::test::SourcePath("examples/feed");
  ple::Model model = ple::Model::OpenBuffer(bytes.data(), bytes.size());
  ple::SessionOptions options;
  options.kernel_path = path;
  ple::Session session(model, options);
  std::ifstream heldout_file(dir + "/heldout.jsonl");
  const auto heldout = ple::tools::ReadJsonLines(heldout_file, model);
  const size_t tasks = model.tasks().size();
  HeldOut h;
  h.predictions.resize(tasks);
  h.labels.resize(tasks);
  for (const auto& batch : heldout) {
    const Scored s = ScoreBatch(session, model, batch);
    h.outputs.insert(h.outputs.end(), s.outputs.begin(), s.outputs.end());
    for (size_t c = 0; c < batch.candidates; ++c) {
      for (size_t t = 0; t < tasks; ++t) {
        if (!batch.labels[c][t]) continue;
        h.predictions[t].push_back(s.outputs[c * tasks + t]);
        h.labels[t].push_back(*batch.labels[c][t]);
      }
    }
  }
  return h;
}

}  // namespace

TEST_CASE("example: int8 keeps every held-out AUC within 0.001 and float16 every probability within 1e-3",
          "[conformance][example]") {
  const std::string dir = ple::test::SourcePath("examples/feed");
  auto convert = [&](const char* precision) {
    return ple::convert::ConvertNative(dir + "/config.json", dir + "/weights.safetensors", {},
                                       ple::convert::PrecisionPlan::ForName(precision))
        .bytes;
  };
  const auto f32 = convert("f32"), f16 = convert("f16"), int8 = convert("int8");
  CHECK(int8.size() < f32.size() / 2);
  for (ple_kernel_path path : ple::test::KernelPaths()) {
    INFO("kernel path " << ple_kernel_path_name(path));
    const HeldOut reference = ScoreHeldOut(f32, path);
    const HeldOut half = ScoreHeldOut(f16, path);
    const HeldOut quantized = ScoreHeldOut(int8, path);
    double half_max = 0.0, int8_max = 0.0, int8_mean = 0.0;
    for (size_t i = 0; i < reference.outputs.size(); ++i) {  // every task is binary: probabilities
      half_max = std::max(half_max, std::fabs(double{half.outputs[i]} - reference.outputs[i]));
      const double e = std::fabs(double{quantized.outputs[i]} - reference.outputs[i]);
      int8_max = std::max(int8_max, e);
      int8_mean += e / static_cast<double>(reference.outputs.size());
    }
    INFO("float16 max " << half_max << "; int8 max " << int8_max << ", mean " << int8_mean);
    CHECK(half_max <= 1e-3);
    // Measured (docs/quantization.md): max 5.6e-2 on one request whose user_activity is 9
    // standard deviations out, mean 2.4e-3; the bars guard against regressions.
    CHECK(int8_max <= 8e-2);
    CHECK(int8_mean <= 3e-3);
    for (size_t t = 0; t < reference.predictions.size(); ++t) {
      const double auc32 = ple::tools::Auc(reference.predictions[t], reference.labels[t]);
      const double auc8 = ple::tools::Auc(quantized.predictions[t], quantized.labels[t]);
      const double auc16 = ple::tools::Auc(half.predictions[t], half.labels[t]);
      INFO("task " << t << ": AUC float32 " << auc32 << ", int8 " << auc8 << ", float16 " << auc16);
      CHECK(std::fabs(auc8 - auc32) <= 0.001);
      CHECK(std::fabs(auc16 - auc32) <= 0.001);
    }
  }
}
