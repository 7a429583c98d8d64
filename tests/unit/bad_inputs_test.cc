// Bad inputs with a defined outcome (docs/hardening.md, the table): the ones no other test
// file covers. Each answer is a status and a message, never a crash or a silent NaN.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "ple/ple.h"
#include "test_util.h"

using ple::test::AlignedBuffer;

namespace {

struct Opened {
  std::vector<uint8_t> bytes;
  ple_model* model = nullptr;
  ple_session* session = nullptr;
  explicit Opened(const std::string& bundle, const char* precision = "f32", uint32_t max_batch = 4)
      : bytes(ple::test::ConvertBundle(bundle, {}, ple::convert::PrecisionPlan::ForName(precision)).bytes) {
    REQUIRE(ple_model_open_buffer_copy(bytes.data(), bytes.size(), &model) == PLE_OK);
    ple_session_options options;
    ple_session_options_init(&options);
    options.max_batch = max_batch;
    REQUIRE(ple_session_create(model, &options, &session) == PLE_OK);
  }
  ~Opened() {
    ple_session_close(&session);
    ple_model_close(&model);
  }
};

}  // namespace

TEST_CASE("bad inputs: NaN and infinite dense values in float rows fail the run by name", "[bad_inputs]") {
  for (const char* precision : {"f32", "int8"}) {
    Opened m("mmoe", precision);
    const size_t width = ple_model_row_width(m.model), tasks = ple_model_num_tasks(m.model);
    for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
      INFO(precision << ", value " << bad);
      std::vector<float> rows(2 * width, 0.25f), outputs(2 * tasks);
      rows[width + 3] = bad;  // candidate 1
      CHECK(ple_session_run(m.session, rows.data(), rows.size(), 2, outputs.data(), outputs.size()) ==
            PLE_ERROR_INVALID_ARGUMENT);
      CHECK_THAT(ple_last_error(), Catch::Contains("nan policy: error"));
    }
  }
}

TEST_CASE("bad inputs: finite values too large for float32 inside the network fail the run", "[bad_inputs]") {
  for (const char* precision : {"f32", "f16", "int8"}) {
    INFO(precision);
    Opened m("mmoe", precision);
    const size_t width = ple_model_row_width(m.model), tasks = ple_model_num_tasks(m.model);
    std::vector<float> rows(width, 3.0e38f), outputs(tasks);
    const ple_status status = ple_session_run(m.session, rows.data(), rows.size(), 1, outputs.data(), outputs.size());
    if (status == PLE_OK) {  // a ReLU may clamp what overflowed: then every output is finite
      for (float v : outputs) CHECK(std::isfinite(v));
    } else {
      CHECK(status == PLE_ERROR_INVALID_ARGUMENT);
      CHECK_THAT(ple_last_error(), Catch::Contains("not finite") || Catch::Contains("out of range"));
    }
  }
}

TEST_CASE("bad inputs: batch 0 does nothing, a batch above the prepared maximum is refused", "[bad_inputs]") {
  Opened m("features_mixed", "f32", 4);
  std::vector<float> outputs(8 * ple_model_num_tasks(m.model));
  CHECK(ple::test::RunWithValidInputs(m.model, m.session, 0, outputs.data()) == PLE_OK);
  CHECK(ple::test::RunWithValidInputs(m.model, m.session, 4, outputs.data()) == PLE_OK);
  CHECK(ple::test::RunWithValidInputs(m.model, m.session, 5, outputs.data()) == PLE_ERROR_BATCH_TOO_LARGE);
  CHECK_THAT(ple_last_error(), Catch::Contains("5 candidates") && Catch::Contains("at most 4"));
}
