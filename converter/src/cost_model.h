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

// One target's measured costs (bench/cost_table.sh: four models of different shapes, every
// layer in one precision, ple-bench at batch 200 and one thread, fitted): microseconds per run
// of 200 candidates of a dense layer = per_mac[p] * its multiply-adds per candidate +
// per_layer[p] (0 for f32: what the layer costs beyond float32's call, int8's quantization pass
// and epilogue above all). Index p: 0 int8, 1 f16, 2 f32.
struct CostTarget {
  const char* name;      // "x86-avx512vnni"
  const char* kernels;   // the kernel path measured
  const char* measured;  // the CPU and date
  double per_mac[3];
  double per_layer[3];
};
const std::vector<CostTarget>& CostTargets();
// The target named `name`; throws ConvertError listing the known ones.
const CostTarget& FindCostTarget(const std::string& name);

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
uint64_t CandidateMacs(const IrModel& model);

// Predicted microseconds per run of 200 candidates on `target` of a unit at `precision` (an
// embedding table: 0, a lookup's cost does not depend on it).
double UnitMicroseconds(const PrecisionUnit& unit, Precision precision, const CostTarget& target);
// Its bytes in the file at `precision` (weights and per-row or per-channel scales; padding not counted).
double UnitBytes(const PrecisionUnit& unit, Precision precision);

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_COST_MODEL_H_
