#include "session.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels/kernels.h"

namespace ple::rt {
namespace {

constexpr size_t kArenaAlignmentBytes = 64;

Status CheckConfig(const SessionConfig& config, const KernelSet** kernels) {
  if (config.max_batch == 0) return MakeError(PLE_ERROR_INVALID_ARGUMENT, "max_batch must be at least 1");
  ple_kernel_path path;
  Status status = ResolveKernelPath(config.kernel_path, &path);
  if (!status.ok()) return status;
  *kernels = FindKernelSet(path);
  if (*kernels == nullptr) {
    return MakeError(PLE_ERROR_UNSUPPORTED, "kernel path %s is not available in this build or on this CPU",
                     KernelPathName(path));
  }
  return Status::Ok();
}

uint32_t TileRows(const SessionConfig& config) { return std::min(config.max_batch, kMaxTileRows); }

size_t ArenaBytes(const Plan& plan, uint32_t tile_rows) {
  return plan.arena_floats_per_row * tile_rows * sizeof(float);
}

// The scratch a session allocates besides the arena (in elements of each vector).
struct ScratchSizes {
  size_t request_partials = 0, quantized = 0, rows = 0, request_part_rows = 0, gemm_out = 0, gate_weights = 0,
         tile_outputs = 0;
  size_t bias_and_tiles = 0;  // bytes of the groups' bias vectors and tile tables

  ScratchSizes(const Plan& plan, uint32_t tile_rows, bool xnnpack_f32) {
    for (uint32_t width : plan.split_outputs) request_partials += width;
    quantized = size_t{tile_rows} * plan.max_group_blocks * 4;
    rows = tile_rows;
    request_part_rows = plan.split ? size_t{tile_rows} * plan.max_group_columns : 0;
    gate_weights = plan.max_gate_experts;
    tile_outputs = plan.max_group_columns / 16;
    for (const PlanStep& step : plan.steps) {
      if (step.kind != StepKind::kGroup) continue;
      bias_and_tiles += step.group->columns * sizeof(float) + step.group->columns / 16 * sizeof(uint32_t);
      if (xnnpack_f32 && step.group->type == WeightType::kF32) {
        gemm_out = std::max<size_t>(gemm_out, size_t{tile_rows} * step.group->columns);
      }
    }
  }
  size_t bytes() const {
    return (request_partials + request_part_rows + gemm_out + gate_weights) * sizeof(float) + quantized +
           rows * (sizeof(float) + sizeof(int32_t)) + bias_and_tiles + tile_outputs * sizeof(kernels::TileOutput);
  }
};

// A float32 group's columns [k_begin, k_end) as the row-major [columns, k] matrix XNNPACK takes.
std::vector<float> RowMajor(const PackedGroup& g, uint32_t k_begin, uint32_t k_end) {
  const uint32_t k = k_end - k_begin;
  std::vector<float> out(size_t{g.columns} * k);
  const float* w = static_cast<const float*>(g.weights);
  for (uint32_t n = 0; n < g.columns; ++n) {
    for (uint32_t i = 0; i < k; ++i) out[size_t{n} * k + i] = w[(size_t{n / 16} * g.in + k_begin + i) * 16 + n % 16];
  }
  return out;
}

}  // namespace

Status SessionMemoryBytes(const Model& model, const SessionConfig& config, size_t* bytes) {
  const KernelSet* kernels = nullptr;
  Status status = CheckConfig(config, &kernels);
  if (!status.ok()) return status;
  const Plan plan = BuildPlan(model);
  const uint32_t tile_rows = TileRows(config);
  size_t total = ArenaBytes(plan, tile_rows) + ScratchSizes(plan, tile_rows, kernels->xnnpack_f32).bytes();
  if (kernels->xnnpack_f32) {
    for (const PlanStep& step : plan.steps) {
      if (step.kind != StepKind::kGroup || step.group->type != WeightType::kF32) continue;
      const PackedGroup& g = *step.group;
      total += XnnpackGemmBytesBound(g.in - g.request_columns, g.columns);
      if (g.request_columns > 0) total += XnnpackGemmBytesBound(g.request_columns, g.columns);
    }
  }
  *bytes = total;
  return Status::Ok();
}

Status Session::Create(std::shared_ptr<const Model> model, const SessionConfig& config,
                       std::unique_ptr<Session>* out) {
  std::unique_ptr<Session> session(new Session());
  Status status = CheckConfig(config, &session->kernels_);
  if (!status.ok()) return status;
  session->kernel_path_ = session->kernels_->path;
  session->model_ = std::move(model);
  session->max_batch_ = config.max_batch;
  session->tile_rows_ = TileRows(config);
  session->plan_ = BuildPlan(*session->model_);
  const Plan& plan = session->plan_;

  session->arena_bytes_ = ArenaBytes(plan, session->tile_rows_);
  if (session->arena_bytes_ > 0) {
    session->arena_ = static_cast<float*>(std::aligned_alloc(kArenaAlignmentBytes, session->arena_bytes_));
    if (session->arena_ == nullptr) {
      return MakeError(PLE_ERROR_OUT_OF_MEMORY, "cannot allocate a %zu-byte arena", session->arena_bytes_);
    }
  }
  const bool xnnpack_f32 = session->kernels_->xnnpack_f32;
  const ScratchSizes scratch(plan, session->tile_rows_, xnnpack_f32);
  session->scratch_bytes_ = scratch.bytes();
  size_t partials = 0;
  for (uint32_t width : plan.split_outputs) {
    session->request_partial_offset_.push_back(partials);
    partials += width;
  }
  session->request_partials_.assign(scratch.request_partials, 0.0f);
  session->quantized_.assign(scratch.quantized, 0);
  session->row_scales_.assign(scratch.rows, 0.0f);
  session->row_zero_points_.assign(scratch.rows, 0);
  session->request_part_rows_.assign(scratch.request_part_rows, 0.0f);
  session->gemm_out_.assign(scratch.gemm_out, 0.0f);
  session->gate_weights_.assign(scratch.gate_weights, 0.0f);
  session->gate_expert_pointers_.resize(plan.max_gate_experts);
  session->tile_outputs_.resize(plan.max_group_columns / 16);
  session->groups_.resize(plan.steps.size());
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const PlanStep& step = plan.steps[i];
    if (step.kind != StepKind::kGroup) continue;
    const PackedGroup& g = *step.group;
    GroupState& state = session->groups_[i];
    state.bias.assign(g.columns, 0.0f);
    state.tile_member.assign(g.columns / 16, UINT32_MAX);
    for (uint32_t m = 0; m < step.members_count; ++m) {
      const DenseLayer& layer = *plan.group_members[step.members_begin + m].layer;
      if (layer.bias != nullptr) std::copy(layer.bias, layer.bias + layer.out, state.bias.begin() + layer.packed_column);
      for (uint32_t c = 0; c < layer.out; c += 16) state.tile_member[(layer.packed_column + c) / 16] = m;
    }
    if (xnnpack_f32 && g.type == WeightType::kF32) {
      size_t packed = 0;
      status = CreateXnnpackGemm(g.in - g.request_columns, g.columns, plan.values[step.input].width, g.columns,
                                 RowMajor(g, g.request_columns, g.in).data(), &state.xnnpack_candidate, &packed);
      if (!status.ok()) return status;
      session->packed_weight_bytes_ += packed;
      if (step.split >= 0) {
        status = CreateXnnpackGemm(g.request_columns, g.columns, plan.request_width, g.columns,
                                   RowMajor(g, 0, g.request_columns).data(), &state.xnnpack_request, &packed);
        if (!status.ok()) return status;
        session->packed_weight_bytes_ += packed;
      }
    }
  }
  const ScoreInfo& score = session->model_->score();
  session->score_.present = score.present;
  session->score_.exponents = score.present ? score.exponents : std::vector<float>(session->model_->tasks().size(), 0.0f);
  session->score_.regression_floor = score.regression_floor;
  session->score_.transform = score.transform;
  session->score_.transform_input =
      score.transform == ScoreTransform::kNone ? -1 : session->model_->FindInput(score.transform_input.c_str());
  session->score_.transform_scale = score.transform_scale;
  session->score_.transform_offset = score.transform_offset;
  *out = std::move(session);
  return Status::Ok();
}

Session::~Session() { std::free(arena_); }

void Session::EnableGateRecording() {
  gate_records_.clear();
  record_of_step_.assign(plan_.steps.size(), -1);
  for (size_t i = 0; i < plan_.steps.size(); ++i) {
    const PlanStep& step = plan_.steps[i];
    if (step.kind != StepKind::kGate) continue;
    GateRecord record;
    record.level = step.level;
    record.gate = step.gate;
    record.width = step.experts_count;
    record.weights.assign(size_t{max_batch_} * record.width, 0.0f);
    record_of_step_[i] = static_cast<int>(gate_records_.size());
    gate_records_.push_back(std::move(record));
  }
}

float* Session::ValuePointer(uint32_t value) const {
  return arena_ + plan_.values[value].arena_offset_floats * tile_rows_;
}

// Fills value 0 (and, split with per-row request values, value 1) for rows [first, first + rows).
ple_status Session::AssembleInputs(RunInputs* inputs, size_t first, size_t rows) {
  const Model& model = *model_;
  float* input_row = ValuePointer(kInputValue);
  const size_t input_stride = plan_.input_width;
  for (size_t i = 0; i < model.features().size(); ++i) {
    const FeatureInfo& feature = model.features()[i];
    const bool request = feature.scope == PLE_SCOPE_REQUEST;
    if (!request) {
      const size_t column = plan_.split ? feature.segment_offset : feature.row_offset;
      const ple_status status =
          AssembleFeature(model, feature, &inputs->sources[i], first, rows, first, input_row, input_stride, column);
      if (status != PLE_OK) return status;
    } else if (inputs->request_values == nullptr) {  // each row brings its own request values
      float* out = plan_.split ? ValuePointer(kRequestRowsValue) : input_row;
      const size_t stride = plan_.split ? plan_.request_width : input_stride;
      const size_t column = plan_.split ? feature.segment_offset : feature.row_offset;
      const ple_status status =
          AssembleFeature(model, feature, &inputs->sources[i], first, rows, first, out, stride, column);
      if (status != PLE_OK) return status;
    } else if (!plan_.split) {  // a request context, but the model's columns interleave scopes
      for (size_t r = 0; r < rows; ++r) {
        std::memcpy(input_row + r * input_stride + feature.row_offset, inputs->request_values + feature.segment_offset,
                    feature.width * sizeof(float));
      }
    }
  }
  return PLE_OK;
}

// With a request context: the request part of every split group, once per request.
ple_status Session::UpdateRequestPartials(const RunInputs& inputs) {
  if (!plan_.split || inputs.request_values == nullptr || inputs.request_generation == partials_generation_) {
    return PLE_OK;
  }
  for (size_t i = 0; i < plan_.steps.size(); ++i) {
    const PlanStep& step = plan_.steps[i];
    if (step.split < 0) continue;
    const ple_status status = GroupRequestPart(i, step, 1, inputs.request_values,
                                               request_partials_.data() + request_partial_offset_[step.split]);
    if (status != PLE_OK) {
      partials_generation_ = 0;
      return status;
    }
  }
  partials_generation_ = inputs.request_generation;
  ++request_part_updates_;
  return PLE_OK;
}

ple_status Session::GroupRequestPart(size_t step_index, const PlanStep& step, size_t rows, const float* request,
                                     float* part) {
  const PackedGroup& g = *step.group;
  const GroupState& state = groups_[step_index];
  const size_t tiles = g.columns / 16, request_stride = plan_.request_width;
  for (size_t t = 0; t < tiles; ++t) {  // all columns, the bias included, no activation
    tile_outputs_[t] = kernels::TileOutput{part + 16 * t, state.bias.data() + 16 * t, g.columns, 16, 0, 0};
  }
  switch (g.type) {
    case WeightType::kI8: {
      const size_t q_stride = size_t{g.request_blocks} * 4;
      kernels_->f32_qu8_quantize(rows, g.request_columns, request, request_stride, quantized_.data(), q_stride,
                                 q_stride, row_scales_.data(), row_zero_points_.data());
      kernels_->qu8s8_gemm(rows, g.request_blocks, quantized_.data(), q_stride, static_cast<const int8_t*>(g.weights),
                           size_t{g.blocks} * 64, tiles, row_scales_.data(), row_zero_points_.data(), g.scales,
                           g.request_sums, tile_outputs_.data(), 0);
      break;
    }
    case WeightType::kF16:
      kernels_->f16_gemm(rows, g.request_columns, request, request_stride, static_cast<const uint16_t*>(g.weights),
                         size_t{g.in} * 16, tiles, tile_outputs_.data(), 0);
      break;
    case WeightType::kF32:
      if (state.xnnpack_request != nullptr) {
        if (!state.xnnpack_request->Run(rows, request, gemm_out_.data())) {
          return SetLastError(PLE_ERROR_INTERNAL, "XNNPACK failed on a first layer's request columns");
        }
        AddAndStore(rows, tiles, g.columns, 0);
        break;
      }
      kernels_->f32_gemm(rows, g.request_columns, request, request_stride, static_cast<const float*>(g.weights),
                         size_t{g.in} * 16, tiles, tile_outputs_.data(), 0);
      break;
  }
  return PLE_OK;
}

// The XNNPACK path's epilogue: its raw product (gemm_out_, `columns` floats per row) plus each
// tile's addend, ReLU where fused, into the tile outputs.
void Session::AddAndStore(size_t rows, size_t tiles, size_t columns, size_t add_stride) {
  for (size_t t = 0; t < tiles; ++t) {
    const kernels::TileOutput& o = tile_outputs_[t];
    if (o.out == nullptr) continue;
    for (size_t r = 0; r < rows; ++r) {
      const float* product = gemm_out_.data() + r * columns + 16 * t;
      const float* add = o.add + r * add_stride;
      float* out = o.out + r * o.out_stride;
      for (size_t c = 0; c < o.columns; ++c) {
        const float y = product[c] + add[c];
        out[c] = o.relu && !(y > 0.0f) ? 0.0f : y;
      }
    }
  }
}

// Every member of a packed group in one GEMM call over the group's tiles: each tile's result
// (int8: dequantized) plus the bias or the request part, ReLU fused, straight into its
// member's value; other activations run on each member afterwards.
ple_status Session::RunGroup(size_t step_index, const PlanStep& step, size_t rows, bool per_row_request) {
  const PackedGroup& g = *step.group;
  const GroupState& state = groups_[step_index];
  const float* add = state.bias.data();
  size_t add_stride = 0;
  if (step.split >= 0) {
    if (per_row_request) {
      const ple_status status =
          GroupRequestPart(step_index, step, rows, ValuePointer(kRequestRowsValue), request_part_rows_.data());
      if (status != PLE_OK) return status;
      add = request_part_rows_.data();
      add_stride = g.columns;
    } else {
      add = request_partials_.data() + request_partial_offset_[step.split];
    }
  }
  const size_t tiles = g.columns / 16;
  for (size_t t = 0; t < tiles; ++t) {
    kernels::TileOutput& o = tile_outputs_[t];
    if (state.tile_member[t] == UINT32_MAX) {  // padding between members (never written by the converter)
      o = kernels::TileOutput{};
      continue;
    }
    const GroupMember& member = plan_.group_members[step.members_begin + state.tile_member[t]];
    const DenseLayer& layer = *member.layer;
    const uint32_t local = static_cast<uint32_t>(16 * t) - layer.packed_column;
    o = kernels::TileOutput{ValuePointer(member.value) + local, add + 16 * t, layer.out,
                            std::min<uint32_t>(16, layer.out - local), layer.activation == Activation::kRelu, 0};
  }
  const float* x = ValuePointer(step.input);
  const size_t x_stride = plan_.values[step.input].width;
  const size_t k = g.in - g.request_columns;
  switch (g.type) {
    case WeightType::kI8: {
      const size_t candidate_blocks = g.blocks - g.request_blocks, q_stride = candidate_blocks * 4;
      kernels_->f32_qu8_quantize(rows, k, x, x_stride, quantized_.data(), q_stride, q_stride, row_scales_.data(),
                                 row_zero_points_.data());
      kernels_->qu8s8_gemm(rows, candidate_blocks, quantized_.data(), q_stride,
                           static_cast<const int8_t*>(g.weights) + size_t{g.request_blocks} * 64, size_t{g.blocks} * 64,
                           tiles, row_scales_.data(), row_zero_points_.data(), g.scales, g.candidate_sums,
                           tile_outputs_.data(), add_stride);
      break;
    }
    case WeightType::kF16:
      kernels_->f16_gemm(rows, k, x, x_stride, static_cast<const uint16_t*>(g.weights) + size_t{g.request_columns} * 16,
                         size_t{g.in} * 16, tiles, tile_outputs_.data(), add_stride);
      break;
    case WeightType::kF32:
      if (state.xnnpack_candidate != nullptr) {
        if (!state.xnnpack_candidate->Run(rows, x, gemm_out_.data())) {
          return SetLastError(PLE_ERROR_INTERNAL, "XNNPACK failed on a [%u -> %u] group", g.in, g.columns);
        }
        AddAndStore(rows, tiles, g.columns, add_stride);
        break;
      }
      kernels_->f32_gemm(rows, k, x, x_stride, static_cast<const float*>(g.weights) + size_t{g.request_columns} * 16,
                         size_t{g.in} * 16, tiles, tile_outputs_.data(), add_stride);
      break;
  }
  for (uint32_t m = 0; m < step.members_count; ++m) {
    const GroupMember& member = plan_.group_members[step.members_begin + m];
    const Activation activation = member.layer->activation;
    if (activation == Activation::kIdentity || activation == Activation::kRelu) continue;
    kernels::f32_activation__scalar(*member.layer, rows, member.layer->out, ValuePointer(member.value),
                                    member.layer->out);
  }
  return PLE_OK;
}

// softmax(logits) weighs the experts' values, fused: the weights go to a scratch row (or to
// the gate's record when recording).
void Session::RunGate(size_t step_index, const PlanStep& step, size_t first, size_t rows) {
  for (uint32_t i = 0; i < step.experts_count; ++i) {
    gate_expert_pointers_[i] = ValuePointer(plan_.gate_experts[step.experts_begin + i]);
  }
  float* weights = gate_weights_.data();
  size_t weights_stride = 0;
  if (!record_of_step_.empty() && record_of_step_[step_index] >= 0) {
    GateRecord& record = gate_records_[record_of_step_[step_index]];
    weights = record.weights.data() + first * record.width;
    weights_stride = record.width;
  }
  const PlanValue& out = plan_.values[step.output];
  kernels_->f32_gate_softmax_sum(rows, step.experts_count, out.width, ValuePointer(step.input),
                                        plan_.values[step.input].width, gate_expert_pointers_.data(), out.width,
                                        weights, weights_stride, ValuePointer(step.output), out.width);
}

ple_status Session::ComputeScores(const RunInputs& inputs, size_t first, size_t rows, const float* outputs,
                                  float* scores) const {
  const size_t tasks = model_->tasks().size();
  const FeatureSource* input = score_.transform_input >= 0 ? &inputs.sources[score_.transform_input] : nullptr;
  // A dense feature's value as the feature layer takes it (NaN replaced, not normalized); an
  // extra's must be finite.
  const int features = static_cast<int>(model_->features().size());
  const FeatureInfo* feature = input != nullptr && score_.transform_input < features
                                   ? &model_->features()[score_.transform_input]
                                   : nullptr;
  for (size_t r = 0; r < rows; ++r) {
    const float* p = outputs + (first + r) * tasks;
    float score = 1.0f;
    for (size_t t = 0; t < tasks; ++t) {
      const float w = score_.exponents[t];
      if (w == 0.0f) continue;
      float value = p[t];
      if (model_->tasks()[t].type == PLE_TASK_REGRESSION) value = std::max(value, score_.regression_floor);
      score *= std::pow(value, w);
    }
    if (input != nullptr) {
      float x = input->dense[(first + r) * input->dense_stride];
      if (!std::isfinite(x)) {
        if (feature == nullptr || !feature->nan_replace) {
          return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s '%s': the score's input of candidate %zu is %s",
                              feature ? "feature" : "extra",
                              feature ? feature->name.c_str()
                                      : model_->extras()[score_.transform_input - features].c_str(),
                              first + r, std::isnan(x) ? "NaN" : "infinite");
        }
        x = feature->nan_replacement;
      }
      switch (score_.transform) {
        case ScoreTransform::kNone: break;
        case ScoreTransform::kIdentity: score *= x; break;
        case ScoreTransform::kLog1p: score *= std::log1p(std::max(x, 0.0f)); break;
        case ScoreTransform::kSigmoid:
          score *= kernels::sigmoid(score_.transform_scale * x + score_.transform_offset);
          break;
      }
    }
    scores[first + r] = score;
  }
  return PLE_OK;
}

ple_status Session::Run(RunInputs* inputs, size_t num_candidates, float* outputs, float* scores) {
  const size_t task_count = model_->tasks().size();
  const bool per_row_request = inputs->request_values == nullptr;
  ple_status status = UpdateRequestPartials(*inputs);
  if (status != PLE_OK) return status;
  for (size_t first = 0; first < num_candidates; first += tile_rows_) {
    const size_t rows = std::min<size_t>(tile_rows_, num_candidates - first);
    status = AssembleInputs(inputs, first, rows);
    if (status != PLE_OK) return status;
    for (size_t step_index = 0; step_index < plan_.steps.size(); ++step_index) {
      const PlanStep& step = plan_.steps[step_index];
      float* x = ValuePointer(step.input);
      const size_t x_stride = plan_.values[step.input].width;
      switch (step.kind) {
        case StepKind::kGroup:
          status = RunGroup(step_index, step, rows, per_row_request);
          if (status != PLE_OK) return status;
          break;
        case StepKind::kGate:
          RunGate(step_index, step, first, rows);
          break;
        case StepKind::kTaskOutput: {
          const bool binary = model_->tasks()[step.task].type == PLE_TASK_BINARY;
          float* out = outputs + first * task_count + step.task;
          for (size_t r = 0; r < rows; ++r) {
            const float value = x[r * x_stride];
            out[r * task_count] = binary ? kernels::sigmoid(value) : value;
          }
          break;
        }
      }
    }
    if (scores != nullptr) {
      status = ComputeScores(*inputs, first, rows, outputs, scores);
      if (status != PLE_OK) return status;
    }
  }
  return PLE_OK;
}

}  // namespace ple::rt
