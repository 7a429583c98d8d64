#include "run/session_memory.h"

#include <algorithm>
#include <limits>

#include "kernels/xnnpack_gemm.h"

namespace ple::rt {
namespace {

// Half the address space (1 GiB on 32-bit targets): see the header.
constexpr uint64_t kMaxSessionBytes = std::numeric_limits<ptrdiff_t>::max() / 2;

}  // namespace

Status CheckConfig(const SessionConfig& config, const KernelSet** kernels) {
  if (config.max_batch == 0) return MakeError(PLE_ERROR_INVALID_ARGUMENT, "max_batch must be at least 1");
  if (config.num_threads == 0 || config.num_threads > kMaxThreads) {
    return MakeError(PLE_ERROR_INVALID_ARGUMENT, "num_threads is %u: it must be 1 to %u", config.num_threads,
                     kMaxThreads);
  }
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
  if (config.num_threads > 1) {
    return MakeError(PLE_ERROR_UNSUPPORTED, "num_threads is %u: this WebAssembly build runs one thread",
                     config.num_threads);
  }
#endif
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

uint32_t TileRows(const Plan& plan, const SessionConfig& config, bool xnnpack_f32) {
  uint32_t rows = std::min(config.max_batch, kMaxTileRows);
  auto worker_bytes = [&](uint32_t r) { return ArenaBytes(plan, r) + ScratchSizes(plan, r, xnnpack_f32).worker_bytes(); };
  while (rows > kMinBudgetTileRows && worker_bytes(rows) > kWorkerBudgetBytes) {
    rows = std::max(kMinBudgetTileRows, rows - kBudgetTileStep);
  }
  return rows;
}

size_t WorkerCount(const SessionConfig& config, const KernelSet& kernels) {
  return kernels.xnnpack_f32 ? 1 : config.num_threads;
}

uint64_t ArenaBytes(const Plan& plan, uint32_t tile_rows) {
  return uint64_t{plan.arena_floats_per_row} * tile_rows * sizeof(float);
}

uint64_t GateRecordingBytes(const Plan& plan, uint32_t max_batch) {
  uint64_t floats = 0;
  for (const PlanStep& step : plan.steps) {
    if (step.kind == StepKind::kGate) floats += uint64_t{max_batch} * step.experts_count;
  }
  return floats * sizeof(float);
}

uint64_t LayerRecordingBytes(const Plan& plan, uint32_t max_batch) {
  uint64_t floats = 0;
  for (const GroupMember& member : plan.group_members) floats += uint64_t{max_batch} * member.layer->out;
  return floats * sizeof(float);
}

uint64_t SessionBytes(const Plan& plan, const SessionConfig& config, const KernelSet& kernels) {
  const uint32_t tile_rows = TileRows(plan, config, kernels.xnnpack_f32);
  const ScratchSizes scratch(plan, tile_rows, kernels.xnnpack_f32);
  uint64_t total = scratch.shared_bytes() + WorkerCount(config, kernels) * (ArenaBytes(plan, tile_rows) + scratch.worker_bytes());
  if (kernels.xnnpack_f32) {
    for (const PlanStep& step : plan.steps) {
      if (step.kind != StepKind::kGroup || step.group->type != WeightType::kF32) continue;
      const PackedGroup& g = *step.group;
      total += XnnpackGemmBytesBound(g.in - g.request_columns, g.columns);
      if (g.request_columns > 0) total += XnnpackGemmBytesBound(g.request_columns, g.columns);
    }
  }
  if (kernels.int8_pair != nullptr) {  // the model's paired copy of its int8 weights, built by the first such session
    std::vector<const PackedGroup*> counted;
    for (const PlanStep& step : plan.steps) {
      if (step.kind != StepKind::kGroup || step.group->type != WeightType::kI8) continue;
      if (std::find(counted.begin(), counted.end(), step.group) != counted.end()) continue;
      counted.push_back(step.group);
      total += step.group->weight_bytes;
    }
  }
  if (config.record_gates) total += GateRecordingBytes(plan, config.max_batch);
  return total;
}

Status CheckSessionBytes(uint64_t bytes, const char* what) {
  if (bytes > kMaxSessionBytes) {
    return MakeError(PLE_ERROR_OUT_OF_MEMORY, "%s of this model and max_batch needs %llu bytes, beyond this platform's %llu",
                     what, static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(kMaxSessionBytes));
  }
  return Status::Ok();
}

Status SessionMemoryBytes(const LoadedModel& model, const SessionConfig& config, size_t* bytes) {
  const KernelSet* kernels = nullptr;
  Status status = CheckConfig(config, &kernels);
  if (!status.ok()) return status;
  const uint64_t total = SessionBytes(BuildPlan(model), config, *kernels);
  status = CheckSessionBytes(total, "a session");
  if (!status.ok()) return status;
  *bytes = static_cast<size_t>(total);
  return Status::Ok();
}

void PageInWeights(const Plan& plan) {
  constexpr size_t kPage = 4096;  // the smallest page of every target: larger pages are touched more than once
  uint8_t sum = 0;
  for (const PlanStep& step : plan.steps) {
    if (step.kind != StepKind::kGroup || step.group == nullptr || step.group->weights == nullptr) continue;
    const size_t bytes = step.group->weight_bytes;
    const auto* data = static_cast<const volatile uint8_t*>(step.group->weights);
    for (size_t offset = 0; offset < bytes; offset += kPage) sum = static_cast<uint8_t>(sum + data[offset]);
    if (bytes > 0) sum = static_cast<uint8_t>(sum + data[bytes - 1]);
  }
  static_cast<void>(sum);
}

}  // namespace ple::rt
