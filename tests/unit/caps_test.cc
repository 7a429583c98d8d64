// Resource caps (docs/hardening.md, "Caps"): a file exactly at each structural cap loads, one
// just beyond it is refused by name; what loading allocates is bounded by the file's size.
#include <catch2/catch.hpp>
#include <initializer_list>
#include <string>
#include <vector>

#include "model_writer.h"
#include "ple/ple.h"
#include "ple_model_generated.h"
#include "ple_schema_version.h"
#include "test_util.h"

using namespace ple::convert;
using ple::test::AlignedBuffer;
namespace fb = ple::fb;

namespace {

IrDense Linear(uint32_t in, uint32_t out, fb::Activation activation = fb::Activation::Identity) {
  IrDense d;
  d.in = in;
  d.out = out;
  d.weight.assign(size_t{in} * out, 0.01f);
  d.bias.assign(out, 0.0f);
  d.activation = activation;
  return d;
}

// An MMoE-like stack: one dense input of `width` floats, `levels` levels of `experts` shared
// experts (each an MLP of `layers` Linear layers, the first [in -> expert_width]), one gate per
// task (and a shared gate below the last level), `tasks` towers [expert_width -> 1].
struct Shape {
  uint32_t width = 4, levels = 1, experts = 2, tasks = 1, layers = 1, expert_width = 2;
};

IrModel Synthetic(const Shape& s) {
  IrModel ir;
  ir.name = "caps";
  FeatureConfig x;
  x.name = "x";
  x.width = s.width;
  ir.features.push_back(x);
  for (uint32_t t = 0; t < s.tasks; ++t) ir.tasks.push_back({"task" + std::to_string(t), fb::TaskType::Binary});
  uint32_t in = s.width;
  for (uint32_t l = 0; l < s.levels; ++l) {
    IrLevel level;
    for (uint32_t e = 0; e < s.experts; ++e) {
      IrExpert expert;
      expert.input_stream = s.tasks;  // the shared stream (level 1: the input row)
      expert.mlp.layers.push_back(Linear(in, s.expert_width, fb::Activation::Relu));
      for (uint32_t k = 1; k < s.layers; ++k) expert.mlp.layers.push_back(Linear(s.expert_width, s.expert_width));
      level.experts.push_back(expert);
    }
    const bool last = l + 1 == s.levels;
    for (uint32_t g = 0; g < s.tasks + (last ? 0 : 1); ++g) {
      IrGate gate;
      gate.input_stream = s.tasks;
      gate.output_stream = g;  // g == tasks: the shared stream
      for (uint32_t e = 0; e < s.experts; ++e) gate.experts.push_back(e);
      if (s.experts > 1) gate.mlp.layers.push_back(Linear(in, s.experts));
      level.gates.push_back(gate);
    }
    ir.levels.push_back(level);
    in = s.expert_width;
  }
  for (uint32_t t = 0; t < s.tasks; ++t) {
    IrTower tower;
    tower.input_stream = t;
    tower.mlp.layers.push_back(Linear(s.expert_width, 1));
    ir.towers.push_back(tower);
  }
  return ir;
}

struct Loaded {
  ple_status status;
  std::string message;
};

Loaded Load(const IrModel& ir, bool run = false) {
  const std::vector<uint8_t> bytes = SerializeModel(ir, "caps test");
  AlignedBuffer buffer(bytes);
  ple_model* model = nullptr;
  Loaded result{ple_model_open_buffer(buffer.data(), buffer.size(), &model), ""};
  if (result.status != PLE_OK) {
    result.message = ple_last_error();
    return result;
  }
  if (run) {
    ple_session* session = nullptr;
    REQUIRE(ple_session_create(model, nullptr, &session) == PLE_OK);
    std::vector<float> outputs(ple_model_num_tasks(model));
    CHECK(ple::test::RunWithValidInputs(model, session, 1, outputs.data()) == PLE_OK);
    ple_session_close(&session);
  }
  ple_model_close(&model);
  return result;
}

// `shape` with `field` exactly at `cap` loads (and runs, when `run`); one beyond is refused with
// a message holding every piece of `expected`.
void CheckCap(Shape shape, uint32_t Shape::*field, uint32_t cap, bool run, std::initializer_list<const char*> expected) {
  shape.*field = cap;
  CHECK(Load(Synthetic(shape), run).status == PLE_OK);
  shape.*field = cap + 1;
  const Loaded beyond = Load(Synthetic(shape));
  CHECK(beyond.status == PLE_ERROR_INVALID_MODEL);
  for (const char* piece : expected) CHECK_THAT(beyond.message, Catch::Contains(piece));
}

}  // namespace

TEST_CASE("caps: 64 levels load, 65 are refused", "[caps]") {
  CheckCap(Shape{}, &Shape::levels, 64, /*run=*/true, {"65 levels, at most 64"});
}

TEST_CASE("caps: 256 tasks load, 257 are refused", "[caps]") {
  CheckCap(Shape{}, &Shape::tasks, 256, /*run=*/true, {"257 tasks, at most 256"});
}

TEST_CASE("caps: 4096 experts in a level load, 4097 are refused", "[caps]") {
  Shape s;
  s.expert_width = 1;
  CheckCap(s, &Shape::experts, 4096, /*run=*/true, {"4097 experts", "at most 4096"});
}

TEST_CASE("caps: 64 layers in an MLP load, 65 are refused", "[caps]") {
  CheckCap(Shape{}, &Shape::layers, 64, /*run=*/true, {"65 layers", "at most 64"});
}

TEST_CASE("caps: an input row and a layer of 2^20 floats load, one more is refused", "[caps]") {
  Shape s;
  s.experts = 1;
  s.expert_width = 1;
  CheckCap(s, &Shape::width, 1u << 20, /*run=*/false, {"1048577", "1048576"});
  s.width = 1;
  CheckCap(s, &Shape::expert_width, 1u << 20, /*run=*/false, {"1048577", "1048576"});
}

TEST_CASE("caps: an int8 layer reads at most 16384 inputs", "[caps]") {
  Shape s;
  s.width = ple::kMaxInt8Inputs;
  s.experts = 1;
  s.expert_width = 1;
  IrModel at = Synthetic(s);
  at.levels[0].experts[0].mlp.layers[0].precision = Precision::kI8;
  CHECK(Load(at, /*run=*/true).status == PLE_OK);
  s.width = ple::kMaxInt8Inputs + 1;
  IrModel beyond_ir = Synthetic(s);
  beyond_ir.levels[0].experts[0].mlp.layers[0].precision = Precision::kI8;
  CHECK_THROWS_WITH(SerializeModel(beyond_ir, "caps test"), Catch::Contains("16385") && Catch::Contains("16384"));
  // A crafted file: the group at the cap, its input count raised by one in place.
  std::vector<uint8_t> bytes = SerializeModel(at, "caps test");
  fb::Model* root = fb::GetMutableModel(bytes.data());
  bool raised = false;
  for (uint32_t g = 0; g < root->packed_groups()->size(); ++g) {
    fb::PackedGroup* group = root->mutable_packed_groups()->GetMutableObject(g);
    if (group->dtype() == fb::DType::I8) raised = group->mutate_in(ple::kMaxInt8Inputs + 1);
  }
  REQUIRE(raised);
  AlignedBuffer buffer(bytes);
  ple_model* model = nullptr;
  CHECK(ple_model_open_buffer(buffer.data(), buffer.size(), &model) == PLE_ERROR_INVALID_MODEL);
  CHECK_THAT(ple_last_error(), Catch::Contains("16385 inputs, int8 groups read at most 16384"));
}

TEST_CASE("caps: a packed group holds at most 2^24 columns", "[caps]") {
  // Crafted in place (a real group at the cap would be 64 MiB): one past the cap is refused by
  // the cap; at it, the next check (the weights' size) answers instead.
  Shape s;
  std::vector<uint8_t> bytes = SerializeModel(Synthetic(s), "caps test");
  fb::Model* root = fb::GetMutableModel(bytes.data());
  fb::PackedGroup* group = root->mutable_packed_groups()->GetMutableObject(0);
  for (uint32_t columns : {(1u << 24) + 16, 1u << 24}) {
    INFO(columns << " columns");
    REQUIRE(group->mutate_columns(columns));
    AlignedBuffer buffer(bytes);
    ple_model* model = nullptr;
    CHECK(ple_model_open_buffer(buffer.data(), buffer.size(), &model) == PLE_ERROR_INVALID_MODEL);
    const bool capped = std::string(ple_last_error()).find("at most 16777216 allowed") != std::string::npos;
    CHECK(capped == (columns > (1u << 24)));
  }
}
