#include "plan.h"

#include <algorithm>

namespace ple::rt {
namespace {

constexpr uint32_t kPadFloats = 16;  // 64 bytes

uint32_t AddValue(Plan* plan, uint32_t width) {
  PlanValue value;
  value.width = width;
  value.width_padded = (width + kPadFloats - 1) / kPadFloats * kPadFloats;
  plan->values.push_back(value);
  return static_cast<uint32_t>(plan->values.size() - 1);
}

uint32_t AddMlp(Plan* plan, const Mlp& mlp, uint32_t input) {
  uint32_t current = input;
  for (const DenseLayer& layer : mlp.layers) {
    PlanStep step;
    step.kind = StepKind::kDense;
    step.input = current;
    step.output = AddValue(plan, layer.out);
    step.dense = &layer;
    if (plan->split && current == kInputValue) {
      step.split = static_cast<int32_t>(plan->split_outputs.size());
      plan->split_outputs.push_back(layer.out);
      step.partial = AddValue(plan, layer.out);
    }
    plan->steps.push_back(step);
    current = step.output;
  }
  return current;
}

// Values a step reads.
void StepInputs(const Plan& plan, const PlanStep& step, std::vector<uint32_t>* inputs) {
  inputs->clear();
  inputs->push_back(step.input);
  if (step.split >= 0) {
    inputs->push_back(kRequestRowsValue);
    inputs->push_back(step.partial);  // written and read by the step itself
  }
  if (step.kind == StepKind::kGateSum) {
    for (uint32_t i = 0; i < step.experts_count; ++i) inputs->push_back(plan.gate_experts[step.experts_begin + i]);
  }
}

bool WritesValue(const PlanStep& step) { return step.kind == StepKind::kDense || step.kind == StepKind::kGateSum; }

// Drops steps whose results no task output depends on (e.g. a shared gate whose output the
// next level never reads).
void DropDeadSteps(Plan* plan) {
  std::vector<bool> live_value(plan->values.size(), false);
  std::vector<bool> live_step(plan->steps.size(), false);
  std::vector<uint32_t> inputs;
  for (size_t i = plan->steps.size(); i-- > 0;) {
    const PlanStep& step = plan->steps[i];
    bool live = false;
    switch (step.kind) {
      case StepKind::kTaskOutput: live = true; break;
      case StepKind::kSoftmax: live = live_value[step.input]; break;
      default: live = live_value[step.output]; break;
    }
    if (!live) continue;
    live_step[i] = true;
    StepInputs(*plan, step, &inputs);
    for (uint32_t v : inputs) live_value[v] = true;
  }
  std::vector<PlanStep> kept;
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    if (live_step[i]) kept.push_back(plan->steps[i]);
  }
  plan->steps = std::move(kept);
  // Renumber the split layers that remain.
  std::vector<uint32_t> outputs;
  for (PlanStep& step : plan->steps) {
    if (step.split < 0) continue;
    step.split = static_cast<int32_t>(outputs.size());
    outputs.push_back(step.dense->out);
  }
  plan->split_outputs = std::move(outputs);
}

// Places every arena value: two values may share bytes only when their lifetimes (from the
// step that writes them to the last step that reads them) do not overlap. Greedy, largest
// first, lowest free offset.
void PlaceValues(Plan* plan) {
  const size_t count = plan->values.size();
  std::vector<int> first(count, -1), last(count, -1);
  // The input row (and the per-row request columns) are written before the first step.
  first[kInputValue] = 0;
  if (plan->split) first[kRequestRowsValue] = 0;
  std::vector<uint32_t> inputs;
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    const PlanStep& step = plan->steps[i];
    if (WritesValue(step) && first[step.output] < 0) first[step.output] = static_cast<int>(i);
    if (step.split >= 0 && first[step.partial] < 0) first[step.partial] = static_cast<int>(i);
    StepInputs(*plan, step, &inputs);
    for (uint32_t v : inputs) last[v] = static_cast<int>(i);
    if (WritesValue(step)) last[step.output] = std::max(last[step.output], static_cast<int>(i));
  }
  std::vector<uint32_t> order;
  for (uint32_t v = 0; v < count; ++v) {
    if (first[v] >= 0) order.push_back(v);
  }
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return plan->values[a].width_padded > plan->values[b].width_padded;
  });
  std::vector<uint32_t> placed;
  size_t total = 0;
  for (uint32_t v : order) {
    // Candidate offsets: 0 and the end of every placed value alive at the same time.
    std::vector<std::pair<size_t, size_t>> busy;  // [begin, end) of overlapping lifetimes
    for (uint32_t p : placed) {
      if (first[p] <= last[v] && first[v] <= last[p]) {
        busy.emplace_back(plan->values[p].arena_offset_floats,
                          plan->values[p].arena_offset_floats + plan->values[p].width_padded);
      }
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& range : busy) {
      if (offset + plan->values[v].width_padded <= range.first) break;
      offset = std::max(offset, range.second);
    }
    plan->values[v].arena_offset_floats = offset;
    total = std::max(total, offset + plan->values[v].width_padded);
    placed.push_back(v);
  }
  plan->arena_floats_per_row = total;
}

}  // namespace

Plan BuildPlan(const Model& model) {
  Plan plan;
  plan.split = model.request_first() && model.request_width() > 0 && model.request_width() < model.row_width();
  plan.request_width = plan.split ? model.request_width() : 0;
  plan.input_width = model.row_width() - plan.request_width;
  AddValue(&plan, plan.input_width);  // kInputValue
  AddValue(&plan, plan.split ? plan.request_width : 1);  // kRequestRowsValue (unused unless split)
  std::vector<uint32_t> streams(model.stream_count(), kInputValue);
  for (uint32_t l = 0; l < model.levels().size(); ++l) {
    const Level& level = model.levels()[l];
    std::vector<uint32_t> expert_values;
    for (const Expert& expert : level.experts) {
      expert_values.push_back(AddMlp(&plan, expert.mlp, streams[expert.input_stream]));
    }
    std::vector<uint32_t> next(model.stream_count(), kInputValue);
    for (uint32_t g = 0; g < level.gates.size(); ++g) {
      const Gate& gate = level.gates[g];
      if (gate.mlp.layers.empty()) {  // one expert, weight 1: the expert's value is the output
        next[gate.output_stream] = expert_values[gate.experts[0]];
        continue;
      }
      PlanStep softmax;
      softmax.kind = StepKind::kSoftmax;
      softmax.level = l;
      softmax.gate = g;
      softmax.input = AddMlp(&plan, gate.mlp, streams[gate.input_stream]);
      plan.steps.push_back(softmax);

      PlanStep sum;
      sum.kind = StepKind::kGateSum;
      sum.input = softmax.input;
      sum.experts_begin = static_cast<uint32_t>(plan.gate_experts.size());
      sum.experts_count = static_cast<uint32_t>(gate.experts.size());
      for (uint32_t e : gate.experts) plan.gate_experts.push_back(expert_values[e]);
      sum.output = AddValue(&plan, level.experts[gate.experts[0]].mlp.out());
      plan.steps.push_back(sum);
      plan.max_gate_experts = std::max(plan.max_gate_experts, sum.experts_count);
      next[gate.output_stream] = sum.output;
    }
    streams = next;
  }
  for (size_t t = 0; t < model.towers().size(); ++t) {
    const Tower& tower = model.towers()[t];
    PlanStep output;
    output.kind = StepKind::kTaskOutput;
    output.input = AddMlp(&plan, tower.mlp, streams[tower.input_stream]);
    output.task = static_cast<uint32_t>(t);
    plan.steps.push_back(output);
  }
  DropDeadSteps(&plan);
  PlaceValues(&plan);
  for (const PlanStep& step : plan.steps) plan.dense_steps += step.kind == StepKind::kDense;
  return plan;
}

}  // namespace ple::rt
