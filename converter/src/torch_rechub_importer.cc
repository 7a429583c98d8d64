// torch-rechub's multi_task.PLE and MMOE, as its code builds and computes them (read from its
// repository; summarised in docs/importing.md).
#include <set>
#include <utility>
#include <vector>

#include "framework_common.h"
#include "framework_importers.h"

namespace ple {
namespace convert {
namespace {

using nlohmann::json;

constexpr JsonReader kRechubJson{"torch-rechub config", /*null_is_absent=*/true};
const JsonReader& in = kRechubJson;

// The description's features, before their tables are resolved.
struct RechubFeatures {
  std::vector<FeatureConfig> embedded, dense;               // each in list order
  std::vector<std::pair<std::string, std::string>> shared;  // (feature, shared_with)
};

// One SparseFeature or SequenceFeature; its own table is added to `config` unless it shares one.
FeatureConfig ReadEmbeddedFeature(const json& f, const std::string& where, const std::string& type,
                                  FeatureConfig feature, RechubFeatures* features, ModelConfig* config) {
  const uint32_t vocabulary = in.Count(f, "vocab_size", where, 1, 1u << 30);
  if (!in.Has(f, "embed_dim"))
    in.Fail(where + ".embed_dim", "required (torch-rechub's automatic size is not reproduced)");
  const uint32_t dim = in.Count(f, "embed_dim", where, 1, 1 << 16);
  const std::string shared_with = in.String(f, "shared_with", where, "");
  if (shared_with.empty()) {
    config->tables.push_back({feature.name, vocabulary, dim, false});
  } else {
    features->shared.emplace_back(feature.name, shared_with);
  }
  feature.width = dim;
  feature.kind = type == "SparseFeature" ? fb::FeatureKind::Sparse : fb::FeatureKind::Sequence;
  if (feature.kind == fb::FeatureKind::Sequence) {
    const std::string pooling = in.String(f, "pooling", where, "mean");
    if (pooling != "sum" && pooling != "mean") {
      in.Fail(where + ".pooling", "\"sum\" or \"mean\" expected (\"concat\" keeps the sequence: not supported)");
    }
    feature.pooling = pooling == "sum" ? fb::Pooling::Sum : fb::Pooling::Mean;
    feature.mean_eps = pooling == "mean" ? 1e-16f : 0.0f;  // AveragePooling: sum / (count + 1e-16)
    feature.max_length = in.Count(f, "max_length", where, 1, 1u << 20);
    feature.has_padding_id = true;  // InputMask: x != padding_idx, or x != -1 without one
    feature.padding_id = in.Has(f, "padding_idx") ? f["padding_idx"].get<int64_t>() : -1;
  }
  if (f.contains("oov")) ParseOov(f["oov"], where + ".oov", vocabulary, &feature);
  return feature;
}

RechubFeatures ReadFeatureList(const json& root, ModelConfig* config) {
  const json& list = in.Required(root, "features", "(top level)");
  if (!list.is_array() || list.empty()) in.Fail("features", "a non-empty list expected");
  RechubFeatures features;
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& f = list[i];
    const std::string where = "features[" + std::to_string(i) + "]";
    const std::string type = in.String(f, "type", where);
    FeatureConfig feature;
    feature.name = in.String(f, "name", where);
    if (!names.insert(feature.name).second) in.Fail(where + ".name", "'" + feature.name + "' is used twice");
    feature.scope = ReadScope(in, f, where);
    if (type == "DenseFeature") {
      feature.kind = fb::FeatureKind::Dense;
      feature.width = in.Count(f, "embed_dim", where, 1, 1 << 16, /*fallback=*/1);
      features.dense.push_back(feature);
    } else if (type == "SparseFeature" || type == "SequenceFeature") {
      features.embedded.push_back(ReadEmbeddedFeature(f, where, type, feature, &features, config));
    } else {
      in.Fail(where + ".type", "\"SparseFeature\", \"SequenceFeature\" or \"DenseFeature\" expected");
    }
  }
  return features;
}

// Features: sparse and sequence embeddings in list order, then dense values in list order.
// Tables are named after the feature that owns them; shared_with names that feature.
void ReadFeatures(const json& root, ModelConfig* config) {
  RechubFeatures features = ReadFeatureList(root, config);
  auto table_index = [&](const std::string& name) -> int {
    for (size_t t = 0; t < config->tables.size(); ++t) {
      if (config->tables[t].name == name) return static_cast<int>(t);
    }
    return -1;
  };
  for (FeatureConfig& feature : features.embedded) {
    std::string owner = feature.name;
    for (const auto& [name, with] : features.shared) {
      if (name == feature.name) owner = with;
    }
    const int t = table_index(owner);
    if (t < 0) in.Fail("features", "'" + feature.name + "' shares the embedding of '" + owner + "', which has none");
    if (config->tables[t].dim != feature.width) {
      in.Fail("features", "'" + feature.name + "' has embed_dim " + std::to_string(feature.width) + " but shares '" +
                              owner + "' of dim " + std::to_string(config->tables[t].dim));
    }
    feature.table = static_cast<uint32_t>(t);
    if (feature.oov_policy == fb::OovPolicy::OovRow && feature.oov_row >= config->tables[t].vocabulary) {
      in.Fail("features", "'" + feature.name + "': oov_row outside the shared table");
    }
  }
  config->features = features.embedded;
  config->features.insert(config->features.end(), features.dense.begin(), features.dense.end());
}

void ReadTasks(const json& root, ModelConfig* config) {
  const json& task_types = in.Required(root, "task_types", "(top level)");
  if (!task_types.is_array() || task_types.empty()) in.Fail("task_types", "a non-empty list expected");
  for (size_t t = 0; t < task_types.size(); ++t) {
    const std::string type = task_types[t].is_string() ? task_types[t].get<std::string>() : "";
    if (type != "classification" && type != "regression") {
      in.Fail("task_types[" + std::to_string(t) + "]", "\"classification\" or \"regression\" expected");
    }
    TaskConfig task;
    task.type = type == "classification" ? fb::TaskType::Binary : fb::TaskType::Regression;
    task.name = "task" + std::to_string(t);
    if (root.contains("task_names")) {
      const json& task_names = root["task_names"];
      if (!task_names.is_array() || task_names.size() != task_types.size() || !task_names[t].is_string()) {
        in.Fail("task_names", "one name per task expected");
      }
      task.name = task_names[t].get<std::string>();
    }
    config->tasks.push_back(task);
  }
}

// The experts' shape, which the weight names depend on.
struct RechubShape {
  bool ple = true;
  uint32_t specific = 0;             // experts per task and level
  std::vector<size_t> tower_layers;  // hidden layers per tower
};

// Every MLP: Linear -> BatchNorm1d (eps 1e-5) -> activation -> Dropout (identity).
void ReadLevels(const json& root, RechubShape* shape, ModelConfig* config) {
  const json& expert_params = in.Required(root, "expert_params", "(top level)");
  MlpConfig expert;
  expert.units = in.Units(expert_params, "dims", "expert_params", /*allow_empty=*/false);
  expert.activation = MapActivation(in, in.String(expert_params, "activation", "expert_params", "relu"),
                                    "expert_params.activation", true);
  expert.batch_norm = true;
  GateConfig gate;  // MLP(dims=[n], activation="softmax"): Linear -> BatchNorm1d -> softmax
  gate.bias = true;
  gate.batch_norm = true;
  uint32_t levels = 1, shared = 0;
  if (shape->ple) {
    levels = in.Count(root, "n_level", "(top level)", 1, 64);
    shape->specific = in.Count(root, "n_expert_specific", "(top level)", 0, 1024);
    shared = in.Count(root, "n_expert_shared", "(top level)", 0, 1024);
  } else {
    shared = in.Count(root, "n_expert", "(top level)", 1, 1024);
  }
  if (shape->specific + shared == 0) in.Fail("(top level)", "no experts");
  for (uint32_t l = 0; l < levels; ++l) {
    LevelConfig level;
    level.specific_experts.assign(config->tasks.size(), shape->specific);
    level.shared_experts = shared;
    level.expert = expert;
    level.gate = gate;
    config->levels.push_back(level);
  }
}

void ReadTowers(const json& root, RechubShape* shape, ModelConfig* config) {
  const json& towers = in.Required(root, "tower_params_list", "(top level)");
  if (!towers.is_array() || towers.size() != config->tasks.size()) {
    in.Fail("tower_params_list", "one object per task expected");
  }
  for (size_t t = 0; t < towers.size(); ++t) {
    const std::string where = "tower_params_list[" + std::to_string(t) + "]";
    TowerConfig tower;
    tower.mlp.units = in.Units(towers[t], "dims", where, /*allow_empty=*/true);
    tower.mlp.activation =
        MapActivation(in, in.String(towers[t], "activation", where, "relu"), where + ".activation", true);
    tower.mlp.batch_norm = true;
    tower.head_bias = true;  // MLP(output_layer=True): Linear(*, 1) with bias
    config->towers.push_back(tower);
    shape->tower_layers.push_back(tower.mlp.units.size());
  }
}

// MLP layer i in torch-rechub's nn.Sequential: Linear (4i), BatchNorm1d (4i+1), activation
// (4i+2: PReLU `weight`, Dice `alpha`), Dropout (4i+3).
std::string MlpName(const std::string& prefix, const NativeName& n) {
  const uint32_t base = 4 * n.layer;
  if (n.module == "linear") return JoinName({prefix, "mlp", std::to_string(base), n.param});
  if (n.module == "bn") return JoinName({prefix, "mlp", std::to_string(base + 1), n.param});
  if (n.module == "prelu") return JoinName({prefix, "mlp", std::to_string(base + 2), "weight"});
  return JoinName({prefix, "mlp", std::to_string(base + 2), "alpha"});  // dice
}

// The state_dict name of a native tensor name.
std::string FileName(const RechubShape& shape, const std::string& native) {
  const NativeName n = ParseNativeName(native);
  const std::string level = JoinName({"cgc_layers", std::to_string(n.level)});
  switch (n.owner) {
    case Owner::kEmbedding:
      return JoinName({"embedding.embed_dict", n.table, "weight"});
    case Owner::kSpecificExpert:
      return MlpName(JoinName({level, "experts_specific", std::to_string(n.task * shape.specific + n.index)}), n);
    case Owner::kSharedExpert:
      return MlpName(shape.ple ? JoinName({level, "experts_shared", std::to_string(n.index)})
                               : JoinName({"experts", std::to_string(n.index)}),
                     n);
    case Owner::kTaskGate:
    case Owner::kSharedGate: {
      const std::string prefix = n.owner == Owner::kSharedGate ? JoinName({level, "gate_shared"})
                                 : shape.ple ? JoinName({level, "gates_specific", std::to_string(n.task)})
                                             : JoinName({"gates", std::to_string(n.task)});
      NativeName logits = n;
      logits.layer = 0;  // the gate MLP has the logits layer only
      return MlpName(prefix, logits);
    }
    case Owner::kTower: {
      const std::string prefix = JoinName({"towers", std::to_string(n.task)});
      if (n.part == Part::kHead) {
        return JoinName({prefix, "mlp", std::to_string(4 * shape.tower_layers[n.task]), n.param});
      }
      return MlpName(prefix, n);
    }
  }
  return native;
}

}  // namespace

FrameworkModel ImportTorchRechub(const json& root) {
  FrameworkModel out;
  RechubShape shape;
  shape.ple = StartFrameworkModel(in, root, "torch-rechub", &out.config);
  ReadFeatures(root, &out.config);
  ReadTasks(root, &out.config);
  ReadLevels(root, &shape, &out.config);
  ReadTowers(root, &shape, &out.config);
  ParseSharedKeys(root, &out.config);
  out.naming.file_name = [shape](const std::string& native) { return FileName(shape, native); };
  return out;
}

}  // namespace convert
}  // namespace ple
