// The JSON model config of docs/config-format.md, parsed and validated. Defaults are merged
// into per-level and per-task overrides before parsing, so every struct here is complete.
#ifndef PLE_CONVERTER_MODEL_CONFIG_H_
#define PLE_CONVERTER_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "encoder_config.h"
#include "ple_model_generated.h"

namespace ple {
namespace convert {

struct ActivationConfig {
  fb::Activation type = fb::Activation::Relu;
  float negative_slope = 0.01f;  // leaky_relu
  float dice_epsilon = 1e-3f;    // dice
};

struct MlpConfig {
  std::vector<uint32_t> units;
  ActivationConfig activation;
  bool batch_norm = false;
  bool bias = true;
  double batch_norm_eps = 1e-5;
};

struct GateConfig {
  bool has_gate = true;      // type "softmax"; false for "none"
  MlpConfig hidden;          // hidden_units / hidden_activation / hidden_batch_norm / hidden_bias
  bool bias = true;          // logits Linear bias
  bool batch_norm = false;   // BatchNorm1d between the logits Linear and the softmax
  double batch_norm_eps = 1e-5;
};

struct TowerConfig {
  MlpConfig mlp;             // units may be empty
  bool head_bias = true;
  bool output_bias = false;
};

struct LevelConfig {
  std::vector<uint32_t> specific_experts;  // one count per task
  uint32_t shared_experts = 0;
  MlpConfig expert;
  GateConfig gate;
};

struct TableConfig {
  std::string name;
  uint32_t vocabulary = 0;
  uint32_t dim = 0;
  bool f16 = false;               // stored as float16 in the model file
};

// One feature of the feature layer; the `inputs` shorthand becomes dense features.
struct FeatureConfig {
  std::string name;
  fb::FeatureKind kind = fb::FeatureKind::Dense;
  fb::Scope scope = fb::Scope::Candidate;
  uint32_t width = 0;             // floats it adds to the input row (dense: its width; else the table's dim)
  std::vector<float> normalize_mean, normalize_std;  // dense: empty, or `width` values
  fb::NanPolicy nan_policy = fb::NanPolicy::Error;
  float nan_replacement = 0.0f;
  uint32_t table = 0;             // sparse, sequence: index into ModelConfig::tables
  fb::OovPolicy oov_policy = fb::OovPolicy::Error;
  uint32_t oov_row = 0;
  uint32_t max_length = 0;        // sequence
  fb::Pooling pooling = fb::Pooling::Sum;
  bool has_padding_id = false;
  int64_t padding_id = 0;
  float mean_eps = 0.0f;
  EncoderConfig encoder;          // sparse, sequence: optional (docs/encoders.md)
};

struct ScoreConfig {
  bool present = false;
  std::vector<float> exponents;   // one per task
  float regression_floor = 0.0f;
  fb::ScoreTransform transform = fb::ScoreTransform::None;
  std::string transform_input;
  float transform_scale = 1.0f;
  float transform_offset = 0.0f;
};

struct TaskConfig {
  std::string name;
  fb::TaskType type = fb::TaskType::Binary;
};

struct ModelConfig {
  std::string name, description, source_framework;
  std::vector<TableConfig> tables;
  std::vector<FeatureConfig> features;      // the input row: their outputs in this order
  std::vector<std::string> extras;
  ScoreConfig score;
  std::vector<TaskConfig> tasks;
  std::vector<LevelConfig> levels;
  std::vector<TowerConfig> towers;          // one per task
  bool last_level_shared_gate_present = false;  // "ignore": present in the weights, unused
  std::string base_directory;               // the config file's directory: encoder files are relative to it

  uint32_t row_width() const;
};

// Checks a score against the tasks, features and extras; `where` prefixes messages.
// Shared by the config parser and the framework importers.
void ValidateScore(const ModelConfig& config, const std::string& where);

// Throws ConvertError naming the key path (e.g. "levels[1].expert.units").
ModelConfig ParseModelConfig(const std::string& json_text, const std::string& base_directory = "");

// The keys a framework import JSON shares with the native config: "name", "description",
// "source_framework", "extras" and "score" (the latter two after tasks and features are set).
void ParseSharedKeys(const nlohmann::json& root, ModelConfig* config);

// A feature's "oov" value (docs/config-format.md) for a table of `vocabulary` rows.
void ParseOov(const nlohmann::json& value, const std::string& where, uint32_t vocabulary, FeatureConfig* feature);
ModelConfig ReadModelConfig(const std::string& path);

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_MODEL_CONFIG_H_
