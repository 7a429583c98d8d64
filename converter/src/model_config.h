// The JSON model config of docs/config-format.md, parsed and validated. Defaults are merged
// into per-level and per-task overrides before parsing, so every struct here is complete.
#ifndef PLE_CONVERTER_MODEL_CONFIG_H_
#define PLE_CONVERTER_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ple_model_generated.h"

namespace ple {
namespace convert {

struct ActivationConfig {
  fb::Activation type = fb::Activation::Relu;
  float negative_slope = 0.01f;  // leaky_relu
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

struct InputConfig {
  std::string name;
  uint32_t width = 0;
  fb::Scope scope = fb::Scope::Candidate;
};

struct TaskConfig {
  std::string name;
  fb::TaskType type = fb::TaskType::Binary;
};

struct ModelConfig {
  std::string name, description, source_framework;
  std::vector<InputConfig> inputs;
  std::vector<TaskConfig> tasks;
  std::vector<LevelConfig> levels;
  std::vector<TowerConfig> towers;          // one per task
  bool last_level_shared_gate_present = false;  // "ignore": present in the weights, unused

  uint32_t row_width() const;
};

// Throws ConvertError naming the key path (e.g. "levels[1].expert.units").
ModelConfig ParseModelConfig(const std::string& json_text);
ModelConfig ReadModelConfig(const std::string& path);

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_MODEL_CONFIG_H_
