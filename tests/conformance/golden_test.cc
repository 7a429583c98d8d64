// Every golden model file (one per schema version, tests/golden/README.md) still loads and
// gives its recorded outputs.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ple/ple.hpp"
#include "test_util.h"

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
    for (ple_kernel_path path : {PLE_KERNELS_REFERENCE, PLE_KERNELS_XNNPACK}) {
      if (path == PLE_KERNELS_XNNPACK && !PLE_TEST_HAVE_XNNPACK) continue;
      ple::Model model = ple::Model::OpenFile(entry.path().string());
      ple::SessionOptions options;
      options.kernel_path = path;
      ple::Session session(model, options);
      std::vector<float> inputs;
      for (const auto& row : expected["inputs"]) {
        for (const auto& v : row) inputs.push_back(v.get<float>());
      }
      const std::vector<float> outputs = session.Run(inputs);
      const size_t tasks = model.tasks().size();
      REQUIRE(outputs.size() == expected["outputs"].size() * tasks);
      for (size_t i = 0; i < expected["outputs"].size(); ++i) {
        for (size_t t = 0; t < tasks; ++t) {
          const double want = expected["outputs"][i][t], got = outputs[i * tasks + t];
          INFO("kernel path " << path << ", candidate " << i << ", task " << t);
          CHECK((std::fabs(got - want) <= atol || std::fabs(got - want) <= rtol * std::fabs(want)));
        }
      }
    }
    ++checked;
  }
  CHECK(checked >= 1);
}
