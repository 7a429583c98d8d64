// Values the runtime computes with, as a hostile file may store them (docs/hardening.md, "Values
// read from the file"): each is refused at load or gives the same run on every kernel path,
// never undefined behaviour (the ASan+UBSan build runs these too).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "ple/ple.h"
#include "ple_model_generated.h"
#include "quantize.h"
#include "test_util.h"

using ple::test::AlignedBuffer;

namespace {

using Opened = ple::test::OpenResult;

Opened Open(const std::vector<uint8_t>& bytes) {
  Opened result = ple::test::OpenBytes(bytes);
  REQUIRE(result.handle_consistent);
  return result;
}

// mmoe with every layer int8: its first groups are split at the request column, so they carry
// request and candidate sums.
std::vector<uint8_t> AllInt8Mmoe() {
  return ple::test::ConvertBundle("mmoe", {}, ple::convert::PrecisionPlan::Parse("int8,gates=int8,heads=int8")).bytes;
}

ple::fb::PackedGroup* MutableGroup(std::vector<uint8_t>& bytes, uint32_t index) {
  return ple::fb::GetMutableModel(bytes.data())->mutable_packed_groups()->GetMutableObject(index);
}

// Inputs of K = 4 * blocks int8 weights: the range a channel sum of the part may take.
int64_t Lowest(uint32_t blocks) { return -128 * int64_t{blocks} * 4; }
int64_t Highest(uint32_t blocks) { return 127 * int64_t{blocks} * 4; }

struct Run {
  ple_status status;
  std::vector<float> outputs;
};

// All-negative inputs: every row of the first layer quantizes with zero point 255, the
// largest zero_point * sum the epilogue can meet.
Run RunOnPath(const std::vector<uint8_t>& bytes, ple_kernel_path path) {
  AlignedBuffer buffer(bytes);
  ple_model* model = nullptr;
  REQUIRE(ple_model_open_buffer(buffer.data(), buffer.size(), &model) == PLE_OK);
  ple_session_options options;
  ple_session_options_init(&options);
  options.kernel_path = path;
  options.max_batch = 9;
  ple_session* session = nullptr;
  REQUIRE(ple_session_create(model, &options, &session) == PLE_OK);
  const size_t rows = 9, width = ple_model_row_width(model), tasks = ple_model_num_tasks(model);
  std::vector<float> inputs(rows * width);
  for (size_t i = 0; i < inputs.size(); ++i) inputs[i] = -0.5f - 0.01f * static_cast<float>(i % 37);
  Run run{PLE_OK, std::vector<float>(rows * tasks)};
  run.status = ple_session_run(session, inputs.data(), inputs.size(), rows, run.outputs.data(), run.outputs.size());
  ple_session_close(&session);
  ple_model_close(&model);
  return run;
}

}  // namespace

TEST_CASE("hostile values: the fuzzer's wsum-overflow file is refused at load, naming the channel sum", "[loader][hostile]") {
  // A mutated int8 conversion of features_f16_sum whose channel sum made zero_point * sum
  // overflow int32 in the scalar int8 kernel (UBSan), found by a soak of fuzz_model_bytes.
  const auto bytes = ple::test::ReadFileBytes(
      ple::test::SourcePath("tests/fuzz/regressions/fuzz_model_bytes/wsum-overflow.ple"));
  REQUIRE(bytes.size() == 14728);
  const Opened opened = Open(bytes);
  CHECK(opened.status == PLE_ERROR_INVALID_MODEL);
  CHECK_THAT(opened.message, Catch::Contains("channel sum") && Catch::Contains("outside") &&
                                 Catch::Contains("int8 weights"));
}

TEST_CASE("hostile values: int8 channel sums at the range of their weights run without UB and alike on every path when true, one beyond is refused",
          "[loader][hostile]") {
  const std::vector<uint8_t> original = AllInt8Mmoe();
  const auto* groups = ple::fb::GetModel(original.data())->packed_groups();
  REQUIRE(groups != nullptr);
  uint32_t split = groups->size();
  for (uint32_t i = 0; i < groups->size(); ++i) {
    if (groups->Get(i)->request_sums() != nullptr) split = i;
  }
  REQUIRE(split < groups->size());  // the test needs a group with request sums
  const uint32_t in = groups->Get(split)->in(), request = groups->Get(split)->request_columns();
  const uint32_t request_blocks = (request + 3) / 4, candidate_blocks = (in - request + 3) / 4;

  // Sums at the bound that agree with their weights (every weight byte 127, or every one -128,
  // pad positions included): the extreme a consistent file can hold, so every path must give
  // the reference's bits. Sums at the bound that disagree with their weights (the converter's
  // weights kept): no undefined behaviour on any path (the UBSan build runs this), but no
  // agreement either, since the ARM kernels use the sum to undo their signed offset.
  for (const bool consistent : {true, false}) {
    for (const bool high : {true, false}) {
      INFO((high ? "every sum at 127 K" : "every sum at -128 K")
           << (consistent ? ", every weight at its extreme" : ", the converter's weights"));
      std::vector<uint8_t> bytes = original;
      for (uint32_t i = 0; i < groups->size(); ++i) {
        ple::fb::PackedGroup* g = MutableGroup(bytes, i);
        REQUIRE(g->dtype() == ple::fb::DType::I8);
        if (consistent) {
          auto* weights = g->mutable_weights();
          for (uint32_t b = 0; b < weights->size(); ++b) weights->Mutate(b, high ? 0x7F : 0x80);
        }
        const uint32_t rb = (g->request_columns() + 3) / 4, cb = (g->in() - g->request_columns() + 3) / 4;
        for (uint32_t n = 0; n < g->columns(); ++n) {
          g->mutable_candidate_sums()->Mutate(n, static_cast<int32_t>(high ? Highest(cb) : Lowest(cb)));
          if (g->request_sums() != nullptr) {
            g->mutable_request_sums()->Mutate(n, static_cast<int32_t>(high ? Highest(rb) : Lowest(rb)));
          }
        }
      }
      REQUIRE(Open(bytes).status == PLE_OK);
      const Run reference = RunOnPath(bytes, PLE_KERNELS_REFERENCE);
      for (ple_kernel_path path : ple::test::KernelPaths()) {
        INFO("kernel path " << ple_kernel_path_name(path));
        const Run run = RunOnPath(bytes, path);
        if (!consistent) continue;  // ran without undefined behaviour; results may differ
        CHECK(run.status == reference.status);
        if (run.status == PLE_OK && reference.status == PLE_OK) {
          CHECK(std::memcmp(run.outputs.data(), reference.outputs.data(), run.outputs.size() * sizeof(float)) == 0);
        }
      }
    }
  }

  struct Beyond {
    bool request;
    int64_t value;
  };
  for (const Beyond& b : {Beyond{false, Highest(candidate_blocks) + 1}, Beyond{false, Lowest(candidate_blocks) - 1},
                          Beyond{true, Highest(request_blocks) + 1}, Beyond{true, Lowest(request_blocks) - 1},
                          Beyond{false, std::numeric_limits<int32_t>::min()}}) {
    INFO((b.request ? "request" : "candidate") << " sum " << b.value);
    std::vector<uint8_t> bytes = original;
    ple::fb::PackedGroup* g = MutableGroup(bytes, split);
    auto* sums = b.request ? g->mutable_request_sums() : g->mutable_candidate_sums();
    sums->Mutate(5, static_cast<int32_t>(b.value));
    const Opened opened = Open(bytes);
    CHECK(opened.status == PLE_ERROR_INVALID_MODEL);
    CHECK_THAT(opened.message, Catch::Contains("packed group " + std::to_string(split + 1) +
                                               (b.request ? " request sums" : " candidate sums")) &&
                                   Catch::Contains("channel sum " + std::to_string(b.value) + " of column 5"));
  }
}

TEST_CASE("hostile values: an int8 channel scale must be a finite normal float above 0", "[loader][hostile]") {
  const std::vector<uint8_t> original = AllInt8Mmoe();
  for (const float scale : {0.0f, -0.0f, -1.0f, 1e-39f, std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    INFO("scale " << scale);
    std::vector<uint8_t> bytes = original;
    MutableGroup(bytes, 0)->mutable_scales()->Mutate(3, scale);
    const Opened opened = Open(bytes);
    CHECK(opened.status == PLE_ERROR_INVALID_MODEL);
    CHECK_THAT(opened.message, Catch::Contains("packed group 1: scale") && Catch::Contains("of column 3") &&
                                   Catch::Contains("not a finite normal float > 0"));
  }
  std::vector<uint8_t> bytes = original;
  MutableGroup(bytes, 0)->mutable_scales()->Mutate(3, std::numeric_limits<float>::min());
  CHECK(Open(bytes).status == PLE_OK);
}

TEST_CASE("hostile values: the converter never writes a scale the loader refuses", "[converter][hostile]") {
  // A column of zeros, and one whose largest weight is too small for a normal float scale.
  for (const float magnitude : {0.0f, 1e-37f, 1e-45f}) {
    INFO("largest weight " << magnitude);
    const std::vector<float> column = {magnitude, -magnitude / 2, 0.0f, magnitude / 3};
    const ple::convert::ChannelQuantization q = ple::convert::QuantizeChannel(column.data(), column.size());
    CHECK(q.scale == 1.0f);
    CHECK(q.values == std::vector<int8_t>(column.size(), 0));
  }
  const std::vector<float> column = {-2e-30f, 0.0f};
  const ple::convert::ChannelQuantization q = ple::convert::QuantizeChannel(column.data(), column.size());
  CHECK(q.scale == static_cast<float>(static_cast<double>(2e-30f) / 127.0));
  CHECK(q.values == std::vector<int8_t>{-127, 0});
}

TEST_CASE("hostile values: session sizes are computed in 64 bits, and a session beyond the address space is refused",
          "[c_api][hostile]") {
  // Sizes are products of the file's widths and max_batch: on 32-bit targets they would wrap.
  const auto bytes = ple::test::ConvertBundle("mmoe").bytes;
  AlignedBuffer buffer(bytes);
  ple_model* model = nullptr;
  REQUIRE(ple_model_open_buffer(buffer.data(), buffer.size(), &model) == PLE_OK);
  uint64_t gate_floats = 0;  // per candidate, over every gate with layers (mmoe: 2 gates of 3 experts)
  for (size_t l = 0; l < ple_model_num_levels(model); ++l) {
    for (size_t g = 0; g < ple_model_num_gates(model, l); ++g) {
      ple_gate_info info{};
      info.struct_size = sizeof info;
      REQUIRE(ple_model_get_gate(model, l, g, &info) == PLE_OK);
      gate_floats += info.num_experts;
    }
  }
  REQUIRE(gate_floats == 6);
  ple_session_options options;
  ple_session_options_init(&options);
  options.max_batch = UINT32_MAX;
  options.record_gates = 1;
  size_t with_recording = 0, without = 0;
  if (sizeof(size_t) == 8) {
    REQUIRE(ple_session_memory_bytes(model, &options, &with_recording) == PLE_OK);
    options.record_gates = 0;
    REQUIRE(ple_session_memory_bytes(model, &options, &without) == PLE_OK);
    CHECK(with_recording - without == uint64_t{UINT32_MAX} * gate_floats * sizeof(float));
  } else {
    CHECK(ple_session_memory_bytes(model, &options, &with_recording) == PLE_ERROR_OUT_OF_MEMORY);
    CHECK_THAT(ple_last_error(), Catch::Contains("beyond this platform's"));
    ple_session* session = nullptr;
    CHECK(ple_session_create(model, &options, &session) == PLE_ERROR_OUT_OF_MEMORY);
    CHECK(session == nullptr);
  }
  ple_model_close(&model);
}
