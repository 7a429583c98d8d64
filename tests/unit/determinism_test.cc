// A candidate's outputs do not depend on the batch it is scored in: scored alone, in chunks
// of odd sizes or in one batch of 1000 (crossing tile boundaries), the bytes are identical,
// on every kernel path, in float32, float16 and int8 (per-row activation quantization). Thread
// counts: threads_test.cc. (Cross-platform identity comes with later work.)
#include <catch2/catch.hpp>
#include <cstring>

#include "ple/ple.hpp"
#include "safetensors.h"
#include "test_util.h"

TEST_CASE("determinism: outputs are bit-identical whatever the batch", "[determinism]") {
  for (const std::string& precision : ple::test::Precisions()) {
  const auto bytes = ple::test::ConvertBundle("six_tasks", {}, ple::convert::PrecisionPlan::ForName(precision)).bytes;
  ple::test::AlignedBuffer buffer(bytes);
  ple::Model model = ple::Model::OpenBuffer(buffer.data(), buffer.size());
  const auto data = ple::convert::SafeTensorsFile::Read(ple::test::BundlePath("six_tasks") + "/data.safetensors");
  const std::vector<float> inputs = data.Find("inputs")->ToFloat("inputs");
  const size_t width = model.row_width(), tasks = model.tasks().size(), n = inputs.size() / width;
  REQUIRE(n == 1000);

  for (ple_kernel_path path : ple::test::KernelPaths()) {
    INFO("precision " << precision << ", kernel path " << ple_kernel_path_name(path));
    ple::SessionOptions options;
    options.max_batch = 1000;
    options.kernel_path = path;
    ple::Session session(model, options);
    std::vector<float> whole(n * tasks);
    session.Run(inputs.data(), n, whole.data());
    for (size_t chunk : {1, 3, 7, 64, 129, 500}) {
      std::vector<float> pieces(n * tasks);
      for (size_t first = 0; first < n; first += chunk) {
        const size_t count = std::min(chunk, n - first);
        session.Run(inputs.data() + first * width, count, pieces.data() + first * tasks);
      }
      INFO("chunks of " << chunk);
      CHECK(std::memcmp(pieces.data(), whole.data(), whole.size() * sizeof(float)) == 0);
    }
  }
  }
}
