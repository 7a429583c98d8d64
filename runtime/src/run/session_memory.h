// What a session allocates, decided before it allocates anything (Session::Create,
// ple_session_memory_bytes): the configuration's checks, the scratch sizes, the arena, and the
// recording buffers. Sizes are products of the file's widths and the caller's max_batch,
// computed in 64 bits: CheckSessionBytes refuses a total beyond half the address space, so
// every size_t derived below it is exact on 32-bit targets (armv7, wasm) too, where such
// products could wrap. Runs once per prepare: compiled for size (runtime/CMakeLists.txt).
#ifndef PLE_RUNTIME_RUN_SESSION_MEMORY_H_
#define PLE_RUNTIME_RUN_SESSION_MEMORY_H_

#include <cstddef>
#include <cstdint>

#include "kernels/kernel_set.h"
#include "run/plan.h"
#include "run/session.h"
#include "status.h"

namespace ple::rt {

// Reads one byte of every page of the plan's packed weights: a file mapped with mmap is paged
// in when a session is prepared, not during its first run (docs/performance.md, "First run").
// Nothing is written; pages already resident cost a load each.
void PageInWeights(const Plan& plan);

// Checks `config` and finds its kernel path.
Status CheckConfig(const SessionConfig& config, const KernelSet** kernels);

// Rows of a tile: a worker's arena holds this many candidates at once. At most max_batch and
// kMaxTileRows, and fewer (16 at a time, down to kMinBudgetTileRows) while a worker's arena
// and scratch would exceed kWorkerBudgetBytes (the issue "int8 at the hardware's pace": a
// session's own bytes at most 2 MiB on bench-m-dense at batch 200): 2.26 MiB at 128 rows, 1.98
// at 112. It costs time: each tile streams every weight once, and 112-row tiles took 1.02 to
// 1.04x the time of 128-row ones (docs/performance.md, "First run"). A row's bits do not
// depend on the tile it is in (tests/unit/determinism_test.cc).
constexpr uint64_t kWorkerBudgetBytes = 2u << 20;
constexpr uint32_t kMinBudgetTileRows = 32;
constexpr uint32_t kBudgetTileStep = 16;
uint32_t TileRows(const Plan& plan, const SessionConfig& config, bool xnnpack_f32);

// Workers a session runs with: the XNNPACK path runs its products on XNNPACK's own threads,
// so its candidates stay on one worker.
size_t WorkerCount(const SessionConfig& config, const KernelSet& kernels);

// One worker's arena: every planned value, `tile_rows` rows each.
uint64_t ArenaBytes(const Plan& plan, uint32_t tile_rows);

// The scratch a session allocates besides the arenas (in elements of each vector): per worker,
// but for the request partials and the groups' bias and tile tables, which are shared.
struct ScratchSizes {
  uint64_t request_partials = 0, quantized = 0, rows = 0, request_part_rows = 0, gemm_out = 0, gate_weights = 0,
           tile_outputs = 0, slice_chain = 0, chain_outputs = 0;
  uint64_t bias_and_tiles = 0;  // bytes of the groups' bias vectors and tile tables

  ScratchSizes(const Plan& plan, uint32_t tile_rows, bool xnnpack_f32) {
    for (uint32_t width : plan.split_outputs) request_partials += width;
    quantized = uint64_t{tile_rows} * plan.max_group_blocks * 4;
    rows = tile_rows;
    request_part_rows = plan.split ? uint64_t{tile_rows} * plan.max_group_columns : 0;
    gate_weights = plan.max_gate_experts;
    tile_outputs = plan.max_group_columns / 16;
    slice_chain = uint64_t{tile_rows} * plan.max_chained_columns;
    chain_outputs = plan.max_chained_columns / 16;
    for (const PlanStep& step : plan.steps) {
      if (step.kind != StepKind::kGroup) continue;
      bias_and_tiles += uint64_t{step.group->columns} * sizeof(float) + step.group->columns / 16 * sizeof(uint32_t);
      if (xnnpack_f32 && step.group->type == WeightType::kF32) {
        gemm_out = std::max<uint64_t>(gemm_out, uint64_t{tile_rows} * step.group->columns);
      }
    }
  }
  uint64_t shared_bytes() const { return request_partials * sizeof(float) + bias_and_tiles; }
  uint64_t worker_bytes() const {
    return (request_part_rows + gemm_out + gate_weights + slice_chain) * sizeof(float) + quantized +
           rows * (sizeof(float) + sizeof(int32_t)) + (tile_outputs + chain_outputs) * sizeof(kernels::TileOutput);
  }
};

// Gate recording's buffers: max_batch rows of every computed gate's weights.
uint64_t GateRecordingBytes(const Plan& plan, uint32_t max_batch);
// Layer recording's buffers: max_batch rows of every dense layer's output.
uint64_t LayerRecordingBytes(const Plan& plan, uint32_t max_batch);

// What a session with `config` allocates (ple_session_memory_bytes): exact for the arenas and
// scratch, an upper bound for XNNPACK's packed weights.
uint64_t SessionBytes(const Plan& plan, const SessionConfig& config, const KernelSet& kernels);

// PLE_ERROR_OUT_OF_MEMORY naming `what` when `bytes` exceeds half the address space.
Status CheckSessionBytes(uint64_t bytes, const char* what);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_RUN_SESSION_MEMORY_H_
