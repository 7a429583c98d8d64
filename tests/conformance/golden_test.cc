// Every golden model file (one per schema version, tests/golden/README.md) still loads and
// gives its recorded outputs (and scores), on every kernel path.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ple/ple.hpp"
#include "request_io.h"
#include "test_util.h"

namespace {

bool Close(double got, double want, double rtol, double atol) {
  return std::fabs(got - want) <= atol || std::fabs(got - want) <= rtol * std::fabs(want);
}

}  // namespace

TEST_CASE("golden model files of every schema version load and compute their outputs", "[conformance][golden]") {
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(ple::test::SourcePath("tests/golden"))) {
    if (entry.path().extension() != ".ple") continue;
    INFO("golden file " << entry.path());
    std::filesystem::path sidecar = entry.path();
    sidecar.replace_extension(".json");
    std::ifstream in(sidecar);
    REQUIRE(in);
    const nlohmann::json expected = nlohmann::json::parse(in);
    const double rtol = expected["tolerance"]["rtol"], atol = expected["tolerance"]["atol"];
    for (ple_kernel_path path : ple::test::KernelPaths()) {
      INFO("kernel path " << ple_kernel_path_name(path));
      ple::Model model = ple::Model::OpenFile(entry.path().string());
      ple::SessionOptions options;
      options.kernel_path = path;
      ple::Session session(model, options);
      const size_t tasks = model.tasks().size();
      std::vector<float> outputs, scores;
      if (expected.contains("inputs")) {  // schema 1: rows of floats
        std::vector<float> inputs;
        for (const auto& row : expected["inputs"]) {
          for (const auto& v : row) inputs.push_back(v.get<float>());
        }
        outputs = session.Run(inputs);
      } else {  // a ple-run request in JSON lines
        std::string text;
        for (const auto& line : expected["jsonl"]) text += line.get<std::string>() + "\n";
        std::istringstream stream(text);
        const auto batches = ple::tools::ReadJsonLines(stream, model);
        REQUIRE(batches.size() == 1);
        ple::Request request(model);
        const auto request_values = ple::tools::RequestValues(batches[0].columns);
        request.Set(request_values.data(), request_values.size());
        const auto candidates = ple::tools::CandidateValues(batches[0].columns, 0, batches[0].candidates);
        outputs.resize(batches[0].candidates * tasks);
        scores.resize(batches[0].candidates);
        ple::Check(ple_session_run_features(session.get(), request.get(), candidates.data(), candidates.size(),
                                            batches[0].candidates, outputs.data(), outputs.size(), scores.data(),
                                            scores.size()));
      }
      REQUIRE(outputs.size() == expected["outputs"].size() * tasks);
      for (size_t i = 0; i < expected["outputs"].size(); ++i) {
        for (size_t t = 0; t < tasks; ++t) {
          INFO("candidate " << i << ", task " << t);
          CHECK(Close(outputs[i * tasks + t], expected["outputs"][i][t], rtol, atol));
        }
      }
      if (expected.contains("scores")) {
        for (size_t i = 0; i < expected["scores"].size(); ++i) {
          INFO("candidate " << i << " score");
          CHECK(Close(scores[i], expected["scores"][i], rtol, atol));
        }
      }
    }
    ++checked;
  }
  CHECK(checked >= 4);
}
