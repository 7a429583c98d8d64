#include "session.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels/kernels.h"

namespace ple::rt {
namespace {

constexpr size_t kArenaAlignmentBytes = 64;

Status CheckConfig(const SessionConfig& config, ple_kernel_path* resolved) {
  if (config.max_batch == 0) return MakeError(PLE_ERROR_INVALID_ARGUMENT, "max_batch must be at least 1");
  if (config.kernel_path != PLE_KERNELS_AUTO && config.kernel_path != PLE_KERNELS_REFERENCE &&
      config.kernel_path != PLE_KERNELS_XNNPACK) {
    return MakeError(PLE_ERROR_INVALID_ARGUMENT, "unknown kernel path %d", static_cast<int>(config.kernel_path));
  }
  *resolved = ResolveKernelPath(config.kernel_path);
  if (!KernelPathAvailable(*resolved)) {
    return MakeError(PLE_ERROR_UNSUPPORTED, "kernel path %s is not available in this build or on this CPU",
                     *resolved == PLE_KERNELS_XNNPACK ? "xnnpack" : "reference");
  }
  return Status::Ok();
}

uint32_t TileRows(const SessionConfig& config) { return std::min(config.max_batch, kMaxTileRows); }

size_t ArenaBytes(const Plan& plan, uint32_t tile_rows) {
  return plan.arena_floats_per_row * tile_rows * sizeof(float);
}

// Scratch of the packed-group steps: a tile of quantized rows (int8), their scales and zero
// points, one 16-channel tile of accumulators, and a tile of per-row request parts.
struct GroupScratchSizes {
  size_t quantized = 0, rows = 0, tile = 0, request_rows = 0;
  size_t bytes() const {
    return quantized + rows * (sizeof(float) + sizeof(int32_t)) + tile * (sizeof(int32_t) + sizeof(float)) +
           request_rows * sizeof(float);
  }
};

GroupScratchSizes GroupScratch(const Plan& plan, uint32_t tile_rows) {
  GroupScratchSizes sizes;
  if (plan.max_group_columns == 0) return sizes;
  sizes.quantized = size_t{tile_rows} * plan.max_group_blocks * 4;
  sizes.rows = tile_rows;
  sizes.tile = size_t{tile_rows} * 16;
  sizes.request_rows = plan.split ? size_t{tile_rows} * plan.max_group_columns : 0;
  return sizes;
}

// The kernels a dense step needs: the whole layer, or (split) its candidate columns without
// bias and activation plus its request columns with the bias.
DenseSpec CandidateSpec(const Plan& plan, const PlanStep& step) {
  const uint32_t x_stride = plan.values[step.input].width;
  const uint32_t y_stride = plan.values[step.output].width;
  if (step.split < 0) return DenseSpec::Whole(*step.dense, x_stride, y_stride);
  return DenseSpec{step.dense, plan.request_width, step.dense->in, false, false, x_stride, y_stride};
}

DenseSpec RequestSpec(const Plan& plan, const PlanStep& step) {
  return DenseSpec{step.dense, 0, plan.request_width, true, false, plan.request_width, step.dense->out};
}

}  // namespace

Status SessionMemoryBytes(const Model& model, const SessionConfig& config, size_t* bytes) {
  ple_kernel_path path;
  Status status = CheckConfig(config, &path);
  if (!status.ok()) return status;
  const Plan plan = BuildPlan(model);
  size_t total = ArenaBytes(plan, TileRows(config)) + GroupScratch(plan, TileRows(config)).bytes();
  for (const PlanStep& step : plan.steps) {
    if (step.kind == StepKind::kGroup) {
      total += step.group->columns * (sizeof(float) + sizeof(uint32_t));  // bias and tile members
      if (step.split >= 0) total += step.group->columns * sizeof(float);   // request part
    }
    if (step.kind != StepKind::kDense) continue;
    total += PackedWeightBytesBound(path, CandidateSpec(plan, step));
    if (step.split >= 0) total += PackedWeightBytesBound(path, RequestSpec(plan, step)) + step.dense->out * sizeof(float);
  }
  *bytes = total;
  return Status::Ok();
}

Status Session::Create(std::shared_ptr<const Model> model, const SessionConfig& config,
                       std::unique_ptr<Session>* out) {
  std::unique_ptr<Session> session(new Session());
  Status status = CheckConfig(config, &session->kernel_path_);
  if (!status.ok()) return status;
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
  session->gate_expert_pointers_.resize(plan.max_gate_experts);
  session->dense_kernels_.reserve(plan.dense_steps);
  size_t partials = 0;
  for (uint32_t width : plan.split_outputs) {
    session->request_partial_offset_.push_back(partials);
    partials += width;
  }
  session->request_partials_.assign(partials, 0.0f);
  session->request_kernels_.resize(plan.split_outputs.size());
  const GroupScratchSizes scratch = GroupScratch(plan, session->tile_rows_);
  session->quantized_.assign(scratch.quantized, 0);
  session->row_scales_.assign(scratch.rows, 0.0f);
  session->row_zero_points_.assign(scratch.rows, 0);
  session->tile_acc_.assign(scratch.tile, 0);
  session->tile_sums_.assign(scratch.tile, 0.0f);
  session->request_part_rows_.assign(scratch.request_rows, 0.0f);
  session->group_bias_.resize(plan.steps.size());
  session->group_tile_member_.resize(plan.steps.size());
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const PlanStep& step = plan.steps[i];
    if (step.kind != StepKind::kGroup) continue;
    std::vector<float>& bias = session->group_bias_[i];
    std::vector<uint32_t>& tile_member = session->group_tile_member_[i];
    bias.assign(step.group->columns, 0.0f);
    tile_member.assign(step.group->columns / 16, UINT32_MAX);
    for (uint32_t m = 0; m < step.members_count; ++m) {
      const DenseLayer& layer = *plan.group_members[step.members_begin + m].layer;
      if (layer.bias != nullptr) std::copy(layer.bias, layer.bias + layer.out, bias.begin() + layer.packed_column);
      for (uint32_t c = 0; c < layer.out; c += 16) tile_member[(layer.packed_column + c) / 16] = m;
    }
  }
  for (const PlanStep& step : plan.steps) {
    if (step.kind != StepKind::kDense) continue;
    std::unique_ptr<DenseKernel> kernel;
    size_t packed = 0;
    status = CreateDenseKernel(session->kernel_path_, CandidateSpec(plan, step), &kernel, &packed);
    if (!status.ok()) return status;
    session->packed_weight_bytes_ += packed;
    session->dense_kernels_.push_back(std::move(kernel));
    if (step.split >= 0) {
      status = CreateDenseKernel(session->kernel_path_, RequestSpec(plan, step), &session->request_kernels_[step.split],
                                 &packed);
      if (!status.ok()) return status;
      session->packed_weight_bytes_ += packed;
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
    if (step.kind != StepKind::kSoftmax) continue;
    GateRecord record;
    record.level = step.level;
    record.gate = step.gate;
    record.width = plan_.values[step.input].width;
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

// With a request context: the request part of every split layer, once per request.
ple_status Session::UpdateRequestPartials(const RunInputs& inputs) {
  if (!plan_.split || inputs.request_values == nullptr || inputs.request_generation == partials_generation_) {
    return PLE_OK;
  }
  for (size_t i = 0; i < plan_.steps.size(); ++i) {
    const PlanStep& step = plan_.steps[i];
    if (step.split < 0) continue;
    float* part = request_partials_.data() + request_partial_offset_[step.split];
    if (step.kind == StepKind::kGroup) {
      GroupRequestPart(i, step, 1, inputs.request_values, part);
    } else if (!request_kernels_[step.split]->Run(1, inputs.request_values, part)) {
      partials_generation_ = 0;
      return SetLastError(PLE_ERROR_INTERNAL, "the kernel failed on a first layer's request columns");
    }
  }
  partials_generation_ = inputs.request_generation;
  ++request_part_updates_;
  return PLE_OK;
}

// y = activation(W_candidate x + (W_request x_request + b)), the request part per row or shared.
ple_status Session::RunSplitDense(const PlanStep& step, size_t rows, bool per_row_request, float* y) {
  const uint32_t out = step.dense->out;
  const float* partial = request_partials_.data() + request_partial_offset_[step.split];
  size_t partial_stride = 0;
  if (per_row_request) {
    float* per_row = ValuePointer(step.partial);
    if (!request_kernels_[step.split]->Run(rows, ValuePointer(kRequestRowsValue), per_row)) {
      return SetLastError(PLE_ERROR_INTERNAL, "the kernel failed on a first layer's request columns");
    }
    partial = per_row;
    partial_stride = out;
  }
  for (size_t r = 0; r < rows; ++r) {
    float* row = y + r * out;
    const float* p = partial + r * partial_stride;
    for (uint32_t o = 0; o < out; ++o) row[o] += p[o];
  }
  kernels::f32_activation__scalar(*step.dense, rows, out, y, out);
  return PLE_OK;
}

void Session::GroupRequestPart(size_t step_index, const PlanStep& step, size_t rows, const float* request,
                               float* part) {
  const PackedGroup& g = *step.group;
  const float* bias = group_bias_[step_index].data();
  const size_t tiles = g.columns / 16;
  if (g.type == WeightType::kI8) {
    const size_t q_stride = size_t{g.request_blocks} * 4;
    kernels::f32_qu8_quantize__scalar(rows, g.request_columns, request, plan_.request_width, quantized_.data(),
                                      q_stride, q_stride, row_scales_.data(), row_zero_points_.data());
    const int8_t* w = static_cast<const int8_t*>(g.weights);
    for (size_t t = 0; t < tiles; ++t) {
      kernels::qu8s8_gemm_tile__scalar(rows, g.request_blocks, quantized_.data(), q_stride,
                                       w + t * size_t{g.blocks} * 64, tile_acc_.data());
      kernels::qs8_dequantize_tile__scalar(rows, 16, tile_acc_.data(), row_scales_.data(), row_zero_points_.data(),
                                           g.scales + 16 * t, g.request_sums + 16 * t, bias + 16 * t, 0,
                                           part + 16 * t, g.columns);
    }
    return;
  }
  const uint16_t* w = static_cast<const uint16_t*>(g.weights);
  for (size_t t = 0; t < tiles; ++t) {
    kernels::f16_gemm_tile__scalar(rows, g.request_columns, request, plan_.request_width,
                                   w + t * size_t{g.in} * 16, part + 16 * t, g.columns);
  }
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < g.columns; ++c) part[r * g.columns + c] += bias[c];
  }
}

// Every member of a packed group: one pass over the group's tiles, each tile's result
// dequantized (int8) and added to the bias or the request part straight into its member's
// value; a member's activation runs once its last tile is written.
void Session::RunGroup(size_t step_index, const PlanStep& step, size_t rows, bool per_row_request) {
  const PackedGroup& g = *step.group;
  const float* add = group_bias_[step_index].data();
  size_t add_stride = 0;
  if (step.split >= 0) {
    if (per_row_request) {
      GroupRequestPart(step_index, step, rows, ValuePointer(kRequestRowsValue), request_part_rows_.data());
      add = request_part_rows_.data();
      add_stride = g.columns;
    } else {
      add = request_partials_.data() + request_partial_offset_[step.split];
    }
  }
  const float* x = ValuePointer(step.input);
  const size_t x_stride = plan_.values[step.input].width;
  const size_t k = g.in - g.request_columns;
  const size_t candidate_blocks = g.blocks - g.request_blocks;
  const size_t q_stride = candidate_blocks * 4;
  if (g.type == WeightType::kI8) {
    kernels::f32_qu8_quantize__scalar(rows, k, x, x_stride, quantized_.data(), q_stride, q_stride,
                                      row_scales_.data(), row_zero_points_.data());
  }
  const std::vector<uint32_t>& tile_member = group_tile_member_[step_index];
  const size_t tiles = g.columns / 16;
  for (size_t t = 0; t < tiles; ++t) {
    if (tile_member[t] == UINT32_MAX) continue;  // padding between members (never written by the converter)
    const GroupMember& member = plan_.group_members[step.members_begin + tile_member[t]];
    const DenseLayer& layer = *member.layer;
    const size_t local = 16 * t - layer.packed_column;
    const size_t columns = std::min<size_t>(16, layer.out - local);
    float* out = ValuePointer(member.value) + local;
    if (g.type == WeightType::kI8) {
      const int8_t* w = static_cast<const int8_t*>(g.weights) + (t * g.blocks + g.request_blocks) * size_t{64};
      kernels::qu8s8_gemm_tile__scalar(rows, candidate_blocks, quantized_.data(), q_stride, w, tile_acc_.data());
      kernels::qs8_dequantize_tile__scalar(rows, columns, tile_acc_.data(), row_scales_.data(),
                                           row_zero_points_.data(), g.scales + 16 * t, g.candidate_sums + 16 * t,
                                           add + 16 * t, add_stride, out, layer.out);
    } else {
      const uint16_t* w = static_cast<const uint16_t*>(g.weights) + (t * g.in + g.request_columns) * size_t{16};
      kernels::f16_gemm_tile__scalar(rows, k, x, x_stride, w, tile_sums_.data(), 16);
      for (size_t r = 0; r < rows; ++r) {
        const float* a = add + r * add_stride + 16 * t;
        for (size_t c = 0; c < columns; ++c) out[r * layer.out + c] = tile_sums_[r * 16 + c] + a[c];
      }
    }
    if (local + columns == layer.out) kernels::f32_activation__scalar(layer, rows, layer.out, out - local, layer.out);
  }
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
    size_t dense_index = 0;
    for (size_t step_index = 0; step_index < plan_.steps.size(); ++step_index) {
      const PlanStep& step = plan_.steps[step_index];
      float* x = ValuePointer(step.input);
      const size_t x_stride = plan_.values[step.input].width;
      switch (step.kind) {
        case StepKind::kDense: {
          float* y = ValuePointer(step.output);
          if (!dense_kernels_[dense_index++]->Run(rows, x, y)) {
            return SetLastError(PLE_ERROR_INTERNAL, "the %s kernel failed on a [%u -> %u] layer",
                                kernel_path_ == PLE_KERNELS_XNNPACK ? "xnnpack" : "reference", step.dense->in,
                                step.dense->out);
          }
          if (step.split >= 0) {
            status = RunSplitDense(step, rows, per_row_request, y);
            if (status != PLE_OK) return status;
          }
          break;
        }
        case StepKind::kSoftmax:
          kernels::f32_softmax__scalar(rows, x_stride, x, x_stride);
          if (!record_of_step_.empty() && record_of_step_[step_index] >= 0) {
            GateRecord& record = gate_records_[record_of_step_[step_index]];
            std::copy(x, x + rows * x_stride, record.weights.begin() + first * record.width);
          }
          break;
        case StepKind::kGateSum: {
          for (uint32_t i = 0; i < step.experts_count; ++i) {
            gate_expert_pointers_[i] = ValuePointer(plan_.gate_experts[step.experts_begin + i]);
          }
          const PlanValue& out = plan_.values[step.output];
          kernels::f32_gate_sum__scalar(rows, step.experts_count, out.width, x, x_stride, gate_expert_pointers_.data(),
                                        out.width, ValuePointer(step.output), out.width);
          break;
        }
        case StepKind::kGroup:
          RunGroup(step_index, step, rows, per_row_request);
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
