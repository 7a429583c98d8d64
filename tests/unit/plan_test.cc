// The execution plan: values alive at the same time never share arena bytes; unused work is
// dropped; the arena is smaller than one buffer per value.
#include <catch2/catch.hpp>
#include <atomic>
#include <thread>
#include <vector>
#include <algorithm>
#include <cmath>

#include "load/model.h"
#include "run/plan.h"
#include "run/session_memory.h"
#include "run/worker_cost.h"
#include "test_util.h"

namespace {

std::shared_ptr<const ple::rt::LoadedModel> LoadBundle(const std::string& name) {
  const auto bytes = ple::test::ConvertBundle(name).bytes;
  std::unique_ptr<ple::rt::ModelBytes> model_bytes;
  REQUIRE(ple::rt::ModelBytes::FromBuffer(bytes.data(), bytes.size(), &model_bytes).ok());
  std::shared_ptr<const ple::rt::LoadedModel> model;
  REQUIRE(ple::rt::LoadedModel::Load(std::move(model_bytes), &model).ok());
  return model;
}

std::vector<uint32_t> Reads(const ple::rt::Plan& plan, const ple::rt::PlanStep& step) {
  std::vector<uint32_t> reads = {step.input};
  if (step.split >= 0) reads.push_back(ple::rt::kRequestRowsValue);  // a split group: the per-row request columns
  if (step.kind == ple::rt::StepKind::kGate) {
    for (uint32_t i = 0; i < step.experts_count; ++i) reads.push_back(plan.gate_experts[step.experts_begin + i]);
  }
  return reads;
}

}  // namespace

TEST_CASE("plan: values alive at the same time never overlap in the arena", "[plan]") {
  for (const auto& name : ple::test::BundleNames()) {
    INFO("bundle " << name);
    const auto model = LoadBundle(name);
    const ple::rt::Plan plan = ple::rt::BuildPlan(*model);
    const size_t count = plan.values.size();
    std::vector<int> first(count, -1), last(count, -1);
    first[ple::rt::kInputValue] = 0;  // the feature layer writes these before the first step
    if (plan.split) first[ple::rt::kRequestRowsValue] = 0;
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      const auto& step = plan.steps[i];
      std::vector<uint32_t> writes;
      if (step.kind == ple::rt::StepKind::kGate) writes.push_back(step.output);
      if (step.kind == ple::rt::StepKind::kGroup) {
        for (uint32_t m = 0; m < step.members_count; ++m) writes.push_back(plan.group_members[step.members_begin + m].value);
      }
      for (uint32_t v : writes) {
        if (first[v] < 0) first[v] = static_cast<int>(i);
        last[v] = std::max(last[v], static_cast<int>(i));
      }
      for (uint32_t v : Reads(plan, step)) {
        REQUIRE(first[v] >= 0);  // read after written
        last[v] = static_cast<int>(i);
      }
    }
    size_t sum_of_widths = 0;
    for (uint32_t a = 0; a < count; ++a) {
      if (first[a] < 0) continue;
      const auto& va = plan.values[a];
      REQUIRE(va.arena_offset_floats % 16 == 0);
      REQUIRE(va.arena_offset_floats + va.width_padded <= plan.arena_floats_per_row);
      sum_of_widths += va.width_padded;
      for (uint32_t b = a + 1; b < count; ++b) {
        if (first[b] < 0) continue;
        const auto& vb = plan.values[b];
        const bool same_time = first[a] <= last[b] && first[b] <= last[a];
        const bool same_bytes = va.arena_offset_floats < vb.arena_offset_floats + vb.width_padded &&
                                vb.arena_offset_floats < va.arena_offset_floats + va.width_padded;
        INFO("values " << a << " and " << b);
        REQUIRE_FALSE((same_time && same_bytes));
      }
    }
    CHECK(plan.arena_floats_per_row <= sum_of_widths);
    if (name == "six_tasks" || name == "ple2_unequal") CHECK(plan.arena_floats_per_row < sum_of_widths);
  }
}

TEST_CASE("plan: request-scope columns are not part of the per-candidate input row", "[plan]") {
  // mmoe: user (6, request) then item (10, candidate): the first layers split at column 6.
  const auto model = LoadBundle("mmoe");
  const ple::rt::Plan plan = ple::rt::BuildPlan(*model);
  CHECK(plan.split);
  CHECK(plan.request_width == 6);
  CHECK(plan.input_width == 10);
  // The 3 experts' and 2 gates' first layers are one packed group: one split step.
  CHECK(plan.split_outputs.size() == 1);
  CHECK(plan.split_outputs[0] == 5 * 16);
  // cgc_bn's config interleaves scopes; the converter moved request inputs first.
  CHECK(ple::rt::BuildPlan(*LoadBundle("cgc_bn")).split);
}

TEST_CASE("plan: work no output depends on is dropped", "[plan]") {
  // ple3_noshared_last: level 1's shared gate feeds level 2's shared experts, and there are none.
  const auto model = LoadBundle("ple3_noshared_last");
  const ple::rt::Plan plan = ple::rt::BuildPlan(*model);
  size_t gate_steps = 0, gate_count = 0;
  for (const auto& step : plan.steps) gate_steps += step.kind == ple::rt::StepKind::kGate;
  for (const auto& level : model->levels()) gate_count += level.gates.size();
  CHECK(gate_count == 3 + 1 + 3 + 1 + 3);
  CHECK(gate_steps == gate_count - 1);
  for (const auto& step : plan.steps) {
    if (step.kind == ple::rt::StepKind::kGate) CHECK_FALSE((step.level == 1 && step.gate == 3));
  }
}

TEST_CASE("worker cost: a run takes another worker only where it saves time, later for a smaller model",
          "[plan][threads]") {
  using ple::rt::WorkerCost;
  using ple::rt::WorkersFor;
  // The modelled time: rows x row_ns / w + wake_ns; a second worker only when that is at most
  // kWorthSplitting of one thread's time.
  const WorkerCost cheap{50000.0, 100.0}, costly{50000.0, 2000.0};
  auto threshold = [](const WorkerCost& cost) {
    size_t rows = 1;
    while (WorkersFor(rows, cost, 2) == 1) ++rows;
    return rows;
  };
  const size_t cheap_rows = threshold(cheap), costly_rows = threshold(costly);
  // 2 workers pay off when rows x row_ns (1/2 - ... ) exceeds the wake-up: rows >= wake / ((0.85 - 0.5) row_ns).
  CHECK(cheap_rows == static_cast<size_t>(std::ceil(50000.0 / ((ple::rt::kWorthSplitting - 0.5) * 100.0))));
  CHECK(costly_rows == static_cast<size_t>(std::ceil(50000.0 / ((ple::rt::kWorthSplitting - 0.5) * 2000.0))));
  CHECK(costly_rows < cheap_rows);
  for (size_t rows : {1, 2, 10, 100, 1000, 100000}) {
    for (const WorkerCost& cost : {cheap, costly}) {
      const size_t w = WorkersFor(rows, cost, 8);
      CHECK(w >= 1);
      CHECK(w <= std::min<size_t>(8, rows));
      const double one = rows * cost.row_ns;
      if (w > 1) CHECK(one / w + cost.wake_ns <= ple::rt::kWorthSplitting * one);
    }
  }
  CHECK(WorkersFor(100000, cheap, 8) == 8);  // plenty of work: every worker
  CHECK(WorkersFor(1000, WorkerCost{0.0, 0.0}, 4) == 1);  // no measurement yet of anything: one thread

  // Two models of different size, the same wake-up: the larger one splits at fewer rows.
  const auto small = LoadBundle("single_task"), large = LoadBundle("six_tasks");
  const double small_macs = ple::rt::CandidateMacsPerRow(ple::rt::BuildPlan(*small));
  const double large_macs = ple::rt::CandidateMacsPerRow(ple::rt::BuildPlan(*large));
  INFO("multiply-adds per candidate row: single_task " << small_macs << ", six_tasks " << large_macs);
  REQUIRE(small_macs > 0);
  REQUIRE(large_macs > small_macs);
  const WorkerCost small_cost{50000.0, small_macs / ple::rt::kOptimisticMacsPerNs};
  const WorkerCost large_cost{50000.0, large_macs / ple::rt::kOptimisticMacsPerNs};
  CHECK(threshold(large_cost) < threshold(small_cost));
}

TEST_CASE("worker cost: the wake-up estimate is the median of the last split runs, a few preempted runs move it not",
          "[plan][threads]") {
  using ple::rt::WakeEstimate;
  WakeEstimate wake(10000.0);  // measured at creation: every sample starts there
  CHECK(wake.ns() == 10000.0);
  wake.Add(5e6);  // a run preempted for 5 ms
  wake.Add(5e6);
  wake.Add(5e6);
  CHECK(wake.ns() == 10000.0);  // 3 of 8: the median has not moved
  wake.Add(-500.0);             // the caller's own range was the slowest: counts as 0
  CHECK(wake.ns() == Approx(0.5 * (10000.0 + 10000.0)));
  // Runs that keep waiting 30 us move it there: fewer rows split, then none below the threshold
  // the real cost gives.
  for (size_t i = 0; i < ple::rt::kWakeSamples; ++i) wake.Add(30000.0);
  CHECK(wake.ns() == 30000.0);
  CHECK(wake.measured_ns() == 10000.0);
  const ple::rt::WorkerCost measured{wake.ns(), 4600.0};  // bench-m-dense int8's row on the x86 VM
  CHECK(ple::rt::WorkersFor(8, measured, 2) == 1);
  CHECK(ple::rt::WorkersFor(8, ple::rt::WorkerCost{10000.0, 4600.0}, 2) == 2);
}

TEST_CASE("worker planner: warm and cold wake-ups apart, and a grown estimate probed again", "[plan][threads]") {
  using ple::rt::WorkerPlanner;
  // Cold 50 us, warm 1 us, 1 us a row: 20 rows split warm, not cold.
  WorkerPlanner planner(50000.0, 1000.0, 1000.0);
  CHECK(planner.Workers(20, 2, true) == 2);
  CHECK(planner.Workers(20, 2, false) == 1);
  CHECK(planner.Workers(1000, 2, false) == 2);
  CHECK(planner.Workers(1, 2, true) == 1);  // one row: one worker
  // Split runs that met 100 us each move the warm estimate: 20 rows stop splitting warm, but
  // one run in kProbeEvery of those the estimate measured at creation would split, splits.
  for (size_t i = 0; i < ple::rt::kWakeSamples; ++i) planner.SplitMeasured(true, 100000.0);
  CHECK(planner.cost(true).wake_ns == 100000.0);
  CHECK(planner.cost(false).wake_ns == 50000.0);  // the cold one is apart
  size_t splits = 0;
  for (size_t run = 0; run < 10 * ple::rt::kProbeEvery; ++run) splits += planner.Workers(20, 2, true) > 1;
  CHECK(splits == 10);
  // The probes measure 1 us again: after enough of them the estimate is back and every run splits.
  for (size_t i = 0; i < ple::rt::kWakeSamples; ++i) planner.SplitMeasured(true, 1000.0);
  CHECK(planner.Workers(20, 2, true) == 2);
  // Rows too few to split even at the creation-time figure are never probed.
  WorkerPlanner cold_only(50000.0, 50000.0, 1000.0);
  for (size_t i = 0; i < ple::rt::kWakeSamples; ++i) cold_only.SplitMeasured(false, 500000.0);
  splits = 0;
  for (size_t run = 0; run < 10 * ple::rt::kProbeEvery; ++run) splits += cold_only.Workers(20, 2, false) > 1;
  CHECK(splits == 0);
  // The row time follows worker 0's ranges: one in four.
  planner.RangeMeasured(2000.0 * 10, 10);
  CHECK(planner.cost(true).row_ns == Approx(0.75 * 1000.0 + 0.25 * 2000.0));
}


TEST_CASE("tile rows: max_batch, at most 128, fewer while a worker's arena passes its budget", "[plan]") {
  using ple::rt::TileRows;
  ple::rt::SessionConfig config;
  ple::rt::Plan small, wide, huge;
  small.arena_floats_per_row = 100;     // 400 bytes a row
  wide.arena_floats_per_row = 4700;     // ~18 KiB a row, bench-m-dense's size
  huge.arena_floats_per_row = 1 << 20;  // 4 MiB a row
  config.max_batch = 256;
  CHECK(TileRows(small, config, false) == 128);
  const uint32_t wide_rows = TileRows(wide, config, false);
  CHECK(wide_rows < 128);
  CHECK(wide_rows % 16 == 0);
  CHECK(ple::rt::ArenaBytes(wide, wide_rows) <= ple::rt::kWorkerBudgetBytes);
  CHECK(ple::rt::ArenaBytes(wide, wide_rows + 16) > ple::rt::kWorkerBudgetBytes);
  CHECK(TileRows(huge, config, false) == ple::rt::kMinBudgetTileRows);  // the floor, whatever it costs
  config.max_batch = 7;
  CHECK(TileRows(small, config, false) == 7);
  CHECK(TileRows(huge, config, false) == 7);  // below the floor already
}
