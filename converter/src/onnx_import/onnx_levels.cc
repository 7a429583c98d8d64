#include "onnx_import/onnx_levels.h"

#include <algorithm>
#include <map>
#include <set>

#include "convert_error.h"

namespace ple {
namespace convert {
namespace onnx_import {
namespace {

// gate (anchor) -> the stream its level writes. Last level first: a gate read by tower t writes
// stream t; a gate below writes the stream of a gate above that reads it, or a free one (the
// shared stream first, then downwards).
std::map<size_t, uint32_t> AssignStreams(const std::vector<GateInfo>& gates, int levels,
                                         const std::vector<size_t>& tower_anchor, uint32_t tasks) {
  std::map<size_t, uint32_t> stream;
  for (size_t t = 0; t < tower_anchor.size(); ++t) {
    if (!stream.count(tower_anchor[t])) stream[tower_anchor[t]] = static_cast<uint32_t>(t);
  }
  for (int level = levels - 2; level >= 0; --level) {
    std::set<uint32_t> used;
    for (size_t g = 1; g < gates.size(); ++g) {
      if (gates[g].level != level + 1 || !stream.count(g)) continue;
      const size_t below = gates[g].logits.anchor;
      if (!stream.count(below) && !used.count(stream[g])) stream[below] = stream[g], used.insert(stream[g]);
    }
    for (size_t g = 1; g < gates.size(); ++g) {
      if (gates[g].level != level || stream.count(g)) continue;
      int64_t s = tasks;
      while (s >= 0 && used.count(static_cast<uint32_t>(s))) --s;
      if (s < 0) throw ConvertError("level " + std::to_string(level) + " has more gates than tasks + 1 streams");
      stream[g] = static_cast<uint32_t>(s);
      used.insert(static_cast<uint32_t>(s));
    }
  }
  return stream;
}

}  // namespace

void AssembleLevels(const std::vector<GateInfo>& gates, const std::vector<size_t>& tower_anchor, IrModel* ir) {
  const uint32_t tasks = static_cast<uint32_t>(ir->tasks.size());
  int levels = 0;
  for (size_t anchor : tower_anchor) levels = std::max(levels, gates[anchor].level + 1);
  for (size_t anchor : tower_anchor) {
    if (gates[anchor].level != levels - 1) throw ConvertError("the towers read gates of different levels");
  }
  std::map<size_t, uint32_t> stream = AssignStreams(gates, levels, tower_anchor, tasks);
  for (size_t t = 0; t < ir->towers.size(); ++t) ir->towers[t].input_stream = stream[tower_anchor[t]];
  // At level 0 every stream is the input row: an expert weighed by one task's gate (and maybe
  // the shared gate) reads that task's stream, as the native importer assigns; others the
  // shared stream.
  std::map<std::string, std::set<uint32_t>> level0_tasks;
  for (size_t g = 1; g < gates.size(); ++g) {
    if (gates[g].level != 0 || !stream.count(g) || stream[g] >= tasks) continue;
    for (const Row& m : gates[g].members) level0_tasks[m.origin].insert(stream[g]);
  }
  for (int l = 0; l < levels; ++l) {
    IrLevel level;
    std::map<std::string, uint32_t> expert_index;  // by the ONNX value an expert's output is
    for (size_t g = 1; g < gates.size(); ++g) {
      const GateInfo& info = gates[g];
      if (info.level != l || !stream.count(g)) continue;  // a gate nothing reads is dropped
      IrGate gate;
      gate.output_stream = stream[g];
      gate.input_stream = l == 0 ? gate.output_stream : stream[info.logits.anchor];
      gate.mlp.layers = info.logits.layers;
      for (const Row& m : info.members) {
        auto [it, fresh] = expert_index.emplace(m.origin, static_cast<uint32_t>(level.experts.size()));
        if (fresh) {
          IrExpert expert;
          const auto& users = level0_tasks[m.origin];
          expert.input_stream = l > 0 ? stream[m.anchor] : users.size() == 1 ? *users.begin() : tasks;
          expert.mlp.layers = m.layers;
          level.experts.push_back(expert);
        }
        gate.experts.push_back(it->second);
      }
      if (level.gates.size() > tasks) throw ConvertError("a level has more gates than tasks + 1");
      level.gates.push_back(gate);
    }
    ir->levels.push_back(level);
  }
}

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple
