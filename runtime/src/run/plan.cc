#include "run/plan.h"

#include <algorithm>
#include <map>

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

// Building state: the members of every packed group, and the value each packed layer's
// group step gives it.
struct Builder {
  Plan* plan;
  std::map<const PackedGroup*, std::vector<const DenseLayer*>> members;
  std::map<const DenseLayer*, uint32_t> packed_value;
};

uint32_t AddMlp(Builder* b, const Mlp& mlp, uint32_t input, uint32_t level) {
  Plan* plan = b->plan;
  uint32_t current = input;
  for (const DenseLayer& layer : mlp.layers) {
    auto done = b->packed_value.find(&layer);
    if (done == b->packed_value.end()) {  // the group's first member met: one step for all
      PlanStep step;
      step.kind = StepKind::kGroup;
      step.level = level;
      step.input = current;
      step.group = layer.packed;
      step.members_begin = static_cast<uint32_t>(plan->group_members.size());
      for (const DenseLayer* member : b->members[layer.packed]) {
        const uint32_t value = AddValue(plan, member->out);
        plan->group_members.push_back({member, value});
        b->packed_value[member] = value;
      }
      step.members_count = static_cast<uint32_t>(plan->group_members.size()) - step.members_begin;
      if (plan->split && current == kInputValue) {
        step.split = static_cast<int32_t>(plan->split_outputs.size());
        plan->split_outputs.push_back(layer.packed->columns);
      }
      plan->max_group_columns = std::max(plan->max_group_columns, layer.packed->columns);
      plan->max_group_blocks = std::max(plan->max_group_blocks, layer.packed->blocks);
      const PackedGroup& g = *layer.packed;
      if (g.request_slices > 1 || g.slices.size() - g.request_slices > 1) {
        plan->max_chained_columns = std::max(plan->max_chained_columns, g.columns);
      }
      plan->steps.push_back(step);
      done = b->packed_value.find(&layer);
    }
    current = done->second;
  }
  return current;
}

// Values a step reads.
void StepInputs(const Plan& plan, const PlanStep& step, std::vector<uint32_t>* inputs) {
  inputs->clear();
  inputs->push_back(step.input);
  if (step.split >= 0) inputs->push_back(kRequestRowsValue);
  if (step.kind == StepKind::kGate) {
    for (uint32_t i = 0; i < step.experts_count; ++i) inputs->push_back(plan.gate_experts[step.experts_begin + i]);
  }
}

// Values a step writes.
void StepOutputs(const Plan& plan, const PlanStep& step, std::vector<uint32_t>* outputs) {
  outputs->clear();
  if (step.kind == StepKind::kGate) outputs->push_back(step.output);
  if (step.kind == StepKind::kGroup) {
    for (uint32_t i = 0; i < step.members_count; ++i) outputs->push_back(plan.group_members[step.members_begin + i].value);
  }
}

// Drops steps whose results no task output depends on (e.g. a shared gate whose output the
// next level never reads).
void DropDeadSteps(Plan* plan) {
  std::vector<bool> live_value(plan->values.size(), false);
  std::vector<bool> live_step(plan->steps.size(), false);
  std::vector<uint32_t> inputs, outputs;
  for (size_t i = plan->steps.size(); i-- > 0;) {
    const PlanStep& step = plan->steps[i];
    bool live = false;
    switch (step.kind) {
      case StepKind::kTaskOutput: live = true; break;
      default:
        StepOutputs(*plan, step, &outputs);
        for (uint32_t v : outputs) live = live || live_value[v];
        break;
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
  // Renumber the split steps that remain.
  std::vector<uint32_t> split_outputs;
  for (PlanStep& step : plan->steps) {
    if (step.split < 0) continue;
    split_outputs.push_back(plan->split_outputs[step.split]);
    step.split = static_cast<int32_t>(split_outputs.size() - 1);
  }
  plan->split_outputs = std::move(split_outputs);
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
  std::vector<uint32_t> inputs, outputs;
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    const PlanStep& step = plan->steps[i];
    StepOutputs(*plan, step, &outputs);
    for (uint32_t v : outputs) {
      if (first[v] < 0) first[v] = static_cast<int>(i);
      last[v] = std::max(last[v], static_cast<int>(i));
    }
    StepInputs(*plan, step, &inputs);
    for (uint32_t v : inputs) last[v] = std::max(last[v], static_cast<int>(i));
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

Plan BuildPlan(const LoadedModel& model) {
  Plan plan;
  Builder builder{&plan, {}, {}};
  auto collect = [&](const Mlp& mlp) {
    for (const DenseLayer& layer : mlp.layers) builder.members[layer.packed].push_back(&layer);
  };
  for (const Level& level : model.levels()) {
    for (const Expert& expert : level.experts) collect(expert.mlp);
    for (const Gate& gate : level.gates) collect(gate.mlp);
  }
  for (const Tower& tower : model.towers()) collect(tower.mlp);
  plan.split = model.splits_first_layers();
  plan.request_width = plan.split ? model.request_width() : 0;
  plan.input_width = model.row_width() - plan.request_width;
  AddValue(&plan, plan.input_width);  // kInputValue
  AddValue(&plan, plan.split ? plan.request_width : 1);  // kRequestRowsValue (unused unless split)
  std::vector<uint32_t> streams(model.stream_count(), kInputValue);
  for (uint32_t l = 0; l < model.levels().size(); ++l) {
    const Level& level = model.levels()[l];
    std::vector<uint32_t> expert_values;
    for (const Expert& expert : level.experts) {
      expert_values.push_back(AddMlp(&builder, expert.mlp, streams[expert.input_stream], l));
    }
    std::vector<uint32_t> next(model.stream_count(), kInputValue);
    for (uint32_t g = 0; g < level.gates.size(); ++g) {
      const Gate& gate = level.gates[g];
      if (gate.mlp.layers.empty()) {  // one expert, weight 1: the expert's value is the output
        next[gate.output_stream] = expert_values[gate.experts[0]];
        continue;
      }
      PlanStep sum;
      sum.kind = StepKind::kGate;
      sum.level = l;
      sum.gate = g;
      sum.input = AddMlp(&builder, gate.mlp, streams[gate.input_stream], l);
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
  const uint32_t towers_level = static_cast<uint32_t>(model.levels().size());
  for (size_t t = 0; t < model.towers().size(); ++t) {
    const Tower& tower = model.towers()[t];
    PlanStep output;
    output.kind = StepKind::kTaskOutput;
    output.level = towers_level;
    output.input = AddMlp(&builder, tower.mlp, streams[tower.input_stream], towers_level);
    output.task = static_cast<uint32_t>(t);
    plan.steps.push_back(output);
  }
  DropDeadSteps(&plan);
  PlaceValues(&plan);
  return plan;
}

double CandidateMacsPerRow(const Plan& plan) {
  double macs = 0.0;
  for (const PlanStep& step : plan.steps) {
    if (step.kind != StepKind::kGroup) continue;
    macs += static_cast<double>(step.group->in - step.group->request_columns) * step.group->columns;
  }
  return macs;
}

}  // namespace ple::rt
