// DeepCTR-Torch's models.PLE and MMOE, as its code builds and computes them (read from its
// repository; summarised in docs/importing.md).
#include <set>
#include <vector>

#include "framework_common.h"
#include "framework_importers.h"

namespace ple {
namespace convert {
namespace {

using nlohmann::json;

constexpr JsonReader kDeepCtrJson{"deepctr-torch config", /*null_is_absent=*/true};
const JsonReader& in = kDeepCtrJson;

// The description's features by kind, each in list order.
struct DeepCtrFeatures {
  std::vector<FeatureConfig> sparse, varlen, dense;
  std::set<std::string> names;
};

// The table `name`, added on first use; a second use must declare the same shape.
uint32_t TableFor(const std::string& name, uint32_t vocabulary, uint32_t dim, const std::string& where,
                  ModelConfig* config) {
  for (size_t t = 0; t < config->tables.size(); ++t) {
    if (config->tables[t].name != name) continue;
    if (config->tables[t].vocabulary != vocabulary || config->tables[t].dim != dim) {
      in.Fail(where, "embedding '" + name + "' is declared with different vocabulary_size or embedding_dim");
    }
    return static_cast<uint32_t>(t);
  }
  config->tables.push_back({name, vocabulary, dim, false});
  return static_cast<uint32_t>(config->tables.size() - 1);
}

// The sequence part of a VarLenSparseFeat `c` (its sparsefeat already read into `feature`).
FeatureConfig ReadVarLen(const json& c, const std::string& where, FeatureConfig feature) {
  feature.kind = fb::FeatureKind::Sequence;
  feature.max_length = in.Count(c, "maxlen", where, 1, 1u << 20);
  const std::string combiner = in.String(c, "combiner", where, "mean");
  if (combiner != "sum" && combiner != "mean") {
    in.Fail(where + ".combiner", "\"sum\" or \"mean\" expected (max is not supported)");
  }
  feature.pooling = combiner == "sum" ? fb::Pooling::Sum : fb::Pooling::Mean;
  feature.mean_eps = combiner == "mean" ? 1e-8f : 0.0f;  // SequencePoolingLayer: sum / (length + 1e-8)
  // Without length_name, ids equal to 0 are masked; with it, the caller gives only the valid ids.
  feature.has_padding_id = !in.Has(c, "length_name");
  feature.padding_id = 0;
  return feature;
}

// A SparseFeat, or a VarLenSparseFeat (`is_varlen`: its sparsefeat holds the embedding).
void ReadEmbeddedColumn(const json& c, const std::string& where, bool is_varlen, FeatureConfig feature,
                        DeepCtrFeatures* features, ModelConfig* config) {
  const json& s = is_varlen ? in.Required(c, "sparsefeat", where) : c;
  const std::string swhere = is_varlen ? where + ".sparsefeat" : where;
  feature.name = in.String(s, "name", swhere);
  if (!features->names.insert(feature.name).second) in.Fail(swhere + ".name", "'" + feature.name + "' is used twice");
  const uint32_t vocabulary = in.Count(s, "vocabulary_size", swhere, 1, 1u << 30);
  if (s.contains("embedding_dim") && s["embedding_dim"].is_string()) {
    in.Fail(swhere + ".embedding_dim", "give the number (\"auto\" is 6 * int(vocabulary_size ** 0.25))");
  }
  const uint32_t dim = in.Count(s, "embedding_dim", swhere, 1, 1 << 16, /*fallback=*/4);  // SparseFeat's default
  if (in.Bool(s, "use_hash", swhere, false))
    in.Fail(swhere + ".use_hash", "DeepCTR-Torch ignores use_hash; set it to false");
  const std::string table = in.String(s, "embedding_name", swhere, feature.name);
  feature.table = TableFor(table, vocabulary, dim, swhere, config);
  feature.width = dim;
  const json& oov_holder = c.contains("oov") ? c : s;
  if (oov_holder.contains("oov")) ParseOov(oov_holder["oov"], where + ".oov", vocabulary, &feature);
  if (is_varlen) {
    features->varlen.push_back(ReadVarLen(c, where, feature));
  } else {
    feature.kind = fb::FeatureKind::Sparse;
    features->sparse.push_back(feature);
  }
}

// Features: SparseFeat embeddings, then VarLenSparseFeat poolings, then DenseFeat values, each
// group in list order (BaseModel.input_from_feature_columns, combined_dnn_input).
void ReadFeatures(const json& root, ModelConfig* config) {
  const json& columns = in.Required(root, "dnn_feature_columns", "(top level)");
  if (!columns.is_array() || columns.empty()) in.Fail("dnn_feature_columns", "a non-empty list expected");
  DeepCtrFeatures features;
  for (size_t i = 0; i < columns.size(); ++i) {
    const json& c = columns[i];
    const std::string where = "dnn_feature_columns[" + std::to_string(i) + "]";
    const std::string type = in.String(c, "type", where);
    FeatureConfig feature;
    feature.scope = ReadScope(in, c, where);
    if (type == "DenseFeat") {
      feature.name = in.String(c, "name", where);
      feature.kind = fb::FeatureKind::Dense;
      feature.width = in.Count(c, "dimension", where, 1, 1 << 16, /*fallback=*/1);
      if (!features.names.insert(feature.name).second) in.Fail(where + ".name", "'" + feature.name + "' is used twice");
      features.dense.push_back(feature);
    } else if (type == "SparseFeat" || type == "VarLenSparseFeat") {
      ReadEmbeddedColumn(c, where, type == "VarLenSparseFeat", feature, &features, config);
    } else {
      in.Fail(where + ".type", "\"SparseFeat\", \"VarLenSparseFeat\" or \"DenseFeat\" expected");
    }
  }
  config->features = features.sparse;
  config->features.insert(config->features.end(), features.varlen.begin(), features.varlen.end());
  config->features.insert(config->features.end(), features.dense.begin(), features.dense.end());
}

void ReadTasks(const json& root, ModelConfig* config) {
  const json& task_types = in.Required(root, "task_types", "(top level)");
  const json& task_names = in.Required(root, "task_names", "(top level)");
  if (!task_types.is_array() || !task_names.is_array() || task_types.size() != task_names.size() ||
      task_types.empty()) {
    in.Fail("task_types", "task_types and task_names: non-empty lists of the same length expected");
  }
  for (size_t t = 0; t < task_types.size(); ++t) {
    const std::string type = task_types[t].is_string() ? task_types[t].get<std::string>() : "";
    if (type != "binary" && type != "regression") {
      in.Fail("task_types[" + std::to_string(t) + "]", "\"binary\" or \"regression\" expected");
    }
    if (!task_names[t].is_string()) in.Fail("task_names[" + std::to_string(t) + "]", "a string expected");
    config->tasks.push_back(
        {task_names[t].get<std::string>(), type == "binary" ? fb::TaskType::Binary : fb::TaskType::Regression});
  }
}

// Levels and towers; every DNN is Linear -> [BatchNorm1d] -> activation -> Dropout. Returns the
// number of shared experts the model uses.
uint32_t ReadStructure(const json& root, bool ple, ModelConfig* config) {
  const ActivationConfig activation =
      MapActivation(in, in.String(root, "dnn_activation", "(top level)", "relu"), "dnn_activation", false);
  const bool use_bn = in.Bool(root, "dnn_use_bn", "(top level)", false);
  MlpConfig dnn;
  dnn.activation = activation;
  dnn.batch_norm = use_bn;
  MlpConfig expert = dnn;
  expert.units = in.Units(root, "expert_dnn_hidden_units", "(top level)", {256, 128}, false);
  GateConfig gate;  // optional gate DNN, then Linear(bias=False), softmax
  gate.hidden = dnn;
  gate.hidden.units = in.Units(root, "gate_dnn_hidden_units", "(top level)", {64}, true);
  gate.bias = false;
  TowerConfig tower;
  tower.mlp = dnn;
  tower.mlp.units = in.Units(root, "tower_dnn_hidden_units", "(top level)", {64}, true);
  tower.head_bias = false;   // tower_dnn_final_layer: Linear(*, 1, bias=False)
  tower.output_bias = true;  // PredictionLayer's scalar bias
  uint32_t levels = 1, specific = 0, shared = 0;
  if (ple) {
    levels = in.Count(root, "num_levels", "(top level)", 1, 64);
    specific = in.Count(root, "specific_expert_num", "(top level)", 0, 1024);
    shared = in.Count(root, "shared_expert_num", "(top level)", 0, 1024);
    if (shared > specific) {
      in.Fail("shared_expert_num", "more shared than specific experts: DeepCTR-Torch builds only "
                                   "specific_expert_num shared experts, so this model cannot run there");
    }
    config->last_level_shared_gate_present = true;  // built on every level, unused on the last
  } else {
    shared = in.Count(root, "num_experts", "(top level)", 2, 1024);
  }
  for (uint32_t l = 0; l < levels; ++l) {
    LevelConfig level;
    level.specific_experts.assign(config->tasks.size(), specific);
    level.shared_experts = shared;
    level.expert = expert;
    level.gate = gate;
    config->levels.push_back(level);
  }
  config->towers.assign(config->tasks.size(), tower);
  return shared;
}

// A DNN layer i: linears.{i}, bn.{i}, activation_layers.{i} (PReLU weight).
std::string DnnName(const std::string& prefix, const NativeName& n) {
  const std::string i = std::to_string(n.layer);
  if (n.module == "linear") return JoinName({prefix, "linears", i, n.param});
  if (n.module == "bn") return JoinName({prefix, "bn", i, n.param});
  return JoinName({prefix, "activation_layers", i, "weight"});  // prelu
}

// The state_dict name of a native tensor name.
std::string FileName(bool ple, const std::string& native) {
  const NativeName n = ParseNativeName(native);
  const std::string l = std::to_string(n.level), t = std::to_string(n.task), j = std::to_string(n.index);
  switch (n.owner) {
    case Owner::kEmbedding:
      return JoinName({"embedding_dict", n.table, "weight"});
    case Owner::kSpecificExpert:
      return DnnName(JoinName({"specific_experts", l, t, j}), n);
    case Owner::kSharedExpert:
      return DnnName(ple ? JoinName({"shared_experts", l, "0", j}) : JoinName({"expert_dnn", j}), n);
    case Owner::kTaskGate:
      if (n.part == Part::kLogits) {
        return ple ? JoinName({"specific_gate_dnn_final_layer", l, t, "weight"})
                   : JoinName({"gate_dnn_final_layer", t, "weight"});
      }
      return DnnName(ple ? JoinName({"specific_gate_dnn", l, t, "0"}) : JoinName({"gate_dnn", t}), n);
    case Owner::kSharedGate:
      if (n.part == Part::kLogits) return JoinName({"shared_gate_dnn_final_layer", l, "weight"});
      return DnnName(JoinName({"shared_gate_dnn", l}), n);
    case Owner::kTower:
      if (n.part == Part::kHead) return JoinName({"tower_dnn_final_layer", t, "weight"});
      if (n.part == Part::kOutputBias) return JoinName({"out", t, "bias"});
      return DnnName(JoinName({"tower_dnn", t}), n);
  }
  return native;
}

bool StartsWith(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

FrameworkModel ImportDeepCtrTorch(const json& root) {
  FrameworkModel out;
  const bool ple = StartFrameworkModel(in, root, "deepctr-torch", &out.config);
  ReadFeatures(root, &out.config);
  ReadTasks(root, &out.config);
  const uint32_t shared = ReadStructure(root, ple, &out.config);
  ParseSharedKeys(root, &out.config);
  out.naming.file_name = [ple](const std::string& native) { return FileName(ple, native); };
  // DeepCTR-Torch builds specific_expert_num shared experts per level and uses the first
  // shared_expert_num: the others' weights are dropped.
  out.naming.ignorable = [ple, shared](const std::string& name) {
    if (!ple || !StartsWith(name, "shared_experts.")) return false;
    const std::vector<std::string> p = SplitName(name);  // shared_experts.{l}.0.{j}....
    return p.size() > 3 && NameNumber(p[3]) >= shared;
  };
  return out;
}

}  // namespace convert
}  // namespace ple
