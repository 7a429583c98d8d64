// torch-rechub and DeepCTR-Torch, as their code builds and computes the models (read from
// their repositories; summarised in docs/importing.md).
#include "framework_importers.h"

#include <cstdlib>
#include <set>
#include <vector>

#include "convert_error.h"

namespace ple {
namespace convert {
namespace {

using nlohmann::json;

[[noreturn]] void Fail(const std::string& framework, const std::string& where, const std::string& message) {
  throw ConvertError(framework + " config: " + where + ": " + message);
}

// ---- reading the framework's JSON ----

class Reader {
 public:
  Reader(std::string framework, const json& root) : framework_(std::move(framework)), root_(root) {}

  [[noreturn]] void Fail(const std::string& where, const std::string& message) const {
    convert::Fail(framework_, where, message);
  }
  const json& Get(const json& object, const char* key, const std::string& where) const {
    if (!object.is_object() || !object.contains(key)) Fail(where, std::string("key '") + key + "' is required");
    return object[key];
  }
  std::string String(const json& object, const char* key, const std::string& where, const char* fallback = nullptr) const {
    if (fallback != nullptr && (!object.contains(key) || object[key].is_null())) return fallback;
    const json& v = Get(object, key, where);
    if (!v.is_string()) Fail(where + "." + key, "a string expected");
    return v.get<std::string>();
  }
  uint32_t Count(const json& object, const char* key, const std::string& where, uint32_t min, uint32_t max,
                 const uint32_t* fallback = nullptr) const {
    if (fallback != nullptr && !object.contains(key)) return *fallback;
    const json& v = Get(object, key, where);
    if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max) {
      Fail(where + "." + key, "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "] expected");
    }
    return static_cast<uint32_t>(v.get<int64_t>());
  }
  bool Bool(const json& object, const char* key, const std::string& where, bool fallback) const {
    if (!object.contains(key)) return fallback;
    if (!object[key].is_boolean()) Fail(where + "." + key, "true or false expected");
    return object[key].get<bool>();
  }
  std::vector<uint32_t> Units(const json& object, const char* key, const std::string& where,
                              const std::vector<uint32_t>& fallback, bool allow_empty) const {
    if (!object.contains(key)) return fallback;
    const json& v = object[key];
    if (!v.is_array()) Fail(where + "." + key, "a list of layer widths expected");
    std::vector<uint32_t> units;
    for (const auto& u : v) {
      if (!u.is_number_integer() || u.get<int64_t>() < 1 || u.get<int64_t>() > (1 << 16)) {
        Fail(where + "." + key, "positive integers expected");
      }
      units.push_back(static_cast<uint32_t>(u.get<int64_t>()));
    }
    if (units.empty() && !allow_empty) Fail(where + "." + key, "at least one layer expected");
    return units;
  }
  fb::Scope Scope(const json& feature, const std::string& where) const {
    const std::string scope = String(feature, "scope", where, "candidate");
    if (scope == "request") return fb::Scope::Request;
    if (scope == "candidate") return fb::Scope::Candidate;
    Fail(where + ".scope", "\"request\" or \"candidate\" expected");
  }
  // Checks "framework" and "model", names the config after the model; true for PLE, false for MMOE.
  bool StartModel(ModelConfig* config) const {
    if (!root_.is_object()) Fail("(top level)", "an object expected");
    const std::string framework = String(root_, "framework", "(top level)");
    if (framework != framework_) {
      Fail("framework", "\"" + framework_ + "\" expected (the --from option), found \"" + framework + "\"");
    }
    const std::string model = String(root_, "model", "(top level)");
    if (model != "PLE" && model != "MMOE") Fail("model", "\"PLE\" or \"MMOE\" expected");
    config->source_framework = framework_;
    config->name = model;
    return model == "PLE";
  }

 private:
  std::string framework_;
  const json& root_;
};

ActivationConfig MapActivation(const Reader& reader, const std::string& name, const std::string& where,
                               bool dice_supported) {
  ActivationConfig a;
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "relu") {
    a.type = fb::Activation::Relu;
  } else if (lower == "sigmoid") {
    a.type = fb::Activation::Sigmoid;
  } else if (lower == "prelu") {
    a.type = fb::Activation::PRelu;
  } else if (lower == "leakyrelu") {
    a.type = fb::Activation::LeakyRelu;  // nn.LeakyReLU(): slope 0.01
  } else if (lower == "linear") {
    a.type = fb::Activation::Identity;
  } else if (lower == "dice" && dice_supported) {
    a.type = fb::Activation::Dice;  // torch-rechub's Dice(epsilon=1e-3)
  } else if (lower == "dice") {
    reader.Fail(where, "dice is not supported here: DeepCTR-Torch's DNN builds Dice for 3-d inputs only");
  } else {
    reader.Fail(where, "unsupported activation '" + name + "'");
  }
  return a;
}

// ---- parsed native tensor names ----

enum class Owner { kEmbedding, kSpecificExpert, kSharedExpert, kTaskGate, kSharedGate, kTower };
enum class Part { kLayer, kLogits, kHead, kOutputBias, kTable };

struct NativeName {
  Owner owner = Owner::kEmbedding;
  Part part = Part::kLayer;
  std::string table;
  uint32_t level = 0, task = 0, index = 0, layer = 0;
  std::string module;  // linear, bn, prelu, dice
  std::string param;   // weight, bias, running_mean, ...
};

std::vector<std::string> Split(const std::string& name) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      parts.push_back(name.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

uint32_t Number(const std::string& text) { return static_cast<uint32_t>(std::strtoul(text.c_str(), nullptr, 10)); }

// The native names the importer asks for (docs/config-format.md), taken apart.
NativeName Parse(const std::string& name) {
  NativeName n;
  const std::vector<std::string> p = Split(name);
  if (p[0] == "embeddings") {
    n.owner = Owner::kEmbedding;
    n.part = Part::kTable;
    n.table = name.substr(std::string("embeddings.").size(), name.size() - std::string("embeddings..weight").size());
    return n;
  }
  size_t next = 0;
  if (p[0] == "towers") {
    n.owner = Owner::kTower;
    n.task = Number(p[1]);
    next = 2;
  } else {  // levels.{l}.<owner>...
    n.level = Number(p[1]);
    const std::string& owner = p[2];
    if (owner == "specific_experts") {
      n.owner = Owner::kSpecificExpert;
      n.task = Number(p[3]);
      n.index = Number(p[4]);
      next = 5;
    } else if (owner == "shared_experts") {
      n.owner = Owner::kSharedExpert;
      n.index = Number(p[3]);
      next = 4;
    } else if (owner == "task_gates") {
      n.owner = Owner::kTaskGate;
      n.task = Number(p[3]);
      next = 4;
    } else {
      n.owner = Owner::kSharedGate;
      next = 3;
    }
  }
  if (p[next] == "layers") {
    n.part = Part::kLayer;
    n.layer = Number(p[next + 1]);
    n.module = p[next + 2];
    n.param = p[next + 3];
  } else if (p[next] == "logits") {
    n.part = Part::kLogits;
    n.module = p[next + 1];
    n.param = p[next + 2];
  } else if (p[next] == "head") {
    n.part = Part::kHead;
    n.param = p[next + 1];
  } else {
    n.part = Part::kOutputBias;
  }
  return n;
}

std::string Join(std::initializer_list<std::string> parts) {
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : ".") + part;
  return out;
}

// ---- torch-rechub ----

// MLP layer i in torch-rechub's nn.Sequential: Linear (4i), BatchNorm1d (4i+1), activation
// (4i+2: PReLU `weight`, Dice `alpha`), Dropout (4i+3).
std::string RechubMlp(const std::string& prefix, const NativeName& n) {
  const uint32_t base = 4 * n.layer;
  if (n.module == "linear") return Join({prefix, "mlp", std::to_string(base), n.param});
  if (n.module == "bn") return Join({prefix, "mlp", std::to_string(base + 1), n.param});
  if (n.module == "prelu") return Join({prefix, "mlp", std::to_string(base + 2), "weight"});
  return Join({prefix, "mlp", std::to_string(base + 2), "alpha"});  // dice
}

}  // namespace

FrameworkModel ImportTorchRechub(const json& root) {
  Reader reader("torch-rechub", root);
  FrameworkModel out;
  ModelConfig& config = out.config;
  const bool ple = reader.StartModel(&config);

  // Features: sparse and sequence embeddings in list order, then dense values in list order.
  const json& features = reader.Get(root, "features", "(top level)");
  if (!features.is_array() || features.empty()) reader.Fail("features", "a non-empty list expected");
  std::vector<FeatureConfig> embedded, dense;
  std::vector<std::pair<std::string, std::string>> shared;  // (feature, shared_with)
  std::set<std::string> names;
  for (size_t i = 0; i < features.size(); ++i) {
    const json& f = features[i];
    const std::string where = "features[" + std::to_string(i) + "]";
    const std::string type = reader.String(f, "type", where);
    FeatureConfig feature;
    feature.name = reader.String(f, "name", where);
    if (!names.insert(feature.name).second) reader.Fail(where + ".name", "'" + feature.name + "' is used twice");
    feature.scope = reader.Scope(f, where);
    if (type == "DenseFeature") {
      const uint32_t one = 1;
      feature.kind = fb::FeatureKind::Dense;
      feature.width = reader.Count(f, "embed_dim", where, 1, 1 << 16, &one);
      dense.push_back(feature);
      continue;
    }
    if (type != "SparseFeature" && type != "SequenceFeature") {
      reader.Fail(where + ".type", "\"SparseFeature\", \"SequenceFeature\" or \"DenseFeature\" expected");
    }
    const uint32_t vocabulary = reader.Count(f, "vocab_size", where, 1, 1u << 30);
    if (!f.contains("embed_dim") || f["embed_dim"].is_null()) {
      reader.Fail(where + ".embed_dim", "required (torch-rechub's automatic size is not reproduced)");
    }
    const uint32_t dim = reader.Count(f, "embed_dim", where, 1, 1 << 16);
    const std::string shared_with = f.contains("shared_with") && !f["shared_with"].is_null()
                                        ? reader.String(f, "shared_with", where)
                                        : "";
    if (shared_with.empty()) {
      config.tables.push_back({feature.name, vocabulary, dim, false});
    } else {
      shared.emplace_back(feature.name, shared_with);
    }
    feature.width = dim;
    feature.kind = type == "SparseFeature" ? fb::FeatureKind::Sparse : fb::FeatureKind::Sequence;
    if (feature.kind == fb::FeatureKind::Sequence) {
      const std::string pooling = reader.String(f, "pooling", where, "mean");
      if (pooling != "sum" && pooling != "mean") {
        reader.Fail(where + ".pooling", "\"sum\" or \"mean\" expected (\"concat\" keeps the sequence: not supported)");
      }
      feature.pooling = pooling == "sum" ? fb::Pooling::Sum : fb::Pooling::Mean;
      feature.mean_eps = pooling == "mean" ? 1e-16f : 0.0f;  // AveragePooling: sum / (count + 1e-16)
      feature.max_length = reader.Count(f, "max_length", where, 1, 1u << 20);
      feature.has_padding_id = true;  // InputMask: x != padding_idx, or x != -1 without one
      feature.padding_id = f.contains("padding_idx") && !f["padding_idx"].is_null() ? f["padding_idx"].get<int64_t>() : -1;
    }
    if (f.contains("oov")) ParseOov(f["oov"], where + ".oov", vocabulary, &feature);
    embedded.push_back(feature);
  }
  // Tables: named after the feature that owns them; shared_with names that feature.
  auto table_index = [&](const std::string& name) -> int {
    for (size_t t = 0; t < config.tables.size(); ++t) {
      if (config.tables[t].name == name) return static_cast<int>(t);
    }
    return -1;
  };
  for (FeatureConfig& feature : embedded) {
    std::string owner = feature.name;
    for (const auto& [name, with] : shared) {
      if (name == feature.name) owner = with;
    }
    const int t = table_index(owner);
    if (t < 0) reader.Fail("features", "'" + feature.name + "' shares the embedding of '" + owner + "', which has none");
    if (config.tables[t].dim != feature.width) {
      reader.Fail("features", "'" + feature.name + "' has embed_dim " + std::to_string(feature.width) + " but shares '" +
                                  owner + "' of dim " + std::to_string(config.tables[t].dim));
    }
    feature.table = static_cast<uint32_t>(t);
    if (feature.oov_policy == fb::OovPolicy::OovRow && feature.oov_row >= config.tables[t].vocabulary) {
      reader.Fail("features", "'" + feature.name + "': oov_row outside the shared table");
    }
  }
  config.features = embedded;
  config.features.insert(config.features.end(), dense.begin(), dense.end());

  // Tasks.
  const json& task_types = reader.Get(root, "task_types", "(top level)");
  if (!task_types.is_array() || task_types.empty()) reader.Fail("task_types", "a non-empty list expected");
  for (size_t t = 0; t < task_types.size(); ++t) {
    const std::string type = task_types[t].is_string() ? task_types[t].get<std::string>() : "";
    if (type != "classification" && type != "regression") {
      reader.Fail("task_types[" + std::to_string(t) + "]", "\"classification\" or \"regression\" expected");
    }
    TaskConfig task;
    task.type = type == "classification" ? fb::TaskType::Binary : fb::TaskType::Regression;
    task.name = "task" + std::to_string(t);
    if (root.contains("task_names")) {
      const json& task_names = root["task_names"];
      if (!task_names.is_array() || task_names.size() != task_types.size() || !task_names[t].is_string()) {
        reader.Fail("task_names", "one name per task expected");
      }
      task.name = task_names[t].get<std::string>();
    }
    config.tasks.push_back(task);
  }
  const uint32_t tasks = static_cast<uint32_t>(config.tasks.size());

  // Every MLP: Linear -> BatchNorm1d (eps 1e-5) -> activation -> Dropout (identity).
  const json& expert_params = reader.Get(root, "expert_params", "(top level)");
  MlpConfig expert;
  expert.units = reader.Units(expert_params, "dims", "expert_params", {}, /*allow_empty=*/false);
  expert.activation = MapActivation(reader, reader.String(expert_params, "activation", "expert_params", "relu"),
                                    "expert_params.activation", true);
  expert.batch_norm = true;
  GateConfig gate;  // MLP(dims=[n], activation="softmax"): Linear -> BatchNorm1d -> softmax
  gate.bias = true;
  gate.batch_norm = true;
  uint32_t n_level = 1, specific = 0, shared_count = 0;
  if (ple) {
    n_level = reader.Count(root, "n_level", "(top level)", 1, 64);
    specific = reader.Count(root, "n_expert_specific", "(top level)", 0, 1024);
    shared_count = reader.Count(root, "n_expert_shared", "(top level)", 0, 1024);
  } else {
    shared_count = reader.Count(root, "n_expert", "(top level)", 1, 1024);
  }
  for (uint32_t l = 0; l < n_level; ++l) {
    LevelConfig level;
    level.specific_experts.assign(tasks, specific);
    level.shared_experts = shared_count;
    level.expert = expert;
    level.gate = gate;
    if (specific + shared_count == 0) reader.Fail("(top level)", "no experts");
    config.levels.push_back(level);
  }
  const json& towers = reader.Get(root, "tower_params_list", "(top level)");
  if (!towers.is_array() || towers.size() != tasks) reader.Fail("tower_params_list", "one object per task expected");
  std::vector<size_t> tower_layers;
  for (uint32_t t = 0; t < tasks; ++t) {
    const std::string where = "tower_params_list[" + std::to_string(t) + "]";
    TowerConfig tower;
    tower.mlp.units = reader.Units(towers[t], "dims", where, {}, /*allow_empty=*/true);
    tower.mlp.activation = MapActivation(reader, reader.String(towers[t], "activation", where, "relu"),
                                         where + ".activation", true);
    tower.mlp.batch_norm = true;
    tower.head_bias = true;  // MLP(output_layer=True): Linear(*, 1) with bias
    config.towers.push_back(tower);
    tower_layers.push_back(tower.mlp.units.size());
  }
  ParseSharedKeys(root, &config);

  out.naming.file_name = [ple, specific, tower_layers](const std::string& native) {
    const NativeName n = Parse(native);
    switch (n.owner) {
      case Owner::kEmbedding:
        return Join({"embedding.embed_dict", n.table, "weight"});
      case Owner::kSpecificExpert:
        return RechubMlp(Join({"cgc_layers", std::to_string(n.level), "experts_specific",
                               std::to_string(n.task * specific + n.index)}),
                         n);
      case Owner::kSharedExpert:
        return RechubMlp(ple ? Join({"cgc_layers", std::to_string(n.level), "experts_shared", std::to_string(n.index)})
                             : Join({"experts", std::to_string(n.index)}),
                         n);
      case Owner::kTaskGate:
      case Owner::kSharedGate: {
        const std::string prefix =
            n.owner == Owner::kSharedGate
                ? Join({"cgc_layers", std::to_string(n.level), "gate_shared"})
                : (ple ? Join({"cgc_layers", std::to_string(n.level), "gates_specific", std::to_string(n.task)})
                       : Join({"gates", std::to_string(n.task)}));
        NativeName logits = n;
        logits.layer = 0;  // the gate MLP has the logits layer only
        return RechubMlp(prefix, logits);
      }
      case Owner::kTower: {
        const std::string prefix = Join({"towers", std::to_string(n.task)});
        if (n.part == Part::kHead) {
          return Join({prefix, "mlp", std::to_string(4 * tower_layers[n.task]), n.param});
        }
        return RechubMlp(prefix, n);
      }
    }
    return native;
  };
  return out;
}

// ---- DeepCTR-Torch ----

namespace {

// A DNN layer i: linears.{i}, bn.{i}, activation_layers.{i} (PReLU weight).
std::string DeepCtrDnn(const std::string& prefix, const NativeName& n) {
  const std::string i = std::to_string(n.layer);
  if (n.module == "linear") return Join({prefix, "linears", i, n.param});
  if (n.module == "bn") return Join({prefix, "bn", i, n.param});
  return Join({prefix, "activation_layers", i, "weight"});  // prelu
}

bool StartsWith(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

FrameworkModel ImportDeepCtrTorch(const json& root) {
  Reader reader("deepctr-torch", root);
  FrameworkModel out;
  ModelConfig& config = out.config;
  const bool ple = reader.StartModel(&config);

  // Features: SparseFeat embeddings, then VarLenSparseFeat poolings, then DenseFeat values,
  // each group in list order (BaseModel.input_from_feature_columns, combined_dnn_input).
  const json& columns = reader.Get(root, "dnn_feature_columns", "(top level)");
  if (!columns.is_array() || columns.empty()) reader.Fail("dnn_feature_columns", "a non-empty list expected");
  std::vector<FeatureConfig> sparse, varlen, dense;
  std::set<std::string> names;
  auto table_for = [&](const std::string& name, uint32_t vocabulary, uint32_t dim, const std::string& where) {
    for (size_t t = 0; t < config.tables.size(); ++t) {
      if (config.tables[t].name != name) continue;
      if (config.tables[t].vocabulary != vocabulary || config.tables[t].dim != dim) {
        reader.Fail(where, "embedding '" + name + "' is declared with different vocabulary_size or embedding_dim");
      }
      return static_cast<uint32_t>(t);
    }
    config.tables.push_back({name, vocabulary, dim, false});
    return static_cast<uint32_t>(config.tables.size() - 1);
  };
  for (size_t i = 0; i < columns.size(); ++i) {
    const json& c = columns[i];
    const std::string where = "dnn_feature_columns[" + std::to_string(i) + "]";
    const std::string type = reader.String(c, "type", where);
    FeatureConfig feature;
    feature.scope = reader.Scope(c, where);
    if (type == "DenseFeat") {
      const uint32_t one = 1;
      feature.name = reader.String(c, "name", where);
      feature.kind = fb::FeatureKind::Dense;
      feature.width = reader.Count(c, "dimension", where, 1, 1 << 16, &one);
      if (!names.insert(feature.name).second) reader.Fail(where + ".name", "'" + feature.name + "' is used twice");
      dense.push_back(feature);
      continue;
    }
    const bool is_varlen = type == "VarLenSparseFeat";
    if (!is_varlen && type != "SparseFeat") {
      reader.Fail(where + ".type", "\"SparseFeat\", \"VarLenSparseFeat\" or \"DenseFeat\" expected");
    }
    const json& s = is_varlen ? reader.Get(c, "sparsefeat", where) : c;
    const std::string swhere = is_varlen ? where + ".sparsefeat" : where;
    feature.name = reader.String(s, "name", swhere);
    if (!names.insert(feature.name).second) reader.Fail(swhere + ".name", "'" + feature.name + "' is used twice");
    const uint32_t vocabulary = reader.Count(s, "vocabulary_size", swhere, 1, 1u << 30);
    const uint32_t four = 4;  // SparseFeat's default embedding_dim
    if (s.contains("embedding_dim") && s["embedding_dim"].is_string()) {
      reader.Fail(swhere + ".embedding_dim", "give the number (\"auto\" is 6 * int(vocabulary_size ** 0.25))");
    }
    const uint32_t dim = reader.Count(s, "embedding_dim", swhere, 1, 1 << 16, &four);
    if (reader.Bool(s, "use_hash", swhere, false)) {
      reader.Fail(swhere + ".use_hash", "DeepCTR-Torch ignores use_hash; set it to false");
    }
    const std::string table = reader.String(s, "embedding_name", swhere, feature.name.c_str());
    feature.table = table_for(table, vocabulary, dim, swhere);
    feature.width = dim;
    const json& oov_holder = c.contains("oov") ? c : s;
    if (oov_holder.contains("oov")) ParseOov(oov_holder["oov"], where + ".oov", vocabulary, &feature);
    if (!is_varlen) {
      feature.kind = fb::FeatureKind::Sparse;
      sparse.push_back(feature);
      continue;
    }
    feature.kind = fb::FeatureKind::Sequence;
    feature.max_length = reader.Count(c, "maxlen", where, 1, 1u << 20);
    const std::string combiner = reader.String(c, "combiner", where, "mean");
    if (combiner != "sum" && combiner != "mean") reader.Fail(where + ".combiner", "\"sum\" or \"mean\" expected (max is not supported)");
    feature.pooling = combiner == "sum" ? fb::Pooling::Sum : fb::Pooling::Mean;
    feature.mean_eps = combiner == "mean" ? 1e-8f : 0.0f;  // SequencePoolingLayer: sum / (length + 1e-8)
    // Without length_name, ids equal to 0 are masked; with it, the caller gives only the valid ids.
    const bool has_length = c.contains("length_name") && !c["length_name"].is_null();
    feature.has_padding_id = !has_length;
    feature.padding_id = 0;
    varlen.push_back(feature);
  }
  config.features = sparse;
  config.features.insert(config.features.end(), varlen.begin(), varlen.end());
  config.features.insert(config.features.end(), dense.begin(), dense.end());

  const json& task_types = reader.Get(root, "task_types", "(top level)");
  const json& task_names = reader.Get(root, "task_names", "(top level)");
  if (!task_types.is_array() || !task_names.is_array() || task_types.size() != task_names.size() || task_types.empty()) {
    reader.Fail("task_types", "task_types and task_names: non-empty lists of the same length expected");
  }
  for (size_t t = 0; t < task_types.size(); ++t) {
    const std::string type = task_types[t].is_string() ? task_types[t].get<std::string>() : "";
    if (type != "binary" && type != "regression") {
      reader.Fail("task_types[" + std::to_string(t) + "]", "\"binary\" or \"regression\" expected");
    }
    if (!task_names[t].is_string()) reader.Fail("task_names[" + std::to_string(t) + "]", "a string expected");
    config.tasks.push_back({task_names[t].get<std::string>(), type == "binary" ? fb::TaskType::Binary
                                                                              : fb::TaskType::Regression});
  }
  const uint32_t tasks = static_cast<uint32_t>(config.tasks.size());

  // DNN: Linear -> [BatchNorm1d] -> activation -> Dropout.
  const ActivationConfig activation =
      MapActivation(reader, reader.String(root, "dnn_activation", "(top level)", "relu"), "dnn_activation", false);
  const bool use_bn = reader.Bool(root, "dnn_use_bn", "(top level)", false);
  MlpConfig expert;
  expert.units = reader.Units(root, "expert_dnn_hidden_units", "(top level)", {256, 128}, false);
  expert.activation = activation;
  expert.batch_norm = use_bn;
  GateConfig gate;  // optional gate DNN, then Linear(bias=False), softmax
  gate.hidden.units = reader.Units(root, "gate_dnn_hidden_units", "(top level)", {64}, true);
  gate.hidden.activation = activation;
  gate.hidden.batch_norm = use_bn;
  gate.bias = false;
  const std::vector<uint32_t> tower_units = reader.Units(root, "tower_dnn_hidden_units", "(top level)", {64}, true);
  uint32_t levels = 1, specific = 0, shared_count = 0;
  if (ple) {
    levels = reader.Count(root, "num_levels", "(top level)", 1, 64);
    specific = reader.Count(root, "specific_expert_num", "(top level)", 0, 1024);
    shared_count = reader.Count(root, "shared_expert_num", "(top level)", 0, 1024);
    if (shared_count > specific) {
      reader.Fail("shared_expert_num", "more shared than specific experts: DeepCTR-Torch builds only "
                                       "specific_expert_num shared experts, so this model cannot run there");
    }
    config.last_level_shared_gate_present = true;  // built on every level, unused on the last
  } else {
    shared_count = reader.Count(root, "num_experts", "(top level)", 2, 1024);
  }
  for (uint32_t l = 0; l < levels; ++l) {
    LevelConfig level;
    level.specific_experts.assign(tasks, specific);
    level.shared_experts = shared_count;
    level.expert = expert;
    level.gate = gate;
    config.levels.push_back(level);
  }
  for (uint32_t t = 0; t < tasks; ++t) {
    TowerConfig tower;
    tower.mlp.units = tower_units;
    tower.mlp.activation = activation;
    tower.mlp.batch_norm = use_bn;
    tower.head_bias = false;   // tower_dnn_final_layer: Linear(*, 1, bias=False)
    tower.output_bias = true;  // PredictionLayer's scalar bias
    config.towers.push_back(tower);
  }
  ParseSharedKeys(root, &config);

  out.naming.file_name = [ple](const std::string& native) {
    const NativeName n = Parse(native);
    const std::string l = std::to_string(n.level), t = std::to_string(n.task), j = std::to_string(n.index);
    switch (n.owner) {
      case Owner::kEmbedding:
        return Join({"embedding_dict", n.table, "weight"});
      case Owner::kSpecificExpert:
        return DeepCtrDnn(Join({"specific_experts", l, t, j}), n);
      case Owner::kSharedExpert:
        return DeepCtrDnn(ple ? Join({"shared_experts", l, "0", j}) : Join({"expert_dnn", j}), n);
      case Owner::kTaskGate:
        if (n.part == Part::kLogits) {
          return ple ? Join({"specific_gate_dnn_final_layer", l, t, "weight"}) : Join({"gate_dnn_final_layer", t, "weight"});
        }
        return DeepCtrDnn(ple ? Join({"specific_gate_dnn", l, t, "0"}) : Join({"gate_dnn", t}), n);
      case Owner::kSharedGate:
        if (n.part == Part::kLogits) return Join({"shared_gate_dnn_final_layer", l, "weight"});
        return DeepCtrDnn(Join({"shared_gate_dnn", l}), n);
      case Owner::kTower:
        if (n.part == Part::kHead) return Join({"tower_dnn_final_layer", t, "weight"});
        if (n.part == Part::kOutputBias) return Join({"out", t, "bias"});
        return DeepCtrDnn(Join({"tower_dnn", t}), n);
    }
    return native;
  };
  // DeepCTR-Torch builds specific_expert_num shared experts per level and uses the first
  // shared_expert_num: the others' weights are dropped.
  out.naming.ignorable = [ple, shared_count](const std::string& name) {
    if (!ple || !StartsWith(name, "shared_experts.")) return false;
    const std::vector<std::string> p = Split(name);  // shared_experts.{l}.0.{j}....
    return p.size() > 3 && Number(p[3]) >= shared_count;
  };
  return out;
}

}  // namespace convert
}  // namespace ple
