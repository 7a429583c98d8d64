#include "model_config.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "convert_error.h"
#include "encoder_config.h"
#include "json_reader.h"
#include "load/score.h"

namespace ple {
namespace convert {
namespace {

using nlohmann::json;

constexpr uint32_t kMaxUnits = 1u << 16;

double GetEps(const json& object, const std::string& where, double fallback) {
  if (!object.contains("batch_norm_eps")) return fallback;
  const json& v = object["batch_norm_eps"];
  if (!v.is_number() || !(v.get<double>() > 0.0) || v.get<double>() > 1.0) {
    kConfigJson.Fail(where + ".batch_norm_eps", "a number in (0, 1] expected");
  }
  return v.get<double>();
}

ActivationConfig ParseActivation(const json& value, const std::string& where) {
  static const std::pair<const char*, fb::Activation> kNames[] = {
      {"identity", fb::Activation::Identity}, {"relu", fb::Activation::Relu},
      {"leaky_relu", fb::Activation::LeakyRelu}, {"prelu", fb::Activation::PRelu},
      {"sigmoid", fb::Activation::Sigmoid}, {"tanh", fb::Activation::Tanh}, {"silu", fb::Activation::Silu},
      {"dice", fb::Activation::Dice}};
  ActivationConfig config;
  std::string name;
  if (value.is_string()) {
    name = value.get<std::string>();
  } else if (value.is_object()) {
    kConfigJson.CheckKeys(value, where, {"type", "negative_slope", "epsilon"});
    name = kConfigJson.String(value, "type", where);
    if (value.contains("negative_slope")) {
      if (name != "leaky_relu") kConfigJson.Fail(where, "negative_slope applies to leaky_relu only");
      if (!value["negative_slope"].is_number()) kConfigJson.Fail(where + ".negative_slope", "a number expected");
      config.negative_slope = value["negative_slope"].get<float>();
    }
    if (value.contains("epsilon")) {
      if (name != "dice") kConfigJson.Fail(where, "epsilon applies to dice only");
      if (!value["epsilon"].is_number() || !(value["epsilon"].get<double>() > 0)) {
        kConfigJson.Fail(where + ".epsilon", "a positive number expected");
      }
      config.dice_epsilon = value["epsilon"].get<float>();
    }
  } else {
    kConfigJson.Fail(where, "an activation name or {\"type\": ...} expected");
  }
  for (const auto& entry : kNames) {
    if (name == entry.first) {
      config.type = entry.second;
      return config;
    }
  }
  kConfigJson.Fail(where, "unsupported activation '" + name +
                              "' (supported: identity, relu, leaky_relu, prelu, sigmoid, tanh, silu, dice)");
}

// Shallow merge: keys of `override_object` replace those of `defaults`.
json Merge(const json& defaults, const json* override_object, const std::string& where) {
  json merged = defaults.is_null() ? json::object() : defaults;
  if (override_object != nullptr) {
    if (!override_object->is_object()) kConfigJson.Fail(where, "an object expected");
    for (auto it = override_object->begin(); it != override_object->end(); ++it) merged[it.key()] = it.value();
  }
  return merged;
}

// The MLP fields experts and towers share: units, activation, batch_norm, bias, batch_norm_eps.
MlpConfig ParseMlpFields(const json& object, const std::string& where, double default_eps, bool allow_no_layers) {
  MlpConfig config;
  config.units = kConfigJson.Units(object, "units", where, allow_no_layers);
  if (object.contains("activation")) config.activation = ParseActivation(object["activation"], where + ".activation");
  config.batch_norm = kConfigJson.Bool(object, "batch_norm", where, false);
  config.bias = kConfigJson.Bool(object, "bias", where, true);
  config.batch_norm_eps = GetEps(object, where, default_eps);
  return config;
}

MlpConfig ParseExpert(const json& object, const std::string& where, double default_eps) {
  kConfigJson.CheckKeys(object, where, {"units", "activation", "batch_norm", "bias", "batch_norm_eps"});
  return ParseMlpFields(object, where, default_eps, /*allow_no_layers=*/false);
}

GateConfig ParseGate(const json& object, const std::string& where, double default_eps) {
  kConfigJson.CheckKeys(object, where,
                        {"type", "hidden_units", "hidden_activation", "hidden_batch_norm", "hidden_bias", "bias",
                         "batch_norm", "batch_norm_eps"});
  GateConfig config;
  const bool softmax = true;
  config.has_gate = kConfigJson.Choice<bool>(object, "type", where, {{"softmax", true}, {"none", false}}, &softmax);
  config.hidden.units = kConfigJson.Units(object, "hidden_units", where, /*allow_empty=*/true);
  if (object.contains("hidden_activation")) {
    config.hidden.activation = ParseActivation(object["hidden_activation"], where + ".hidden_activation");
  }
  config.hidden.batch_norm = kConfigJson.Bool(object, "hidden_batch_norm", where, false);
  config.hidden.bias = kConfigJson.Bool(object, "hidden_bias", where, true);
  config.bias = kConfigJson.Bool(object, "bias", where, true);
  config.batch_norm = kConfigJson.Bool(object, "batch_norm", where, false);
  config.batch_norm_eps = GetEps(object, where, default_eps);
  config.hidden.batch_norm_eps = config.batch_norm_eps;
  return config;
}

TowerConfig ParseTower(const json& object, const std::string& where, double default_eps) {
  kConfigJson.CheckKeys(object, where,
                        {"units", "activation", "batch_norm", "bias", "batch_norm_eps", "head_bias", "output_bias"});
  TowerConfig config;
  config.mlp = ParseMlpFields(object, where, default_eps, /*allow_no_layers=*/true);
  config.head_bias = kConfigJson.Bool(object, "head_bias", where, true);
  config.output_bias = kConfigJson.Bool(object, "output_bias", where, false);
  return config;
}

void ParseScore(const json& s, ModelConfig* config);

// A number, or a list of `width` numbers, as `width` floats.
std::vector<float> GetFloats(const json& value, const std::string& where, uint32_t width) {
  if (value.is_number()) return std::vector<float>(width, value.get<float>());
  if (!value.is_array() || value.size() != width) {
    kConfigJson.Fail(where, "a number or a list of " + std::to_string(width) + " numbers expected");
  }
  std::vector<float> out;
  for (const auto& v : value) {
    if (!v.is_number()) kConfigJson.Fail(where, "a number or a list of " + std::to_string(width) + " numbers expected");
    out.push_back(v.get<float>());
  }
  return out;
}

void ParseTables(const json& tables, ModelConfig* config) {
  if (!tables.is_array()) kConfigJson.Fail("tables", "a list expected");
  std::set<std::string> names;
  for (size_t i = 0; i < tables.size(); ++i) {
    const std::string where = "tables[" + std::to_string(i) + "]";
    kConfigJson.CheckKeys(tables[i], where, {"name", "vocabulary", "dim", "dtype"});
    TableConfig table;
    table.name = kConfigJson.String(tables[i], "name", where);
    if (table.name.empty()) kConfigJson.Fail(where + ".name", "must not be empty");
    if (!names.insert(table.name).second) kConfigJson.Fail(where + ".name", "'" + table.name + "' is used twice");
    if (!tables[i].contains("vocabulary") || !tables[i].contains("dim"))
      kConfigJson.Fail(where, "'vocabulary' and 'dim' are required");
    table.vocabulary = kConfigJson.AsCount(tables[i]["vocabulary"], where + ".vocabulary", 1, 1u << 30);
    table.dim = kConfigJson.AsCount(tables[i]["dim"], where + ".dim", 1, kMaxUnits);
    const bool f32 = false;
    table.f16 = kConfigJson.Choice<bool>(tables[i], "dtype", where, {{"f32", false}, {"f16", true}}, &f32);
    config->tables.push_back(table);
  }
}

// A dense feature's own keys: width, normalize, nan.
void ParseDenseFields(const json& f, const std::string& where, FeatureConfig* feature) {
  if (!f.contains("width")) kConfigJson.Fail(where, "key 'width' is required for a dense feature");
  feature->width = kConfigJson.AsCount(f["width"], where + ".width", 1, kMaxUnits);
  if (f.contains("normalize")) {
    const json& n = f["normalize"];
    kConfigJson.CheckKeys(n, where + ".normalize", {"mean", "std"});
    if (!n.contains("mean") || !n.contains("std")) {
      kConfigJson.Fail(where + ".normalize", "'mean' and 'std' are required");
    }
    feature->normalize_mean = GetFloats(n["mean"], where + ".normalize.mean", feature->width);
    feature->normalize_std = GetFloats(n["std"], where + ".normalize.std", feature->width);
    for (size_t i = 0; i < feature->width; ++i) {
      if (!std::isfinite(feature->normalize_mean[i]) || !(feature->normalize_std[i] > 0.0f) ||
          !std::isfinite(feature->normalize_std[i])) {
        kConfigJson.Fail(where + ".normalize",
                         "mean must be finite and std finite and > 0 (value " + std::to_string(i) + ")");
      }
    }
  }
  if (f.contains("nan")) {
    const json& nan = f["nan"];
    if (nan.is_string() && nan == "error") {
      feature->nan_policy = fb::NanPolicy::Error;
    } else if (nan.is_object() && nan.size() == 1 && nan.contains("replace") && nan["replace"].is_number() &&
               std::isfinite(nan["replace"].get<double>())) {
      feature->nan_policy = fb::NanPolicy::Replace;
      feature->nan_replacement = nan["replace"].get<float>();
    } else {
      kConfigJson.Fail(where + ".nan", "\"error\" or {\"replace\": <finite number>} expected");
    }
  }
}

// A sparse or sequence feature's table, oov policy and encoder.
void ParseEmbeddingFields(const json& f, const std::string& where, const ModelConfig& config,
                          FeatureConfig* feature) {
  const std::string table = kConfigJson.String(f, "table", where);
  bool found = false;
  for (size_t t = 0; t < config.tables.size(); ++t) {
    if (config.tables[t].name == table) {
      feature->table = static_cast<uint32_t>(t);
      found = true;
    }
  }
  if (!found) kConfigJson.Fail(where + ".table", "no table named '" + table + "' in 'tables'");
  const TableConfig& t = config.tables[feature->table];
  feature->width = t.dim;
  if (f.contains("oov")) ParseOov(f["oov"], where + ".oov", t.vocabulary, feature);
  if (f.contains("encoder")) {
    feature->encoder = ParseEncoder(f["encoder"], where + ".encoder", t.vocabulary, config.base_directory);
  }
}

// A sequence feature's own keys: max_length, pooling, padding_id, mean_eps.
void ParseSequenceFields(const json& f, const std::string& where, FeatureConfig* feature) {
  if (!f.contains("max_length")) kConfigJson.Fail(where, "key 'max_length' is required for a sequence feature");
  feature->max_length = kConfigJson.AsCount(f["max_length"], where + ".max_length", 1, 1u << 20);
  feature->pooling =
      kConfigJson.Choice<fb::Pooling>(f, "pooling", where, {{"sum", fb::Pooling::Sum}, {"mean", fb::Pooling::Mean}});
  if (f.contains("padding_id") && !f["padding_id"].is_null()) {
    if (!f["padding_id"].is_number_integer()) kConfigJson.Fail(where + ".padding_id", "an integer or null expected");
    feature->has_padding_id = true;
    feature->padding_id = f["padding_id"].get<int64_t>();
  }
  if (f.contains("mean_eps")) {
    if (feature->pooling != fb::Pooling::Mean) kConfigJson.Fail(where + ".mean_eps", "applies to mean pooling only");
    if (!f["mean_eps"].is_number() || f["mean_eps"].get<double>() < 0 || f["mean_eps"].get<double>() > 1) {
      kConfigJson.Fail(where + ".mean_eps", "a number in [0, 1] expected");
    }
    feature->mean_eps = f["mean_eps"].get<float>();
  }
}

FeatureConfig ParseFeature(const json& f, const std::string& where, const ModelConfig& config) {
  kConfigJson.CheckKeys(f, where,
                        {"name", "kind", "scope", "width", "normalize", "nan", "table", "oov", "max_length", "pooling",
                         "padding_id", "mean_eps", "encoder"});
  FeatureConfig feature;
  feature.name = kConfigJson.String(f, "name", where);
  if (feature.name.empty()) kConfigJson.Fail(where + ".name", "must not be empty");
  feature.kind = kConfigJson.Choice<fb::FeatureKind>(f, "kind", where,
                                                     {{"dense", fb::FeatureKind::Dense},
                                                      {"sparse", fb::FeatureKind::Sparse},
                                                      {"sequence", fb::FeatureKind::Sequence}});
  feature.scope = kConfigJson.Choice<fb::Scope>(f, "scope", where,
                                                {{"request", fb::Scope::Request}, {"candidate", fb::Scope::Candidate}});
  auto reject = [&](std::initializer_list<const char*> keys, const char* kind) {
    for (const char* key : keys) {
      if (f.contains(key)) kConfigJson.Fail(where + "." + key, std::string("does not apply to a ") + kind + " feature");
    }
  };
  if (feature.kind == fb::FeatureKind::Dense) {
    reject({"table", "oov", "max_length", "pooling", "padding_id", "mean_eps", "encoder"}, "dense");
    ParseDenseFields(f, where, &feature);
    return feature;
  }
  reject({"width", "normalize", "nan"}, feature.kind == fb::FeatureKind::Sparse ? "sparse" : "sequence");
  ParseEmbeddingFields(f, where, config, &feature);
  if (feature.kind == fb::FeatureKind::Sparse) {
    reject({"max_length", "pooling", "padding_id", "mean_eps"}, "sparse");
  } else {
    ParseSequenceFields(f, where, &feature);
  }
  return feature;
}

// `inputs` (dense only) or `tables` + `features`, then `extras`.
void ParseFeatureLayer(const json& root, ModelConfig* config) {
  const bool has_inputs = root.contains("inputs"), has_features = root.contains("features");
  if (has_inputs == has_features) kConfigJson.Fail("(top level)", "exactly one of 'inputs' and 'features' is required");
  if (has_inputs && root.contains("tables")) kConfigJson.Fail("tables", "tables need 'features' (not 'inputs')");
  if (root.contains("tables")) ParseTables(root["tables"], config);
  const char* key = has_inputs ? "inputs" : "features";
  const json& list = root[key];
  if (!list.is_array() || list.empty()) kConfigJson.Fail(key, "a non-empty list expected");
  std::set<std::string> names;
  uint64_t row_width = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = std::string(key) + "[" + std::to_string(i) + "]";
    FeatureConfig feature;
    if (has_inputs) {
      kConfigJson.CheckKeys(list[i], where, {"name", "width", "scope"});
      json as_feature = list[i];
      as_feature["kind"] = "dense";
      feature = ParseFeature(as_feature, where, *config);
    } else {
      feature = ParseFeature(list[i], where, *config);
    }
    if (!names.insert(feature.name).second) kConfigJson.Fail(where + ".name", "'" + feature.name + "' is used twice");
    row_width += feature.width;
    config->features.push_back(feature);
  }
  if (row_width > kMaxUnits)
    kConfigJson.Fail(key, "the input row is wider than " + std::to_string(kMaxUnits) + " floats");
}

void ParseScore(const json& s, ModelConfig* config) {
  kConfigJson.CheckKeys(s, "score", {"exponents", "transform", "regression_floor"});
  ScoreConfig& score = config->score;
  score.present = true;
  score.exponents.assign(config->tasks.size(), 0.0f);
  if (!s.contains("exponents") || !s["exponents"].is_object())
    kConfigJson.Fail("score.exponents", "an object {task: exponent} expected");
  for (auto it = s["exponents"].begin(); it != s["exponents"].end(); ++it) {
    bool found = false;
    for (size_t t = 0; t < config->tasks.size(); ++t) {
      if (config->tasks[t].name == it.key()) {
        if (!it.value().is_number() || !std::isfinite(it.value().get<double>())) {
          kConfigJson.Fail("score.exponents." + it.key(), "a finite number expected");
        }
        score.exponents[t] = it.value().get<float>();
        found = true;
      }
    }
    if (!found) kConfigJson.Fail("score.exponents", "'" + it.key() + "' is not a task");
  }
  if (s.contains("regression_floor")) {
    if (!s["regression_floor"].is_number() || !(s["regression_floor"].get<double>() >= 0) ||
        !std::isfinite(s["regression_floor"].get<double>())) {
      kConfigJson.Fail("score.regression_floor", "a finite number >= 0 expected");
    }
    score.regression_floor = s["regression_floor"].get<float>();
  }
  if (s.contains("transform")) {
    const json& t = s["transform"];
    kConfigJson.CheckKeys(t, "score.transform", {"type", "input", "scale", "offset"});
    score.transform = kConfigJson.Choice<fb::ScoreTransform>(t, "type", "score.transform",
                                                             {{"none", fb::ScoreTransform::None},
                                                              {"identity", fb::ScoreTransform::Identity},
                                                              {"log1p", fb::ScoreTransform::Log1p},
                                                              {"sigmoid", fb::ScoreTransform::Sigmoid}});
    if (score.transform != fb::ScoreTransform::None) {
      score.transform_input = kConfigJson.String(t, "input", "score.transform");
    }
    for (const char* key : {"scale", "offset"}) {
      if (!t.contains(key)) continue;
      if (score.transform != fb::ScoreTransform::Sigmoid)
        kConfigJson.Fail(std::string("score.transform.") + key, "applies to sigmoid only");
      if (!t[key].is_number() || !std::isfinite(t[key].get<double>())) {
        kConfigJson.Fail(std::string("score.transform.") + key, "a finite number expected");
      }
      (std::string(key) == "scale" ? score.transform_scale : score.transform_offset) = t[key].get<float>();
    }
  }
  ValidateScore(*config, "config: score");
}

}  // namespace

void ParseOov(const json& oov, const std::string& where, uint32_t vocabulary, FeatureConfig* feature) {
  if (oov.is_string() && oov == "error") {
    feature->oov_policy = fb::OovPolicy::Error;
  } else if (oov.is_string() && oov == "hash") {
    feature->oov_policy = fb::OovPolicy::Hash;
  } else if (oov.is_object() && oov.size() == 1 && oov.contains("oov_row")) {
    feature->oov_policy = fb::OovPolicy::OovRow;
    feature->oov_row = kConfigJson.AsCount(oov["oov_row"], where + ".oov_row", 0, vocabulary - 1);
  } else {
    kConfigJson.Fail(where, "\"error\", \"hash\" or {\"oov_row\": <row>} expected");
  }
}

// Feature and extra names: "request", "id" and "labels" are keys of ple-run's input lines,
// and ".lengths" ends bundle tensor names, so such names would be ambiguous.
void CheckInputName(const std::string& name, const std::string& where) {
  const std::string suffix = ".lengths";
  if (name == "request" || name == "id" || name == "labels" ||
      (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)) {
    kConfigJson.Fail(where, "'" + name + "' is reserved (request, id, labels, and names ending in .lengths)");
  }
}

void ParseSharedKeys(const json& root, ModelConfig* config) {
  for (const auto& f : config->features) CheckInputName(f.name, "feature name");
  config->name = kConfigJson.String(root, "name", "(top level)", config->name);
  config->description = kConfigJson.String(root, "description", "(top level)", config->description);
  config->source_framework = kConfigJson.String(root, "source_framework", "(top level)", config->source_framework);
  std::set<std::string> names;
  for (const auto& f : config->features) names.insert(f.name);
  if (root.contains("extras")) {
    const json& extras = root["extras"];
    if (!extras.is_array()) kConfigJson.Fail("extras", "a list expected");
    for (size_t i = 0; i < extras.size(); ++i) {
      const std::string where = "extras[" + std::to_string(i) + "]";
      kConfigJson.CheckKeys(extras[i], where, {"name"});
      const std::string name = kConfigJson.String(extras[i], "name", where);
      if (name.empty() || !names.insert(name).second)
        kConfigJson.Fail(where + ".name", "empty, or already a feature or an extra");
      CheckInputName(name, where + ".name");
      config->extras.push_back(name);
    }
  }
  if (root.contains("score")) ParseScore(root["score"], config);
}

uint32_t ModelConfig::row_width() const {
  uint32_t width = 0;
  for (const auto& feature : features) width += feature.width;
  return width;
}

void ValidateScore(const ModelConfig& config, const std::string& where) {
  const ScoreConfig& score = config.score;
  if (!score.present) return;
  if (score.exponents.size() != config.tasks.size()) {
    throw ConvertError(where + ": " + std::to_string(config.tasks.size()) + " exponents expected (one per task)");
  }
  if (score.transform == fb::ScoreTransform::None) return;
  for (const auto& extra : config.extras) {
    if (extra == score.transform_input) return;
  }
  for (const auto& f : config.features) {
    if (f.name != score.transform_input) continue;
    if (rt::IsScoreTransformInput(false, f.kind == fb::FeatureKind::Dense, f.scope == fb::Scope::Candidate, f.width)) {
      return;
    }
    throw ConvertError(where + ": transform input '" + score.transform_input + "' must be " +
                       rt::kScoreTransformInputRule);
  }
  throw ConvertError(where + ": transform input '" + score.transform_input + "' is neither a feature nor an extra");
}

namespace {

void ParseTasks(const json& root, ModelConfig* config) {
  if (!root.contains("tasks") || !root["tasks"].is_array() || root["tasks"].empty()) {
    kConfigJson.Fail("tasks", "a non-empty list of tasks expected");
  }
  std::set<std::string> names;
  for (size_t t = 0; t < root["tasks"].size(); ++t) {
    const json& task_json = root["tasks"][t];
    const std::string where = "tasks[" + std::to_string(t) + "]";
    kConfigJson.CheckKeys(task_json, where, {"name", "type"});
    TaskConfig task;
    task.name = kConfigJson.String(task_json, "name", where);
    if (task.name.empty()) kConfigJson.Fail(where + ".name", "must not be empty");
    if (!names.insert(task.name).second) kConfigJson.Fail(where + ".name", "'" + task.name + "' is used twice");
    task.type = kConfigJson.Choice<fb::TaskType>(
        task_json, "type", where, {{"binary", fb::TaskType::Binary}, {"regression", fb::TaskType::Regression}});
    config->tasks.push_back(task);
  }
}

// Each level's expert and gate are the top-level "expert" and "gate" objects with the level's
// keys merged over them.
void ParseLevels(const json& root, double eps, ModelConfig* config) {
  const size_t task_count = config->tasks.size();
  const json expert_defaults = root.value("expert", json::object());
  const json gate_defaults = root.value("gate", json::object());
  if (!root.contains("levels") || !root["levels"].is_array() || root["levels"].empty()) {
    kConfigJson.Fail("levels", "a non-empty list of levels expected");
  }
  for (size_t l = 0; l < root["levels"].size(); ++l) {
    const json& lj = root["levels"][l];
    const std::string where = "levels[" + std::to_string(l) + "]";
    kConfigJson.CheckKeys(lj, where, {"specific_experts", "shared_experts", "expert", "gate"});
    LevelConfig level;
    if (!lj.contains("specific_experts")) kConfigJson.Fail(where, "key 'specific_experts' is required");
    const json& specific = lj["specific_experts"];
    if (specific.is_array()) {
      if (specific.size() != task_count) {
        kConfigJson.Fail(where + ".specific_experts", "one count per task expected (" + std::to_string(task_count) +
                                                          "), found " + std::to_string(specific.size()));
      }
      for (size_t t = 0; t < task_count; ++t) {
        level.specific_experts.push_back(
            kConfigJson.AsCount(specific[t], where + ".specific_experts[" + std::to_string(t) + "]", 0, 1024));
      }
    } else {
      level.specific_experts.assign(task_count, kConfigJson.AsCount(specific, where + ".specific_experts", 0, 1024));
    }
    if (!lj.contains("shared_experts")) kConfigJson.Fail(where, "key 'shared_experts' is required");
    level.shared_experts = kConfigJson.AsCount(lj["shared_experts"], where + ".shared_experts", 0, 1024);
    level.expert =
        ParseExpert(Merge(expert_defaults, lj.contains("expert") ? &lj["expert"] : nullptr, where + ".expert"),
                    where + ".expert", eps);
    level.gate = ParseGate(Merge(gate_defaults, lj.contains("gate") ? &lj["gate"] : nullptr, where + ".gate"),
                           where + ".gate", eps);
    for (size_t t = 0; t < task_count; ++t) {
      if (level.specific_experts[t] + level.shared_experts == 0) {
        kConfigJson.Fail(where, "task '" + config->tasks[t].name + "' has no experts (0 specific and 0 shared)");
      }
    }
    config->levels.push_back(level);
  }
}

// "towers" (one per task) or the one "tower" every task uses, merged over "tower".
void ParseTowers(const json& root, double eps, ModelConfig* config) {
  const size_t task_count = config->tasks.size();
  const json tower_defaults = root.value("tower", json::object());
  const json* towers = root.contains("towers") ? &root["towers"] : nullptr;
  if (towers != nullptr && (!towers->is_array() || towers->size() != task_count)) {
    kConfigJson.Fail("towers", "a list with one object per task expected (" + std::to_string(task_count) + ")");
  }
  for (size_t t = 0; t < task_count; ++t) {
    const std::string where = towers ? "towers[" + std::to_string(t) + "]" : "tower";
    config->towers.push_back(ParseTower(Merge(tower_defaults, towers ? &(*towers)[t] : nullptr, where), where, eps));
  }
}

}  // namespace

ModelConfig ParseModelConfig(const std::string& json_text, const std::string& base_directory) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    throw ConvertError(std::string("config: not valid JSON: ") + e.what());
  }
  if (root.is_object() && root.contains("framework")) {
    kConfigJson.Fail("framework",
                     "this describes a " + root["framework"].dump() + " model: convert it with --from " +
                         (root["framework"].is_string() ? root["framework"].get<std::string>() : "<framework>") +
                         " (docs/importing.md)");
  }
  kConfigJson.CheckKeys(
      root, "(top level)",
      {"format_version", "name", "description", "source_framework", "inputs", "tables", "features", "extras", "score",
       "tasks", "batch_norm_eps", "expert", "gate", "tower", "levels", "towers", "last_level_shared_gate"});
  if (!root.contains("format_version") || root["format_version"] != 1) {
    kConfigJson.Fail("format_version", "1 expected (this converter reads config format 1)");
  }
  ModelConfig config;
  config.base_directory = base_directory;
  const double eps = GetEps(root, "(top level)", 1e-5);

  ParseFeatureLayer(root, &config);
  ParseTasks(root, &config);
  ParseLevels(root, eps, &config);
  ParseTowers(root, eps, &config);

  const bool absent = false;
  config.last_level_shared_gate_present = kConfigJson.Choice<bool>(root, "last_level_shared_gate", "(top level)",
                                                                   {{"absent", false}, {"ignore", true}}, &absent);
  ParseSharedKeys(root, &config);
  return config;
}

ModelConfig ReadModelConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConvertError("cannot open config file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  const size_t slash = path.find_last_of('/');
  return ParseModelConfig(text.str(), slash == std::string::npos ? "." : path.substr(0, slash));
}

}  // namespace convert
}  // namespace ple
