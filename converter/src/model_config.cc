#include "model_config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "convert_error.h"

namespace ple {
namespace convert {
namespace {

using nlohmann::json;

constexpr uint32_t kMaxUnits = 1u << 16;

[[noreturn]] void Fail(const std::string& where, const std::string& message) {
  throw ConvertError("config: " + where + ": " + message);
}

void CheckKeys(const json& object, const std::string& where, std::initializer_list<const char*> known) {
  if (!object.is_object()) Fail(where, "an object expected, found " + std::string(object.type_name()));
  for (auto it = object.begin(); it != object.end(); ++it) {
    bool found = false;
    for (const char* key : known) found = found || it.key() == key;
    if (!found) {
      std::string list;
      for (const char* key : known) list += (list.empty() ? "" : ", ") + std::string(key);
      Fail(where, "unknown key '" + it.key() + "' (known keys: " + list + ")");
    }
  }
}

std::string GetString(const json& object, const char* key, const std::string& where, const std::string& fallback,
                      bool required = false) {
  if (!object.contains(key)) {
    if (required) Fail(where, std::string("key '") + key + "' is required");
    return fallback;
  }
  if (!object[key].is_string()) Fail(where + "." + key, "a string expected");
  return object[key].get<std::string>();
}

// One of a fixed set of strings, mapped to its value; `fallback` when the key is absent
// (required when there is none).
template <typename T>
T GetChoice(const json& object, const char* key, const std::string& where,
            std::initializer_list<std::pair<const char*, T>> choices, const T* fallback = nullptr) {
  if (!object.contains(key) && fallback != nullptr) return *fallback;
  const std::string value = GetString(object, key, where, "", /*required=*/true);
  std::string known;
  for (const auto& choice : choices) {
    if (value == choice.first) return choice.second;
    known += (known.empty() ? "\"" : " or \"") + std::string(choice.first) + "\"";
  }
  Fail(where + "." + key, known + " expected, found \"" + value + "\"");
}

bool GetBool(const json& object, const char* key, const std::string& where, bool fallback) {
  if (!object.contains(key)) return fallback;
  if (!object[key].is_boolean()) Fail(where + "." + key, "true or false expected");
  return object[key].get<bool>();
}

uint32_t ToCount(const json& value, const std::string& where, uint32_t min, uint32_t max) {
  if (!value.is_number_integer() || value.get<int64_t>() < min || value.get<int64_t>() > max) {
    Fail(where, "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "] expected, found " +
                    value.dump());
  }
  return static_cast<uint32_t>(value.get<int64_t>());
}

double GetEps(const json& object, const std::string& where, double fallback) {
  if (!object.contains("batch_norm_eps")) return fallback;
  const json& v = object["batch_norm_eps"];
  if (!v.is_number() || !(v.get<double>() > 0.0) || v.get<double>() > 1.0) {
    Fail(where + ".batch_norm_eps", "a number in (0, 1] expected");
  }
  return v.get<double>();
}

std::vector<uint32_t> GetUnits(const json& object, const char* key, const std::string& where, bool allow_empty) {
  if (!object.contains(key)) {
    if (allow_empty) return {};
    Fail(where, std::string("key '") + key + "' is required");
  }
  const json& units = object[key];
  if (!units.is_array()) Fail(where + "." + key, "a list of layer widths expected");
  if (units.empty() && !allow_empty) Fail(where + "." + key, "at least one layer expected");
  std::vector<uint32_t> out;
  for (size_t i = 0; i < units.size(); ++i) {
    out.push_back(ToCount(units[i], where + "." + key + "[" + std::to_string(i) + "]", 1, kMaxUnits));
  }
  return out;
}

ActivationConfig ParseActivation(const json& value, const std::string& where) {
  static const std::pair<const char*, fb::Activation> kNames[] = {
      {"identity", fb::Activation::Identity}, {"relu", fb::Activation::Relu},
      {"leaky_relu", fb::Activation::LeakyRelu}, {"prelu", fb::Activation::PRelu},
      {"sigmoid", fb::Activation::Sigmoid}, {"tanh", fb::Activation::Tanh}, {"silu", fb::Activation::Silu}};
  ActivationConfig config;
  std::string name;
  if (value.is_string()) {
    name = value.get<std::string>();
  } else if (value.is_object()) {
    CheckKeys(value, where, {"type", "negative_slope"});
    name = GetString(value, "type", where, "", /*required=*/true);
    if (value.contains("negative_slope")) {
      if (name != "leaky_relu") Fail(where, "negative_slope applies to leaky_relu only");
      if (!value["negative_slope"].is_number()) Fail(where + ".negative_slope", "a number expected");
      config.negative_slope = value["negative_slope"].get<float>();
    }
  } else {
    Fail(where, "an activation name or {\"type\": ...} expected");
  }
  for (const auto& entry : kNames) {
    if (name == entry.first) {
      config.type = entry.second;
      return config;
    }
  }
  Fail(where, "unsupported activation '" + name +
                  "' (supported: identity, relu, leaky_relu, prelu, sigmoid, tanh, silu)");
}

// Shallow merge: keys of `override_object` replace those of `defaults`.
json Merge(const json& defaults, const json* override_object, const std::string& where) {
  json merged = defaults.is_null() ? json::object() : defaults;
  if (override_object != nullptr) {
    if (!override_object->is_object()) Fail(where, "an object expected");
    for (auto it = override_object->begin(); it != override_object->end(); ++it) merged[it.key()] = it.value();
  }
  return merged;
}

// The MLP fields experts and towers share: units, activation, batch_norm, bias, batch_norm_eps.
MlpConfig ParseMlpFields(const json& object, const std::string& where, double default_eps, bool allow_no_layers) {
  MlpConfig config;
  config.units = GetUnits(object, "units", where, allow_no_layers);
  if (object.contains("activation")) config.activation = ParseActivation(object["activation"], where + ".activation");
  config.batch_norm = GetBool(object, "batch_norm", where, false);
  config.bias = GetBool(object, "bias", where, true);
  config.batch_norm_eps = GetEps(object, where, default_eps);
  return config;
}

MlpConfig ParseExpert(const json& object, const std::string& where, double default_eps) {
  CheckKeys(object, where, {"units", "activation", "batch_norm", "bias", "batch_norm_eps"});
  return ParseMlpFields(object, where, default_eps, /*allow_no_layers=*/false);
}

GateConfig ParseGate(const json& object, const std::string& where, double default_eps) {
  CheckKeys(object, where,
            {"type", "hidden_units", "hidden_activation", "hidden_batch_norm", "hidden_bias", "bias", "batch_norm",
             "batch_norm_eps"});
  GateConfig config;
  const bool softmax = true;
  config.has_gate = GetChoice<bool>(object, "type", where, {{"softmax", true}, {"none", false}}, &softmax);
  config.hidden.units = GetUnits(object, "hidden_units", where, /*allow_empty=*/true);
  if (object.contains("hidden_activation")) {
    config.hidden.activation = ParseActivation(object["hidden_activation"], where + ".hidden_activation");
  }
  config.hidden.batch_norm = GetBool(object, "hidden_batch_norm", where, false);
  config.hidden.bias = GetBool(object, "hidden_bias", where, true);
  config.bias = GetBool(object, "bias", where, true);
  config.batch_norm = GetBool(object, "batch_norm", where, false);
  config.batch_norm_eps = GetEps(object, where, default_eps);
  config.hidden.batch_norm_eps = config.batch_norm_eps;
  return config;
}

TowerConfig ParseTower(const json& object, const std::string& where, double default_eps) {
  CheckKeys(object, where, {"units", "activation", "batch_norm", "bias", "batch_norm_eps", "head_bias", "output_bias"});
  TowerConfig config;
  config.mlp = ParseMlpFields(object, where, default_eps, /*allow_no_layers=*/true);
  config.head_bias = GetBool(object, "head_bias", where, true);
  config.output_bias = GetBool(object, "output_bias", where, false);
  return config;
}

}  // namespace

uint32_t ModelConfig::row_width() const {
  uint32_t width = 0;
  for (const auto& input : inputs) width += input.width;
  return width;
}

ModelConfig ParseModelConfig(const std::string& json_text) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    throw ConvertError(std::string("config: not valid JSON: ") + e.what());
  }
  CheckKeys(root, "(top level)",
            {"format_version", "name", "description", "source_framework", "inputs", "tasks", "batch_norm_eps",
             "expert", "gate", "tower", "levels", "towers", "last_level_shared_gate"});
  if (!root.contains("format_version") || root["format_version"] != 1) {
    Fail("format_version", "1 expected (this converter reads config format 1)");
  }
  ModelConfig config;
  config.name = GetString(root, "name", "(top level)", "");
  config.description = GetString(root, "description", "(top level)", "");
  config.source_framework = GetString(root, "source_framework", "(top level)", "");
  const double eps = GetEps(root, "(top level)", 1e-5);

  if (!root.contains("inputs") || !root["inputs"].is_array() || root["inputs"].empty()) {
    Fail("inputs", "a non-empty list of inputs expected");
  }
  std::set<std::string> names;
  uint64_t row_width = 0;
  for (size_t i = 0; i < root["inputs"].size(); ++i) {
    const json& in = root["inputs"][i];
    const std::string where = "inputs[" + std::to_string(i) + "]";
    CheckKeys(in, where, {"name", "width", "scope"});
    InputConfig input;
    input.name = GetString(in, "name", where, "", true);
    if (input.name.empty()) Fail(where + ".name", "must not be empty");
    if (!names.insert(input.name).second) Fail(where + ".name", "'" + input.name + "' is used twice");
    if (!in.contains("width")) Fail(where, "key 'width' is required");
    input.width = ToCount(in["width"], where + ".width", 1, kMaxUnits);
    row_width += input.width;
    input.scope = GetChoice<fb::Scope>(in, "scope", where,
                                       {{"request", fb::Scope::Request}, {"candidate", fb::Scope::Candidate}});
    config.inputs.push_back(input);
  }
  if (row_width > kMaxUnits) Fail("inputs", "the input row is wider than " + std::to_string(kMaxUnits) + " floats");

  if (!root.contains("tasks") || !root["tasks"].is_array() || root["tasks"].empty()) {
    Fail("tasks", "a non-empty list of tasks expected");
  }
  names.clear();
  for (size_t t = 0; t < root["tasks"].size(); ++t) {
    const json& task_json = root["tasks"][t];
    const std::string where = "tasks[" + std::to_string(t) + "]";
    CheckKeys(task_json, where, {"name", "type"});
    TaskConfig task;
    task.name = GetString(task_json, "name", where, "", true);
    if (task.name.empty()) Fail(where + ".name", "must not be empty");
    if (!names.insert(task.name).second) Fail(where + ".name", "'" + task.name + "' is used twice");
    task.type = GetChoice<fb::TaskType>(task_json, "type", where,
                                        {{"binary", fb::TaskType::Binary}, {"regression", fb::TaskType::Regression}});
    config.tasks.push_back(task);
  }
  const size_t task_count = config.tasks.size();

  const json expert_defaults = root.value("expert", json::object());
  const json gate_defaults = root.value("gate", json::object());
  const json tower_defaults = root.value("tower", json::object());
  if (!root.contains("levels") || !root["levels"].is_array() || root["levels"].empty()) {
    Fail("levels", "a non-empty list of levels expected");
  }
  for (size_t l = 0; l < root["levels"].size(); ++l) {
    const json& lj = root["levels"][l];
    const std::string where = "levels[" + std::to_string(l) + "]";
    CheckKeys(lj, where, {"specific_experts", "shared_experts", "expert", "gate"});
    LevelConfig level;
    if (!lj.contains("specific_experts")) Fail(where, "key 'specific_experts' is required");
    const json& specific = lj["specific_experts"];
    if (specific.is_array()) {
      if (specific.size() != task_count) {
        Fail(where + ".specific_experts", "one count per task expected (" + std::to_string(task_count) +
                                              "), found " + std::to_string(specific.size()));
      }
      for (size_t t = 0; t < task_count; ++t) {
        level.specific_experts.push_back(
            ToCount(specific[t], where + ".specific_experts[" + std::to_string(t) + "]", 0, 1024));
      }
    } else {
      level.specific_experts.assign(task_count, ToCount(specific, where + ".specific_experts", 0, 1024));
    }
    if (!lj.contains("shared_experts")) Fail(where, "key 'shared_experts' is required");
    level.shared_experts = ToCount(lj["shared_experts"], where + ".shared_experts", 0, 1024);
    level.expert = ParseExpert(Merge(expert_defaults, lj.contains("expert") ? &lj["expert"] : nullptr, where + ".expert"),
                               where + ".expert", eps);
    level.gate = ParseGate(Merge(gate_defaults, lj.contains("gate") ? &lj["gate"] : nullptr, where + ".gate"),
                           where + ".gate", eps);
    for (size_t t = 0; t < task_count; ++t) {
      if (level.specific_experts[t] + level.shared_experts == 0) {
        Fail(where, "task '" + config.tasks[t].name + "' has no experts (0 specific and 0 shared)");
      }
    }
    config.levels.push_back(level);
  }

  const json* towers = root.contains("towers") ? &root["towers"] : nullptr;
  if (towers != nullptr && (!towers->is_array() || towers->size() != task_count)) {
    Fail("towers", "a list with one object per task expected (" + std::to_string(task_count) + ")");
  }
  for (size_t t = 0; t < task_count; ++t) {
    const std::string where = towers ? "towers[" + std::to_string(t) + "]" : "tower";
    config.towers.push_back(ParseTower(Merge(tower_defaults, towers ? &(*towers)[t] : nullptr, where), where, eps));
  }

  const bool absent = false;
  config.last_level_shared_gate_present =
      GetChoice<bool>(root, "last_level_shared_gate", "(top level)", {{"absent", false}, {"ignore", true}}, &absent);
  return config;
}

ModelConfig ReadModelConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConvertError("cannot open config file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return ParseModelConfig(text.str());
}

}  // namespace convert
}  // namespace ple
