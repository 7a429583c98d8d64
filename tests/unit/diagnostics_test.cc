// Diagnostics (docs/diagnostics.md): the public gate-recording API and the structure it refers
// to, checked against the bundles' independent reference gate weights; the activity report's
// statistics and warnings on a model whose gates were made to collapse; the HTML's escaping.
// The report's XML, bar count, values and rendering are checked by tests/report/check_report.py
// (ctest "report:*").
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "activity_report.h"
#include "capi/c_api_internal.h"
#include "conformance.h"
#include "html_report.h"
#include "ple/ple.hpp"
#include "safetensors.h"
#include "test_util.h"

namespace {

struct BundleRun {
  ple::Model model;
  std::vector<ple::tools::FeatureColumn> columns;
  size_t candidates;
};

BundleRun LoadBundle(const std::vector<uint8_t>& bytes, const std::string& bundle) {
  ple::Model model = ple::Model::OpenBuffer(bytes.data(), bytes.size());
  ple::conformance::BundleInputs inputs = ple::conformance::ReadBundleInputs(ple::test::BundlePath(bundle), model);
  return {std::move(model), std::move(inputs.columns), inputs.candidates};
}

// Runs candidates [first, first + count) of the bundle; returns the status.
ple_status RunRows(ple::Session& session, const BundleRun& run, size_t first, size_t count) {
  ple::Request request(run.model);
  const auto request_values = ple::tools::RequestValues(run.columns);
  request.Set(request_values.data(), request_values.size());
  const auto candidates = ple::tools::CandidateValues(run.columns, first, count);
  std::vector<float> outputs(count * ple_model_num_tasks(run.model.get()));
  return ple_session_run_features(session.get(), request.get(), candidates.data(), candidates.size(), count,
                                  outputs.data(), outputs.size(), nullptr, 0);
}

std::vector<double> ReadExpected(const std::string& bundle, const std::string& name) {
  const ple::convert::SafeTensorsFile data =
      ple::convert::SafeTensorsFile::Read(ple::test::BundlePath(bundle) + "/data.safetensors");
  const ple::convert::SafeTensor* tensor = data.Find(name);
  REQUIRE(tensor != nullptr);
  const std::vector<float> values = tensor->ToFloat(name);
  return std::vector<double>(values.begin(), values.end());
}

// The bundle converted as ple-conformance does (its importer), at `precision`.
std::vector<uint8_t> Convert(const std::string& bundle, const std::string& precision = "f32") {
  ple::conformance::BundleRunOptions options;
  options.precision = ple::convert::PrecisionPlan::ForName(precision);
  return ple::conformance::ConvertBundleModel(ple::test::BundlePath(bundle), options);
}

}  // namespace

TEST_CASE("diagnostics: the model's structure through the C API", "[diagnostics]") {
  const std::vector<uint8_t> bytes = Convert("rechub_ple");
  ple::Model model = ple::Model::OpenBuffer(bytes.data(), bytes.size());
  const auto levels = model.levels();
  REQUIRE(levels.size() == 2);
  // torch-rechub PLE, 2 tasks, 1 specific expert each and 2 shared; experts [37 -> 16].
  REQUIRE(levels[0].experts.size() == 4);
  CHECK(levels[0].experts[0].input_stream == 0);  // task click's own expert (at level 1 every stream is the input)
  CHECK(levels[0].experts[2].input_stream == 2);  // a shared expert
  CHECK(levels[0].experts[0].input_width == 37);
  CHECK(levels[0].experts[0].output_width == 16);
  CHECK(levels[0].experts[0].num_layers == 1);
  CHECK(levels[0].experts[0].parameters == 37 * 16 + 16);
  REQUIRE(levels[0].gates.size() == 3);
  CHECK(levels[0].gates[0].output_stream == 0);
  CHECK(levels[0].gates[0].experts == std::vector<uint32_t>{0, 2, 3});
  CHECK(levels[0].gates[2].output_stream == 2);  // the shared gate weighs all four
  CHECK(levels[0].gates[2].experts == std::vector<uint32_t>{0, 1, 2, 3});
  CHECK(levels[0].gates[2].parameters == 37 * 4 + 4);
  CHECK(levels[1].gates.size() == 2);
  CHECK(levels[1].experts[1].input_stream == 1);  // task watch_time's expert reads its stream

  ple_gate_info info{};
  info.struct_size = sizeof(info) - 1;
  CHECK(ple_model_get_gate(model.get(), 0, 0, &info) == PLE_ERROR_INVALID_ARGUMENT);
  info.struct_size = sizeof(info);
  CHECK(ple_model_get_gate(model.get(), 2, 0, &info) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK(ple_model_get_gate(model.get(), 0, 3, &info) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK(ple_model_get_gate(nullptr, 0, 0, &info) == PLE_ERROR_INVALID_ARGUMENT);
  ple_expert_info expert{};
  expert.struct_size = sizeof(expert);
  CHECK(ple_model_get_expert(model.get(), 0, 4, &expert) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK(ple_model_num_experts(model.get(), 2) == 0);
  CHECK(ple_model_num_gates(nullptr, 0) == 0);
}

TEST_CASE("diagnostics: recorded gate weights match the bundle's reference on every kernel path", "[diagnostics]") {
  for (const std::string bundle : {"rechub_ple", "ple3_noshared_last", "features_mixed"}) {
    const std::vector<uint8_t> bytes = Convert(bundle);
    const BundleRun run = LoadBundle(bytes, bundle);
    const auto levels = run.model.levels();
    const size_t tasks = ple_model_num_tasks(run.model.get());
    for (ple_kernel_path path : ple::test::KernelPaths()) {
      INFO(bundle << " on " << ple_kernel_path_name(path));
      ple::SessionOptions options;
      options.max_batch = static_cast<uint32_t>(run.candidates);
      options.kernel_path = path;
      ple::Session session(run.model, options);
      size_t rows = 0;
      // Off by default: nothing recorded.
      CHECK(ple_session_get_gate_weights(session.get(), 0, 0, nullptr, 0, &rows, nullptr) == PLE_ERROR_UNSUPPORTED);
      session.SetGateRecording(true);
      CHECK(ple_session_get_gate_weights(session.get(), 0, 0, nullptr, 0, &rows, nullptr) == PLE_OK);
      CHECK(rows == 0);  // no run yet
      REQUIRE(RunRows(session, run, 0, run.candidates) == PLE_OK);
      size_t compared = 0;
      for (size_t l = 0; l < levels.size(); ++l) {
        for (size_t g = 0; g < levels[l].gates.size(); ++g) {
          const uint32_t stream = levels[l].gates[g].output_stream;
          const std::string name = "expected.levels." + std::to_string(l) +
                                   (stream == tasks ? ".shared_gate" : ".task_gates." + std::to_string(stream));
          ple::GateWeights weights;
          try {
            weights = session.GetGateWeights(l, g);
          } catch (const ple::Error& e) {
            CHECK(e.status() == PLE_ERROR_UNSUPPORTED);
            CHECK(std::string(e.what()).find("not computed") != std::string::npos);
            continue;
          }
          REQUIRE(weights.rows == run.candidates);
          REQUIRE(weights.experts == levels[l].gates[g].experts.size());
          const std::vector<double> expected = ReadExpected(bundle, name);
          REQUIRE(expected.size() == weights.weights.size());
          for (size_t r = 0; r < weights.rows; ++r) {
            double sum = 0;
            for (size_t e = 0; e < weights.experts; ++e) {
              const double got = weights.weights[r * weights.experts + e];
              sum += got;
              CHECK(std::fabs(got - expected[r * weights.experts + e]) <= 1e-5);
            }
            CHECK(std::fabs(sum - 1.0) <= 1e-5);
          }
          ++compared;
        }
      }
      CHECK(compared >= 3);

      // A candidate's weights do not depend on its batch: rows 3..9 alone give the same bytes.
      const ple::GateWeights all = session.GetGateWeights(0, 0);
      REQUIRE(RunRows(session, run, 3, 7) == PLE_OK);
      const ple::GateWeights part = session.GetGateWeights(0, 0);
      REQUIRE(part.rows == 7);
      CHECK(std::memcmp(part.weights.data(), all.weights.data() + 3 * all.experts,
                        part.weights.size() * sizeof(float)) == 0);

      // Capacity smaller than the rows: a prefix, rows still reported.
      std::vector<float> two(2, -1.0f);
      REQUIRE(ple_session_get_gate_weights(session.get(), 0, 0, two.data(), 2, &rows, nullptr) == PLE_OK);
      CHECK(rows == 7);
      CHECK(two[0] == part.weights[0]);
      CHECK(ple_session_get_gate_weights(session.get(), 0, 99, nullptr, 0, &rows, nullptr) ==
            PLE_ERROR_INVALID_ARGUMENT);
      CHECK(ple_session_get_gate_weights(session.get(), 0, 0, nullptr, 1, &rows, nullptr) ==
            PLE_ERROR_INVALID_ARGUMENT);

      // Off again: the buffers are freed and nothing is recorded.
      session.SetGateRecording(false);
      CHECK(ple::rt::InternalSession(session.get())->gate_records().empty());
      CHECK(!ple::rt::InternalSession(session.get())->gate_recording());
      CHECK(ple_session_get_gate_weights(session.get(), 0, 0, nullptr, 0, &rows, nullptr) == PLE_ERROR_UNSUPPORTED);
    }
  }
}

TEST_CASE("diagnostics: recording does not change outputs and the memory is announced per gate", "[diagnostics]") {
  const std::vector<uint8_t> bytes = Convert("six_tasks", "int8");
  const BundleRun run = LoadBundle(bytes, "six_tasks");
  ple::SessionOptions options;
  options.max_batch = static_cast<uint32_t>(run.candidates);
  ple::Session plain(run.model, options), recording(run.model, options);
  recording.SetGateRecording(true);
  size_t recorded_floats = 0;
  for (const auto& r : ple::rt::InternalSession(recording.get())->gate_records()) recorded_floats += r.weights.size();
  size_t experts_weighed = 0;
  for (const auto& level : run.model.levels()) {
    for (const auto& gate : level.gates) experts_weighed += gate.experts.size();
  }
  CHECK(recorded_floats <= experts_weighed * run.candidates);
  CHECK(recorded_floats > 0);
  // The same through the session option, with the memory announced beforehand.
  ple::SessionOptions recording_options = options;
  recording_options.record_gates = true;
  CHECK(ple::Session::MemoryBytes(run.model, recording_options) ==
        ple::Session::MemoryBytes(run.model, options) + recorded_floats * sizeof(float));
  ple::Session recording_from_start(run.model, recording_options);
  CHECK(ple::rt::InternalSession(recording_from_start.get())->gate_recording());
  auto outputs = [&](ple::Session& session) {
    ple::Request request(run.model);
    const auto request_values = ple::tools::RequestValues(run.columns);
    request.Set(request_values.data(), request_values.size());
    const auto candidates = ple::tools::CandidateValues(run.columns, 0, run.candidates);
    std::vector<float> out(run.candidates * ple_model_num_tasks(run.model.get()));
    ple::Check(ple_session_run_features(session.get(), request.get(), candidates.data(), candidates.size(),
                                        run.candidates, out.data(), out.size(), nullptr, 0));
    return out;
  };
  const std::vector<float> a = outputs(plain), b = outputs(recording);
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

TEST_CASE("diagnostics: collapsed gates and an unused expert are reported", "[diagnostics]") {
  // The mmoe bundle (2 tasks, 3 shared experts) with its gates' biases pushed to extremes:
  // task 0's gate puts everything on expert 0, task 1's on expert 1; expert 2 gets nothing.
  const std::string temp = ple::test::MakeTempDir();
  REQUIRE(!temp.empty());
  const std::string bundle = ple::test::BundlePath("mmoe");
  const ple::convert::SafeTensorsFile weights = ple::convert::SafeTensorsFile::Read(bundle + "/weights.safetensors");
  std::map<std::string, ple::convert::SafeTensorToWrite> tensors;
  for (const auto& entry : weights.tensors()) {
    std::vector<float> values = entry.second.ToFloat(entry.first);
    std::vector<uint64_t> shape(entry.second.shape.begin(), entry.second.shape.end());
    if (entry.first == "levels.0.task_gates.0.logits.linear.bias") values = {60.0f, 0.0f, -60.0f};
    if (entry.first == "levels.0.task_gates.1.logits.linear.bias") values = {0.0f, 60.0f, -60.0f};
    tensors[entry.first] = ple::convert::MakeF32Tensor(shape, values);
  }
  std::filesystem::copy(bundle, temp + "/mmoe", std::filesystem::copy_options::recursive);
  ple::test::WriteFileBytes(temp + "/mmoe/weights.safetensors", ple::convert::WriteSafeTensors(tensors));
  const auto converted = ple::convert::ConvertNative(temp + "/mmoe/config.json", temp + "/mmoe/weights.safetensors");
  ple::test::WriteFileBytes(temp + "/collapsed.ple", converted.bytes);

  const ple::tools::ActivityReport report = ple::tools::BuildActivityReport(temp + "/collapsed.ple", temp + "/mmoe");
  REQUIRE(report.gates.size() == 2);
  CHECK(report.candidates == 64);
  CHECK(report.gates[0].share_collapsed > 0.9);
  CHECK(report.gates[0].experts[0].mean > 0.99);
  CHECK(report.gates[1].experts[1].mean > 0.99);
  CHECK(report.gates[0].experts[2].max < 0.01);
  CHECK(report.gates[0].experts[0].p10 <= report.gates[0].experts[0].p90);
  REQUIRE(report.warnings.size() == 3);
  CHECK(report.warnings[0].find("level 1 gate -> task") == 0);
  CHECK(report.warnings[0].find("collapses") != std::string::npos);
  CHECK(report.warnings[0].find("expert 0 (shared)") != std::string::npos);
  CHECK(report.warnings[1].find("expert 1 (shared)") != std::string::npos);
  CHECK(report.warnings[2].find("level 1 expert 2 (shared) is unused") == 0);
  const std::string html = ple::tools::RenderHtmlReport(report);
  size_t listed = 0;
  for (size_t at = html.find("<li class=\"warning\">"); at != std::string::npos;
       at = html.find("<li class=\"warning\">", at + 1)) {
    ++listed;
  }
  CHECK(listed == 3);

  // The unmodified model: its gates spread their weight, no warnings.
  ple::test::WriteFileBytes(temp + "/plain.ple", Convert("mmoe"));
  const ple::tools::ActivityReport healthy = ple::tools::BuildActivityReport(temp + "/plain.ple", bundle);
  CHECK(healthy.warnings.empty());
  std::filesystem::remove_all(temp);
}

TEST_CASE("diagnostics: the quantization view compares every computed layer", "[diagnostics]") {
  const std::string temp = ple::test::MakeTempDir();
  REQUIRE(!temp.empty());
  ple::test::WriteFileBytes(temp + "/f32.ple", Convert("rechub_ple"));
  ple::test::WriteFileBytes(temp + "/int8.ple", Convert("rechub_ple", "int8"));
  ple::tools::ActivityOptions options;
  options.float_model_path = temp + "/f32.ple";
  const ple::tools::ActivityReport report =
      ple::tools::BuildActivityReport(temp + "/int8.ple", ple::test::BundlePath("rechub_ple"), options);
  REQUIRE(report.has_quantization);
  const auto& view = report.quantization;
  CHECK(view.layers.size() == 17);  // 8 experts, 5 gates, 2 towers of 2 layers
  CHECK(view.gates.size() == 5);
  CHECK(view.tasks.size() == 2);
  for (const auto& layer : view.layers) {
    INFO(layer.name);
    CHECK(layer.values > 0);
    CHECK(layer.relative_l2 > 0.0);   // int8 or f16 weights: never exact
    CHECK(layer.relative_l2 < 0.05);  // the int8 bar of docs/quantization.md
    CHECK(layer.cosine > 0.99);
  }
  // The float model against itself: every error is exactly 0.
  options.float_model_path = temp + "/f32.ple";
  const ple::tools::ActivityReport same =
      ple::tools::BuildActivityReport(temp + "/f32.ple", ple::test::BundlePath("rechub_ple"), options);
  for (const auto& layer : same.quantization.layers) CHECK(layer.relative_l2 == 0.0);
  for (const auto& task : same.quantization.tasks) CHECK(task.max_abs == 0.0);
  // A model of another structure is refused.
  ple::test::WriteFileBytes(temp + "/other.ple", Convert("mmoe"));
  options.float_model_path = temp + "/other.ple";
  CHECK_THROWS_WITH(ple::tools::BuildActivityReport(temp + "/int8.ple", ple::test::BundlePath("rechub_ple"), options),
                    Catch::Contains("not a conversion of the same model"));
  std::filesystem::remove_all(temp);
}

TEST_CASE("diagnostics: report text is escaped for XML", "[diagnostics]") {
  CHECK(ple::tools::EscapeXml("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  CHECK(ple::tools::EscapeXml(std::string("x\x01y")) == "x?y");
}

TEST_CASE("diagnostics: a gate without layers weighs its one expert by 1", "[diagnostics]") {
  // shared_bottom: one shared expert, each task's gate has no layers (the plan reads the expert).
  const std::vector<uint8_t> bytes = Convert("shared_bottom");
  const BundleRun run = LoadBundle(bytes, "shared_bottom");
  ple::SessionOptions options;
  options.max_batch = static_cast<uint32_t>(run.candidates);
  ple::Session session(run.model, options);
  session.SetGateRecording(true);
  REQUIRE(RunRows(session, run, 0, run.candidates) == PLE_OK);
  const auto levels = run.model.levels();
  REQUIRE(levels[0].gates.size() == 3);
  CHECK(levels[0].gates[0].num_layers == 0);
  for (size_t g = 0; g < 3; ++g) {
    const ple::GateWeights weights = session.GetGateWeights(0, g);
    CHECK(weights.rows == run.candidates);
    CHECK(weights.experts == 1);
    CHECK(weights.weights == std::vector<float>(run.candidates, 1.0f));
  }
}
