// The execution plan: the model flattened into a list of steps over values, with every
// value's place in the arena fixed. Built once per session in Prepare; Run only walks it.
//
// A value is a [rows, width] float matrix, rows <= tile_rows, densely packed (stride = width).
// Each owns `width_padded` floats per row of the arena, at `arena_offset_floats * tile_rows`;
// widths are padded to 16 floats so every value starts 64-byte aligned for any tile size.
//
// Value 0 is the input row the feature layer assembles. When the model lists its request-scope
// features first (LoadedModel::request_first), value 0 holds only the candidate-scope columns and
// each first-level group is split: its request columns make a per-request partial result
// (computed once per request context, or per row from value 1 when each row brings its own
// request values) that is added to the candidate columns' product. The same arithmetic runs
// either way, so a candidate's outputs do not depend on which.
#ifndef PLE_RUNTIME_RUN_PLAN_H_
#define PLE_RUNTIME_RUN_PLAN_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "load/model.h"

namespace ple::rt {

constexpr uint32_t kInputValue = 0;        // the assembled input row (candidate columns when split)
constexpr uint32_t kRequestRowsValue = 1;  // split, one request per row: the request columns per row

struct PlanValue {
  uint32_t width = 0;             // floats per row
  uint32_t width_padded = 0;      // width rounded up to 16 floats
  size_t arena_offset_floats = 0; // per row of tile; multiply by tile_rows for the offset
};

enum class StepKind : uint8_t {
  kGroup,       // every member of a packed group, on one input: one GEMM, each member's
                // bias (or request part) and activation applied as its tiles are written
  kGate,        // output = sum_e softmax(input)[e] * experts[e]
  kTaskOutput,  // outputs[:, task] = transform(input[:, 0])
};

// A member of a packed group step: a layer and the value it writes.
struct GroupMember {
  const DenseLayer* layer = nullptr;
  uint32_t value = 0;
};

struct PlanStep {
  StepKind kind = StepKind::kGroup;
  uint32_t input = 0;             // value id
  uint32_t output = 0;            // value id (kGate)
  const PackedGroup* group = nullptr; // kGroup: points into the LoadedModel
  uint32_t members_begin = 0;     // kGroup: range in Plan::group_members
  uint32_t members_count = 0;
  int32_t split = -1;             // kGroup reading the split input row: its index among the split steps, else -1
  uint32_t experts_begin = 0;     // kGate: range in Plan::gate_experts
  uint32_t experts_count = 0;
  uint32_t task = 0;              // kTaskOutput
  uint32_t level = 0;             // the level the step belongs to; towers and task outputs: the number of levels
  uint32_t gate = 0;              // kGate: the gate's index in Level::gates
};

struct Plan {
  std::vector<PlanValue> values;
  std::vector<PlanStep> steps;
  std::vector<uint32_t> gate_experts;   // value ids of the experts each kGate combines
  std::vector<GroupMember> group_members;  // the members of each kGroup
  size_t arena_floats_per_row = 0;      // arena bytes = this * tile_rows * sizeof(float)
  uint32_t max_gate_experts = 0;        // longest expert list of one gate
  bool split = false;                   // the first layers' input is split (see above)
  uint32_t request_width = 0;           // split: request columns
  uint32_t input_width = 0;             // width of value 0
  std::vector<uint32_t> split_outputs;  // split step k: floats of its request part (the group's columns)
  uint32_t max_group_columns = 0;       // widest kGroup
  uint32_t max_group_blocks = 0;        // most int8 4-value blocks of a kGroup's input
  uint32_t max_chained_columns = 0;     // widest int8 kGroup with a part of several input slices (0: none)
};

// Flattens the model (steps whose result nothing reads are dropped) and places every value.
Plan BuildPlan(const LoadedModel& model);

// The multiply-adds of one candidate row: every group's candidate columns (the request part of
// a split group is computed once per request) times its output columns, padding included.
double CandidateMacsPerRow(const Plan& plan);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_RUN_PLAN_H_
