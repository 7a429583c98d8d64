#include "native_importer.h"

#include <cmath>
#include <cstring>
#include <set>

#include "convert_error.h"
#include "quantize.h"

namespace ple {
namespace convert {
namespace {

std::string ShapeString(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The weights file, with a record of which tensors the import consumed.
class WeightSource {
 public:
  WeightSource(const SafeTensorsFile& file, const WeightNaming& naming) : file_(file), naming_(naming) {}

  // The tensor's values; throws when it is missing or its shape is not one of `shapes`.
  std::vector<float> Take(const std::string& native_name, const std::vector<std::vector<uint64_t>>& shapes) {
    const std::string name = FileName(native_name);
    const SafeTensor* tensor = file_.Find(name);
    std::string expected;
    for (size_t i = 0; i < shapes.size(); ++i) expected += (i ? " or " : "") + ShapeString(shapes[i]);
    const std::string native_note = name == native_name ? "" : " (native name '" + native_name + "')";
    if (tensor == nullptr) {
      throw ConvertError("weights: missing tensor '" + name + "'" + native_note + " (expected shape " + expected + ")");
    }
    bool shape_ok = false;
    for (const auto& shape : shapes) shape_ok = shape_ok || tensor->shape == shape;
    if (!shape_ok) {
      throw ConvertError("weights: tensor '" + name + "'" + native_note + " has shape " + tensor->shape_string() +
                         ", expected " + expected);
    }
    used_.insert(name);
    return tensor->ToFloat(name);
  }

  // A Linear kernel, returned [out, in] whatever the file's layout.
  std::vector<float> TakeLinear(const std::string& native_name, uint32_t out, uint32_t in) {
    if (!naming_.transpose_linear) return Take(native_name, {{out, in}});
    const std::vector<float> stored = Take(native_name, {{in, out}});
    std::vector<float> transposed(stored.size());
    for (uint32_t i = 0; i < in; ++i) {
      for (uint32_t o = 0; o < out; ++o) transposed[size_t{o} * in + i] = stored[size_t{i} * out + o];
    }
    return transposed;
  }

  bool Has(const std::string& native_name) const { return file_.Find(FileName(native_name)) != nullptr; }

  // Marks an optional bookkeeping tensor (BatchNorm's num_batches_tracked) as known.
  void AcceptIfPresent(const std::string& native_name) {
    const std::string name = FileName(native_name);
    if (file_.Find(name) != nullptr) used_.insert(name);
  }

  void CheckAllUsed() const {
    std::string extra;
    size_t count = 0;
    for (const auto& entry : file_.tensors()) {
      if (used_.count(entry.first) != 0) continue;
      if (naming_.ignorable && naming_.ignorable(entry.first)) continue;
      if (count < 10) extra += (count ? ", " : "") + ("'" + entry.first + "' " + entry.second.shape_string());
      ++count;
    }
    if (count != 0) {
      throw ConvertError("weights: " + std::to_string(count) + " tensor(s) the config does not use: " + extra +
                         (count > 10 ? ", ..." : "") +
                         " (check the config's architecture and the naming in docs/config-format.md or "
                         "docs/importing.md)");
    }
  }

 private:
  std::string FileName(const std::string& native_name) const {
    return naming_.file_name ? naming_.file_name(native_name) : native_name;
  }

  const SafeTensorsFile& file_;
  const WeightNaming& naming_;
  std::set<std::string> used_;
};

class Importer {
 public:
  Importer(const ModelConfig& config, const SafeTensorsFile& weights, const ImportOptions& options)
      : config_(config), weights_(weights, options.naming), mutation_(options.mutation) {}

  IrModel Run();

 private:
  // Linear [-> BatchNorm] -> activation, BatchNorm folded.
  IrDense Layer(const std::string& prefix, uint32_t in, uint32_t out, bool bias, bool batch_norm, double eps,
                const ActivationConfig& activation, bool drop_bias = false);
  IrMlp Mlp(const std::string& prefix, uint32_t in, const MlpConfig& config);
  IrGate Gate(const std::string& prefix, uint32_t in, const GateConfig& config, size_t expert_count);
  IrTable Table(const TableConfig& table);
  // Level l, whose experts and gates read streams of `stream_width` (one per task, then shared).
  IrLevel Level(size_t l, const std::vector<uint32_t>& stream_width);
  // Task t's tower and head, reading a stream of `width`.
  IrTower Tower(uint32_t t, uint32_t width);

  const ModelConfig& config_;
  WeightSource weights_;
  Mutation mutation_;
};

IrDense Importer::Layer(const std::string& prefix, uint32_t in, uint32_t out, bool bias, bool batch_norm, double eps,
                        const ActivationConfig& activation, bool drop_bias) {
  IrDense layer;
  layer.in = in;
  layer.out = out;
  layer.weight = weights_.TakeLinear(prefix + ".linear.weight", out, in);
  if (bias) {
    layer.bias = weights_.Take(prefix + ".linear.bias", {{out}});
    if (drop_bias) layer.bias.clear();
  }
  if (batch_norm) {
    const std::string bn = prefix + ".bn.";
    const std::vector<float> gamma = weights_.Take(bn + "weight", {{out}});
    const std::vector<float> beta = weights_.Take(bn + "bias", {{out}});
    const std::vector<float> mean = weights_.Take(bn + "running_mean", {{out}});
    const std::vector<float> var = weights_.Take(bn + "running_var", {{out}});
    weights_.AcceptIfPresent(bn + "num_batches_tracked");
    if (mutation_ == Mutation::kBatchNormEps1e3) eps = 1e-3;
    if (mutation_ != Mutation::kDropBatchNorm) {
      // Eval-mode BatchNorm is affine: y = s * (Wx + b - mean) + beta, s = gamma / sqrt(var + eps).
      std::vector<float> folded_bias(out);
      for (uint32_t o = 0; o < out; ++o) {
        if (!(static_cast<double>(var[o]) + eps > 0.0)) {
          throw ConvertError("weights: tensor '" + bn + "running_var' element " + std::to_string(o) +
                             " is negative beyond eps (" + std::to_string(var[o]) + ")");
        }
        const double s = static_cast<double>(gamma[o]) / std::sqrt(static_cast<double>(var[o]) + eps);
        for (uint32_t k = 0; k < in; ++k) {
          layer.weight[size_t{o} * in + k] = static_cast<float>(s * layer.weight[size_t{o} * in + k]);
        }
        const double b = layer.bias.empty() ? 0.0 : layer.bias[o];
        folded_bias[o] = static_cast<float>(s * (b - mean[o]) + beta[o]);
      }
      layer.bias = folded_bias;
    }
  }
  layer.activation = activation.type;
  layer.negative_slope = activation.negative_slope;
  if (activation.type == fb::Activation::PRelu) {
    layer.prelu_slope = weights_.Take(prefix + ".prelu.weight", {{1}, {out}});
  }
  if (activation.type == fb::Activation::Dice) {
    layer.dice_alpha = weights_.Take(prefix + ".dice.alpha", {{1}})[0];
    layer.dice_epsilon = activation.dice_epsilon;
  }
  return layer;
}

IrMlp Importer::Mlp(const std::string& prefix, uint32_t in, const MlpConfig& config) {
  IrMlp mlp;
  for (size_t i = 0; i < config.units.size(); ++i) {
    mlp.layers.push_back(Layer(prefix + ".layers." + std::to_string(i), in, config.units[i], config.bias,
                               config.batch_norm, config.batch_norm_eps, config.activation));
    in = config.units[i];
  }
  return mlp;
}

IrGate Importer::Gate(const std::string& prefix, uint32_t in, const GateConfig& config, size_t expert_count) {
  IrGate gate;
  if (!config.has_gate) {
    if (expert_count != 1) {
      throw ConvertError("config: gate type \"none\" needs exactly one expert per gate, but " + prefix + " weighs " +
                         std::to_string(expert_count) + " experts");
    }
    return gate;
  }
  gate.mlp = Mlp(prefix, in, config.hidden);
  const uint32_t logits_in = config.hidden.units.empty() ? in : config.hidden.units.back();
  ActivationConfig identity;
  identity.type = fb::Activation::Identity;
  gate.mlp.layers.push_back(Layer(prefix + ".logits", logits_in, static_cast<uint32_t>(expert_count), config.bias,
                                  config.batch_norm, config.batch_norm_eps, identity,
                                  /*drop_bias=*/mutation_ == Mutation::kDropGateBias));
  return gate;
}

IrTable Importer::Table(const TableConfig& table) {
  IrTable ir_table;
  ir_table.config = table;
  const std::string name = "embeddings." + table.name + ".weight";
  ir_table.rows = weights_.Take(name, {{table.vocabulary, table.dim}});
  if (table.f16) {
    for (size_t i = 0; i < ir_table.rows.size(); ++i) {
      ir_table.rows[i] = RoundToHalf(ir_table.rows[i]);
      if (!std::isfinite(ir_table.rows[i])) {
        throw ConvertError("weights: tensor '" + name + "' element " + std::to_string(i) +
                           " does not fit in float16 (|value| >= 65520); store the table as f32");
      }
    }
  }
  return ir_table;
}

IrLevel Importer::Level(size_t l, const std::vector<uint32_t>& stream_width) {
  const uint32_t task_count = static_cast<uint32_t>(config_.tasks.size());
  const uint32_t shared_stream = task_count;
  const LevelConfig& level_config = config_.levels[l];
  const bool last = l + 1 == config_.levels.size();
  const std::string level_prefix = "levels." + std::to_string(l);
  IrLevel level;
  // Expert order in the level: task 0's specific experts, task 1's, ..., then shared.
  std::vector<std::vector<uint32_t>> specific(task_count);
  std::vector<uint32_t> shared;
  for (uint32_t t = 0; t < task_count; ++t) {
    for (uint32_t j = 0; j < level_config.specific_experts[t]; ++j) {
      IrExpert expert;
      expert.input_stream = t;
      expert.mlp = Mlp(level_prefix + ".specific_experts." + std::to_string(t) + "." + std::to_string(j),
                       stream_width[t], level_config.expert);
      specific[t].push_back(static_cast<uint32_t>(level.experts.size()));
      level.experts.push_back(std::move(expert));
    }
  }
  for (uint32_t j = 0; j < level_config.shared_experts; ++j) {
    IrExpert expert;
    expert.input_stream = shared_stream;
    expert.mlp = Mlp(level_prefix + ".shared_experts." + std::to_string(j), stream_width[shared_stream],
                     level_config.expert);
    shared.push_back(static_cast<uint32_t>(level.experts.size()));
    level.experts.push_back(std::move(expert));
  }
  auto concat = [&](const std::vector<uint32_t>& first, const std::vector<uint32_t>& second) {
    std::vector<uint32_t> all = first;
    all.insert(all.end(), second.begin(), second.end());
    return all;
  };
  const bool swap = mutation_ == Mutation::kSwapExpertOrder;
  for (uint32_t t = 0; t < task_count; ++t) {
    IrGate gate = Gate(level_prefix + ".task_gates." + std::to_string(t), stream_width[t], level_config.gate,
                       specific[t].size() + shared.size());
    gate.input_stream = t;
    gate.output_stream = t;
    gate.experts = swap ? concat(shared, specific[t]) : concat(specific[t], shared);
    level.gates.push_back(std::move(gate));
  }
  std::vector<uint32_t> all_specific;
  for (const auto& experts : specific) all_specific.insert(all_specific.end(), experts.begin(), experts.end());
  const bool build_shared_gate =
      !last || config_.last_level_shared_gate_present || mutation_ == Mutation::kUseLastLevelSharedGate;
  if (build_shared_gate) {
    IrGate gate = Gate(level_prefix + ".shared_gate", stream_width[shared_stream], level_config.gate,
                       all_specific.size() + shared.size());
    gate.input_stream = shared_stream;
    gate.output_stream = shared_stream;
    gate.experts = swap ? concat(shared, all_specific) : concat(all_specific, shared);
    // A last-level shared gate is checked (its tensors are consumed) and dropped, unless
    // the mutation test asks for the bug of using it.
    if (!last || mutation_ == Mutation::kUseLastLevelSharedGate) level.gates.push_back(std::move(gate));
  }
  return level;
}

IrTower Importer::Tower(uint32_t t, uint32_t width) {
  const TowerConfig& tower_config = config_.towers[t];
  const std::string prefix = "towers." + std::to_string(t);
  IrTower tower;
  const uint32_t shared_stream = static_cast<uint32_t>(config_.tasks.size());
  tower.input_stream = mutation_ == Mutation::kUseLastLevelSharedGate ? shared_stream : t;
  tower.mlp = Mlp(prefix, width, tower_config.mlp);
  const uint32_t head_in = tower_config.mlp.units.empty() ? width : tower_config.mlp.units.back();
  IrDense head;
  head.in = head_in;
  head.out = 1;
  head.activation = fb::Activation::Identity;
  head.weight = weights_.TakeLinear(prefix + ".head.weight", 1, head_in);
  if (tower_config.head_bias) head.bias = weights_.Take(prefix + ".head.bias", {{1}});
  if (tower_config.output_bias) {
    const float output_bias = weights_.Take(prefix + ".output_bias", {{1}})[0];
    head.bias = {(head.bias.empty() ? 0.0f : head.bias[0]) + output_bias};
  }
  tower.mlp.layers.push_back(std::move(head));
  return tower;
}

IrModel Importer::Run() {
  IrModel model;
  model.name = config_.name;
  model.description = config_.description;
  model.source_framework = config_.source_framework;
  model.features = config_.features;
  model.extras = config_.extras;
  model.score = config_.score;
  model.tasks = config_.tasks;
  for (const TableConfig& table : config_.tables) model.tables.push_back(Table(table));
  // Before level 0 every stream is the input row; after a level, every stream is its experts'
  // output width.
  const uint32_t task_count = static_cast<uint32_t>(config_.tasks.size());
  std::vector<uint32_t> stream_width(task_count + 1, config_.row_width());
  for (size_t l = 0; l < config_.levels.size(); ++l) {
    model.levels.push_back(Level(l, stream_width));
    std::fill(stream_width.begin(), stream_width.end(), config_.levels[l].expert.units.back());
  }
  for (uint32_t t = 0; t < task_count; ++t) model.towers.push_back(Tower(t, stream_width[t]));
  weights_.CheckAllUsed();
  ReorderRequestFirst(&model);
  return model;
}

}  // namespace

void ReorderRequestFirst(IrModel* model) {
  std::vector<uint32_t> old_offset;
  uint32_t offset = 0;
  for (const auto& f : model->features) {
    old_offset.push_back(offset);
    offset += f.width;
  }
  std::vector<size_t> order;
  for (size_t i = 0; i < model->features.size(); ++i) {
    if (model->features[i].scope == fb::Scope::Request) order.push_back(i);
  }
  for (size_t i = 0; i < model->features.size(); ++i) {
    if (model->features[i].scope != fb::Scope::Request) order.push_back(i);
  }
  std::vector<uint32_t> column_source;  // new column -> old column
  std::vector<FeatureConfig> features;
  for (size_t i : order) {
    for (uint32_t c = 0; c < model->features[i].width; ++c) column_source.push_back(old_offset[i] + c);
    features.push_back(model->features[i]);
  }
  model->features = std::move(features);
  auto permute = [&](IrDense* layer) {
    std::vector<float> weight(layer->weight.size());
    for (uint32_t o = 0; o < layer->out; ++o) {
      for (uint32_t c = 0; c < layer->in; ++c) {
        weight[size_t{o} * layer->in + c] = layer->weight[size_t{o} * layer->in + column_source[c]];
      }
    }
    layer->weight = std::move(weight);
  };
  IrLevel& first = model->levels.front();
  for (IrExpert& expert : first.experts) permute(&expert.mlp.layers.front());
  for (IrGate& gate : first.gates) {
    if (!gate.mlp.layers.empty()) permute(&gate.mlp.layers.front());
  }
}

IrModel ImportNative(const ModelConfig& config, const SafeTensorsFile& weights, const ImportOptions& options) {
  return Importer(config, weights, options).Run();
}

size_t IrModel::parameter_count() const {
  size_t count = 0;
  for (const auto& table : tables) count += table.rows.size();
  auto add = [&](const IrMlp& mlp) {
    for (const auto& layer : mlp.layers) count += layer.weight.size() + layer.bias.size() + layer.prelu_slope.size();
  };
  for (const auto& level : levels) {
    for (const auto& expert : level.experts) add(expert.mlp);
    for (const auto& gate : level.gates) add(gate.mlp);
  }
  for (const auto& tower : towers) add(tower.mlp);
  return count;
}

uint32_t IrModel::row_width() const {
  uint32_t width = 0;
  for (const auto& f : features) width += f.width;
  return width;
}

size_t IrModel::layer_count() const {
  size_t count = 0;
  for (const auto& level : levels) {
    for (const auto& expert : level.experts) count += expert.mlp.layers.size();
    for (const auto& gate : level.gates) count += gate.mlp.layers.size();
  }
  for (const auto& tower : towers) count += tower.mlp.layers.size();
  return count;
}

}  // namespace convert
}  // namespace ple
