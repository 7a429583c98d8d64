#include "cost_model.h"

#include "convert_error.h"

namespace ple {
namespace convert {

const std::vector<CostTarget>& CostTargets() {
  // `bash bench/cost_table.sh KERNELS 9` (medians over 9 interleaved rounds, then the fit; its
  // residuals were within 2 % of each model's time). ARM targets are not in the table: no ARM
  // hardware was at hand, and time under qemu is not a measurement.
  static const std::vector<CostTarget> targets = {
      {"x86-avx512vnni", "avx512vnni", "AMD EPYC 2-vCPU VM, 2026-12-07",
       {6.3885e-04, 1.8500e-03, 1.8266e-03}, {0.774, 0.133, 0.0}},
      {"x86-avx2", "avx2", "AMD EPYC 2-vCPU VM (the avx2 path), 2026-12-07",
       {3.0127e-03, 3.6482e-03, 3.8431e-03}, {1.827, 0.286, 0.0}},
  };
  return targets;
}

const CostTarget& FindCostTarget(const std::string& name) {
  std::string known;
  for (const CostTarget& t : CostTargets()) {
    if (name == t.name) return t;
    known += (known.empty() ? "" : ", ") + std::string(t.name);
  }
  throw ConvertError("--target " + name + ": no cost table for it (" + known +
                     "; ARM tables need measurements on ARM hardware: bench/cost_table.sh)");
}

std::vector<PrecisionUnit> PrecisionUnits(IrModel* model) {
  std::vector<PrecisionUnit> units;
  uint32_t request = 0;
  for (const FeatureConfig& f : model->features) request += f.scope == fb::Scope::Request ? f.width : 0;
  const uint32_t split = request < model->row_width() ? request : 0;  // the writer splits the row there
  auto add = [&](IrMlp& mlp, const std::string& what, bool first_level, bool tower) {
    for (size_t i = 0; i < mlp.layers.size(); ++i) {
      IrDense& layer = mlp.layers[i];
      PrecisionUnit unit;
      unit.name = what + " layer " + std::to_string(i + 1) + (tower && i + 1 == mlp.layers.size() ? " (head)" : "");
      unit.layer = &layer;
      const uint32_t in = first_level && i == 0 ? layer.in - split : layer.in;
      unit.candidate_macs = uint64_t{in} * layer.out;
      units.push_back(unit);
    }
  };
  for (size_t l = 0; l < model->levels.size(); ++l) {
    IrLevel& level = model->levels[l];
    const std::string prefix = "level " + std::to_string(l + 1);
    for (size_t e = 0; e < level.experts.size(); ++e) {
      add(level.experts[e].mlp, prefix + " expert " + std::to_string(e + 1), l == 0, false);
    }
    for (size_t g = 0; g < level.gates.size(); ++g) {
      add(level.gates[g].mlp, prefix + " gate " + std::to_string(g + 1), l == 0, false);
    }
  }
  for (size_t t = 0; t < model->towers.size(); ++t) {
    const std::string name = t < model->tasks.size() ? model->tasks[t].name : std::to_string(t + 1);
    add(model->towers[t].mlp, "tower " + name, false, true);
  }
  for (IrTable& table : model->tables) {
    PrecisionUnit unit;
    unit.name = "table " + table.config.name;
    unit.table = &table;
    units.push_back(unit);
  }
  return units;
}

uint64_t CandidateMacs(const IrModel& model) {
  uint64_t macs = 0;  // PrecisionUnits only reads through its pointers here
  for (const PrecisionUnit& unit : PrecisionUnits(const_cast<IrModel*>(&model))) macs += unit.candidate_macs;
  return macs;
}

double UnitMicroseconds(const PrecisionUnit& unit, Precision precision, const CostTarget& target) {
  if (unit.layer == nullptr) return 0.0;
  const int p = precision == Precision::kI8 ? 0 : precision == Precision::kF16 ? 1 : 2;
  return target.per_mac[p] * static_cast<double>(unit.candidate_macs) + target.per_layer[p];
}

double UnitBytes(const PrecisionUnit& unit, Precision precision) {
  const double per_value = precision == Precision::kI8 ? 1.0 : precision == Precision::kF16 ? 2.0 : 4.0;
  if (unit.table != nullptr) {
    const double rows = unit.table->config.vocabulary, dim = unit.table->config.dim;
    return rows * dim * per_value + (precision == Precision::kI8 ? rows * 2.0 : 0.0);
  }
  const double in = unit.layer->in, out = unit.layer->out;
  return in * out * per_value + (precision == Precision::kI8 ? out * 8.0 : 0.0);  // int8: scale and sum per channel
}

}  // namespace convert
}  // namespace ple
