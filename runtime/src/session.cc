#include "session.h"

#include <algorithm>
#include <cstdlib>

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

}  // namespace

Status SessionMemoryBytes(const Model& model, const SessionConfig& config, size_t* bytes) {
  ple_kernel_path path;
  Status status = CheckConfig(config, &path);
  if (!status.ok()) return status;
  const Plan plan = BuildPlan(model);
  size_t total = ArenaBytes(plan, TileRows(config));
  for (const PlanStep& step : plan.steps) {
    if (step.kind == StepKind::kDense) total += PackedWeightBytesBound(path, *step.dense);
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
  for (const PlanStep& step : plan.steps) {
    if (step.kind != StepKind::kDense) continue;
    const size_t x_stride = step.input == kInputValue ? session->model_->row_width() : plan.values[step.input].width;
    std::unique_ptr<DenseKernel> kernel;
    size_t packed = 0;
    status = CreateDenseKernel(session->kernel_path_, *step.dense, x_stride, plan.values[step.output].width, &kernel,
                               &packed);
    if (!status.ok()) return status;
    session->packed_weight_bytes_ += packed;
    session->dense_kernels_.push_back(std::move(kernel));
  }
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

float* Session::ValuePointer(uint32_t value, const float* tile_input) const {
  if (value == kInputValue) return const_cast<float*>(tile_input);
  return arena_ + plan_.values[value].arena_offset_floats * tile_rows_;
}

ple_status Session::Run(const float* inputs, size_t num_candidates, float* outputs) {
  const size_t row_width = model_->row_width();
  const size_t task_count = model_->tasks().size();
  for (size_t first = 0; first < num_candidates; first += tile_rows_) {
    const size_t rows = std::min<size_t>(tile_rows_, num_candidates - first);
    const float* tile_input = inputs + first * row_width;
    size_t dense_index = 0;
    for (size_t step_index = 0; step_index < plan_.steps.size(); ++step_index) {
      const PlanStep& step = plan_.steps[step_index];
      const float* x = ValuePointer(step.input, tile_input);
      const size_t x_stride = step.input == kInputValue ? row_width : plan_.values[step.input].width;
      switch (step.kind) {
        case StepKind::kDense:
          if (!dense_kernels_[dense_index++]->Run(rows, x, ValuePointer(step.output, tile_input))) {
            return SetLastError(PLE_ERROR_INTERNAL, "the %s kernel failed on a [%u -> %u] layer",
                                kernel_path_ == PLE_KERNELS_XNNPACK ? "xnnpack" : "reference", step.dense->in,
                                step.dense->out);
          }
          break;
        case StepKind::kSoftmax:
          kernels::f32_softmax__scalar(rows, plan_.values[step.input].width, const_cast<float*>(x), x_stride);
          if (!record_of_step_.empty() && record_of_step_[step_index] >= 0) {
            GateRecord& record = gate_records_[record_of_step_[step_index]];
            std::copy(x, x + rows * x_stride, record.weights.begin() + first * record.width);
          }
          break;
        case StepKind::kGateSum: {
          for (uint32_t i = 0; i < step.experts_count; ++i) {
            gate_expert_pointers_[i] = ValuePointer(plan_.gate_experts[step.experts_begin + i], tile_input);
          }
          const PlanValue& out = plan_.values[step.output];
          kernels::f32_gate_sum__scalar(rows, step.experts_count, out.width, x, x_stride, gate_expert_pointers_.data(),
                                        out.width, ValuePointer(step.output, tile_input), out.width);
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
  }
  return PLE_OK;
}

}  // namespace ple::rt
