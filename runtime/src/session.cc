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
  size_t total = ArenaBytes(plan, TileRows(config));
  for (const PlanStep& step : plan.steps) {
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
  for (size_t k = 0; k < request_kernels_.size(); ++k) {
    if (!request_kernels_[k]->Run(1, inputs.request_values, request_partials_.data() + request_partial_offset_[k])) {
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
