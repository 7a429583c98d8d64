// What `ple-convert --precision auto:` weighs (docs/quantization.md, "Precision chosen to a
// budget"): the units it assigns a precision to (every dense layer and every embedding table),
// and each unit's predicted time and bytes per precision on a target, from a committed table of
// measurements (cost_model.cc). Pure arithmetic on the IR: the same inputs give the same plan
// on any machine.
#ifndef PLE_CONVERTER_COST_MODEL_H_
#define PLE_CONVERTER_COST_MODEL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model_ir.h"

namespace ple {
namespace convert {

// One target's measured cost: bench-m-dense at batch 200, one thread, every layer in one
// precision (bench/cost_table.sh), as microseconds per run.
struct CostTarget {
  const char* name;      // "x86-avx512vnni"
  const char* kernels;   // the kernel path measured
  const char* measured;  // the CPU and date
  double f32_us, f16_us, int8_us;
};
const std::vector<CostTarget>& CostTargets();
// The target named `name`; throws ConvertError listing the known ones.
const CostTarget& FindCostTarget(const std::string& name);

// bench-m-dense's multiply-adds per candidate (CandidateMacs), the denominator of the table.
constexpr uint64_t kBenchMDenseCandidateMacs = 1083600;

// A unit of the plan: a dense layer or an embedding table of `model`, named for the printout
// ("level 1 expert 4 layer 1", "tower click layer 2 (head)", "table user").
struct PrecisionUnit {
  std::string name;
  IrDense* layer = nullptr;  // one of the two
  IrTable* table = nullptr;
  uint64_t candidate_macs = 0;  // multiply-adds per candidate (first layers: the candidate columns only)
};
// Every unit of `model`, in a fixed order (levels, their experts then gates, towers, tables).
std::vector<PrecisionUnit> PrecisionUnits(IrModel* model);

// Multiply-adds per candidate of every dense layer (a split row's request columns run once per
// request and are not counted).
uint64_t CandidateMacs(IrModel* model);

// Predicted microseconds per run of 200 candidates on `target` of a unit at `precision`.
double UnitMicroseconds(const PrecisionUnit& unit, Precision precision, const CostTarget& target);
// Its bytes in the file at `precision` (weights and per-row or per-channel scales; padding not counted).
double UnitBytes(const PrecisionUnit& unit, Precision precision);

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_COST_MODEL_H_
