#include "bench_weights.h"

#include <cmath>
#include <map>
#include <random>
#include <string>

#include "safetensors.h"

namespace ple::bench {
namespace {

using ple::convert::MakeF32Tensor;
using ple::convert::SafeTensorToWrite;

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  void Linear(const std::string& prefix, uint32_t in, uint32_t out, bool bias) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(in));
    tensors_[prefix + ".weight"] = Uniform({out, in}, bound);
    if (bias) tensors_[prefix + ".bias"] = Uniform({out}, bound);
  }

  // An MLP "P.layers.{i}": returns its output width.
  uint32_t Mlp(const std::string& prefix, const ple::convert::MlpConfig& mlp, uint32_t in) {
    for (size_t i = 0; i < mlp.units.size(); ++i) {
      const std::string layer = prefix + ".layers." + std::to_string(i);
      Linear(layer + ".linear", in, mlp.units[i], mlp.bias);
      if (mlp.batch_norm) {
        tensors_[layer + ".bn.weight"] = Constant({mlp.units[i]}, 1.0f);
        tensors_[layer + ".bn.bias"] = Constant({mlp.units[i]}, 0.0f);
        tensors_[layer + ".bn.running_mean"] = Constant({mlp.units[i]}, 0.0f);
        tensors_[layer + ".bn.running_var"] = Constant({mlp.units[i]}, 1.0f);
      }
      if (mlp.activation.type == ple::fb::Activation::PRelu) tensors_[layer + ".prelu.weight"] = Constant({1}, 0.25f);
      if (mlp.activation.type == ple::fb::Activation::Dice) tensors_[layer + ".dice.alpha"] = Constant({1}, 0.0f);
      in = mlp.units[i];
    }
    return in;
  }

  void Gate(const std::string& prefix, const ple::convert::GateConfig& gate, uint32_t in, uint32_t experts) {
    if (!gate.has_gate) return;
    const uint32_t hidden = Mlp(prefix, gate.hidden, in);
    Linear(prefix + ".logits.linear", hidden, experts, gate.bias);
    if (gate.batch_norm) {
      tensors_[prefix + ".logits.bn.weight"] = Constant({experts}, 1.0f);
      tensors_[prefix + ".logits.bn.bias"] = Constant({experts}, 0.0f);
      tensors_[prefix + ".logits.bn.running_mean"] = Constant({experts}, 0.0f);
      tensors_[prefix + ".logits.bn.running_var"] = Constant({experts}, 1.0f);
    }
  }

  void Embedding(const std::string& name, uint32_t rows, uint32_t dim) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> values(size_t{rows} * dim);
    for (float& v : values) v = normal(rng_);
    tensors_["embeddings." + name + ".weight"] = MakeF32Tensor({rows, dim}, values);
  }

  void Zeros(const std::string& name, const std::vector<uint64_t>& shape) { tensors_[name] = Constant(shape, 0.0f); }

  const std::map<std::string, SafeTensorToWrite>& tensors() const { return tensors_; }

 private:
  SafeTensorToWrite Uniform(const std::vector<uint64_t>& shape, float bound) {
    std::uniform_real_distribution<float> uniform(-bound, bound);
    size_t count = 1;
    for (uint64_t d : shape) count *= d;
    std::vector<float> values(count);
    for (float& v : values) v = uniform(rng_);
    return MakeF32Tensor(shape, values);
  }
  static SafeTensorToWrite Constant(const std::vector<uint64_t>& shape, float value) {
    size_t count = 1;
    for (uint64_t d : shape) count *= d;
    return MakeF32Tensor(shape, std::vector<float>(count, value));
  }

  std::mt19937 rng_;
  std::map<std::string, SafeTensorToWrite> tensors_;
};

}  // namespace

std::vector<uint8_t> DrawWeights(const ple::convert::ModelConfig& config, uint32_t seed) {
Generator g(seed);
  for (const auto& table : config.tables) g.Embedding(table.name, table.vocabulary, table.dim);
  const size_t tasks = config.tasks.size();
  std::vector<uint32_t> task_width(tasks, config.row_width());
  uint32_t shared_width = config.row_width();
  for (size_t l = 0; l < config.levels.size(); ++l) {
    const auto& level = config.levels[l];
    const std::string prefix = "levels." + std::to_string(l);
    uint32_t expert_out = 0, specific_total = 0;
    for (size_t t = 0; t < tasks; ++t) {
      for (uint32_t j = 0; j < level.specific_experts[t]; ++j) {
        expert_out = g.Mlp(prefix + ".specific_experts." + std::to_string(t) + "." + std::to_string(j), level.expert,
                           task_width[t]);
      }
      specific_total += level.specific_experts[t];
    }
    for (uint32_t j = 0; j < level.shared_experts; ++j) {
      expert_out = g.Mlp(prefix + ".shared_experts." + std::to_string(j), level.expert, shared_width);
    }
    for (size_t t = 0; t < tasks; ++t) {
      g.Gate(prefix + ".task_gates." + std::to_string(t), level.gate, task_width[t],
             level.specific_experts[t] + level.shared_experts);
    }
    const bool last = l + 1 == config.levels.size();
    if (!last || config.last_level_shared_gate_present) {
      g.Gate(prefix + ".shared_gate", level.gate, shared_width, specific_total + level.shared_experts);
    }
    task_width.assign(tasks, expert_out);
    shared_width = expert_out;
  }
  for (size_t t = 0; t < tasks; ++t) {
    const std::string prefix = "towers." + std::to_string(t);
    const uint32_t in = g.Mlp(prefix, config.towers[t].mlp, task_width[t]);
    g.Linear(prefix + ".head", in, 1, config.towers[t].head_bias);
    if (config.towers[t].output_bias) g.Zeros(prefix + ".output_bias", {1});
  }
  return ple::convert::WriteSafeTensors(g.tensors());
}

}  // namespace ple::bench
