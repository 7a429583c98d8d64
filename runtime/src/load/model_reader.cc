// Model::Load: verify the bytes, then build the views. Nothing is read before the FlatBuffers
// verifier has accepted the buffer; every count, index and shape is then checked before a
// view points at it, so a malformed file gives an error and never an out-of-bounds read.
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <map>
#include <string>

#include "run/encoder.h"
#include "load/model.h"
#include "ple_model_generated.h"

namespace ple::rt {
namespace {

// Structural caps: generous for any ranking model, small enough that products of them
// cannot overflow 64-bit sizes.
constexpr uint32_t kMaxWidth = 1u << 20;        // floats in one layer or input row
constexpr uint32_t kMaxLevels = 64;
constexpr uint32_t kMaxTasks = 256;
constexpr uint32_t kMaxExpertsPerLevel = 4096;
constexpr uint32_t kMaxLayersPerMlp = 64;
constexpr uint32_t kMaxGroupColumns = 1u << 24;  // the layers packed side by side in one group (each <= kMaxWidth)

// The int8 epilogue computes acc - zero_point * sum in int32 (kernels.h, qu8s8_gemm), with
// acc = sum over K = 4 * blocks inputs of q * w, q in [0, 255], w in [-128, 127]: |acc| <=
// 255 * 128 * K, at most 534,904,320 for the largest int8 group (K <= kMaxInt8Inputs + 4). A
// channel sum of K int8 weights lies in [-128 K, 127 K], so zero_point * sum, zero_point in
// [0, 255], obeys the same bound and the difference stays within +-1.07e9 < 2^31 on every path
// (the ARM dot-product path's (q - 128) * w + (128 - zero_point) * sum too). The sums are
// bounded here, not recomputed from the weights: that would read every weight byte at load
// (docs/hardening.md). A sum in range that disagrees with its column gives wrong but finite,
// path-independent results; only the integrity trailer tells such a file apart.
static_assert(uint64_t{255} * 128 * (kMaxInt8Inputs + 4) * 2 < (uint64_t{1} << 31),
              "the int8 epilogue's int32 arithmetic must not overflow at the input cap");

__attribute__((noinline)) Status CheckChannelSums(const flatbuffers::Vector<int32_t>* sums, uint32_t blocks, const std::string& what,
                        uint32_t columns) {
  if (sums == nullptr) return Status::Ok();
  const int64_t k = int64_t{blocks} * 4, lo = -128 * k, hi = 127 * k;
  for (uint32_t n = 0; n < columns; ++n) {
    const int64_t sum = sums->Get(n);
    if (sum < lo || sum > hi) {
      return MakeError(PLE_ERROR_INVALID_MODEL,
                       "%s: channel sum %lld of column %u is outside [%lld, %lld], the range of %lld int8 weights",
                       what.c_str(), static_cast<long long>(sum), n, static_cast<long long>(lo),
                       static_cast<long long>(hi), static_cast<long long>(k));
    }
  }
  return Status::Ok();
}

const char* DTypeName(fb::DType dtype) {
  const char* name = fb::EnumNameDType(dtype);
  return name[0] != '\0' ? name : "unknown";
}

}  // namespace

class ModelReader {
 public:
  explicit ModelReader(Model* model) : model_(model) {}

  Status Read(const fb::Model& root);

 private:
  // F32 data of exactly `expected_shape`, 64-byte aligned.
  Status ReadTensor(const fb::Tensor* tensor, const std::string& what, const std::vector<uint32_t>& expected_shape,
                    const float** out);
  Status ReadMlp(const fb::Mlp* mlp, const std::string& what, uint32_t in_width, Mlp* out);
  Status ReadDense(const fb::DenseLayer& layer, const std::string& what, uint32_t in_width, DenseLayer* out);
  Status ReadFeatureLayer(const fb::Model& root);
  Status ReadPackedGroups(const fb::Model& root);
  Status CheckPackedGroups() const;
  Status PackRowMajorLayers();
  Status ReadFeature(const fb::Feature& feature, FeatureInfo* info);
  Status ReadEncoder(const fb::Encoder& encoder, uint32_t table_rows, FeatureInfo* info);
  Status ReadScore(const fb::Model& root);

  Model* model_;
};

Status ModelReader::ReadTensor(const fb::Tensor* tensor, const std::string& what,
                               const std::vector<uint32_t>& expected_shape, const float** out) {
  if (tensor->dtype() != fb::DType::F32) {
    return MakeError(PLE_ERROR_UNSUPPORTED, "%s: dtype %s is not supported by this reader (float32 only)",
                     what.c_str(), DTypeName(tensor->dtype()));
  }
  const auto* shape = tensor->shape();
  const auto* data = tensor->data();
  bool shape_ok = shape != nullptr && shape->size() == expected_shape.size();
  for (uint32_t i = 0; shape_ok && i < expected_shape.size(); ++i) shape_ok = shape->Get(i) == expected_shape[i];
  if (!shape_ok) {
    auto format = [](auto begin, auto end) {
      std::string text = "[";
      for (auto it = begin; it != end; ++it) text += (it == begin ? "" : ", ") + std::to_string(*it);
      return text + "]";
    };
    const std::string found = shape ? format(shape->begin(), shape->end()) : "none";
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: shape %s expected, found %s", what.c_str(),
                     format(expected_shape.begin(), expected_shape.end()).c_str(), found.c_str());
  }
  uint64_t elements = 1;
  for (uint32_t d : expected_shape) elements *= d;
  const uint64_t expected_bytes = elements * sizeof(float);
  if (data == nullptr || data->size() != expected_bytes) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %llu data bytes expected, found %llu", what.c_str(),
                     static_cast<unsigned long long>(expected_bytes),
                     static_cast<unsigned long long>(data ? data->size() : 0));
  }
  if (reinterpret_cast<uintptr_t>(data->data()) % kWeightAlignmentBytes != 0) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: data is not %zu-byte aligned", what.c_str(), kWeightAlignmentBytes);
  }
  *out = reinterpret_cast<const float*>(data->data());
  return Status::Ok();
}

Status ModelReader::ReadDense(const fb::DenseLayer& layer, const std::string& what, uint32_t in_width,
                              DenseLayer* out) {
  const auto* shape = layer.weight()->shape();
  if (shape == nullptr || shape->size() != 2) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s.weight: a 2-d [out, in] shape expected", what.c_str());
  }
  const uint32_t out_width = shape->Get(0);
  if (out_width == 0 || out_width > kMaxWidth) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s.weight: output width %u outside [1, %u]", what.c_str(), out_width,
                     kMaxWidth);
  }
  if (shape->Get(1) != in_width) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s.weight: shape [%u, %u] expected (input width %u), found [%u, %u]",
                     what.c_str(), out_width, in_width, in_width, out_width, shape->Get(1));
  }
  out->in = in_width;
  out->out = out_width;
  Status status;
  if (layer.packed_group() == 0) {
    status = ReadTensor(layer.weight(), what + ".weight", {out_width, in_width}, &out->row_major);
    if (!status.ok()) return status;
  } else {
    const auto& groups = model_->packed_groups_;
    if (layer.packed_group() > groups.size()) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: packed group %u out of range [1, %zu]", what.c_str(),
                       layer.packed_group(), groups.size());
    }
    const PackedGroup& group = groups[layer.packed_group() - 1];
    if (group.in != in_width || layer.packed_column() % 16 != 0 ||
        uint64_t{layer.packed_column()} + out_width > group.columns) {
      return MakeError(PLE_ERROR_INVALID_MODEL,
                       "%s: columns [%u, %u) of packed group %u (%u inputs, %u columns) do not fit a [%u -> %u] layer",
                       what.c_str(), layer.packed_column(), layer.packed_column() + out_width, layer.packed_group(),
                       group.in, group.columns, in_width, out_width);
    }
    out->packed = &group;
    out->packed_column = layer.packed_column();
  }
  if (layer.bias() != nullptr) {
    status = ReadTensor(layer.bias(), what + ".bias", {out_width}, &out->bias);
    if (!status.ok()) return status;
  }
  switch (layer.activation()) {
    case fb::Activation::Identity: out->activation = Activation::kIdentity; break;
    case fb::Activation::Relu: out->activation = Activation::kRelu; break;
    case fb::Activation::LeakyRelu: out->activation = Activation::kLeakyRelu; break;
    case fb::Activation::PRelu: out->activation = Activation::kPRelu; break;
    case fb::Activation::Sigmoid: out->activation = Activation::kSigmoid; break;
    case fb::Activation::Tanh: out->activation = Activation::kTanh; break;
    case fb::Activation::Silu: out->activation = Activation::kSilu; break;
    case fb::Activation::Dice: out->activation = Activation::kDice; break;
    default:
      return MakeError(PLE_ERROR_UNSUPPORTED, "%s: activation %d is not known to this reader", what.c_str(),
                       static_cast<int>(layer.activation()));
  }
  out->negative_slope = layer.negative_slope();
  if (out->activation == Activation::kLeakyRelu && !std::isfinite(out->negative_slope)) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: leaky_relu negative_slope is not finite", what.c_str());
  }
  out->dice_alpha = layer.dice_alpha();
  out->dice_epsilon = layer.dice_epsilon();
  if (out->activation == Activation::kDice && (!std::isfinite(out->dice_alpha) || !(out->dice_epsilon > 0.0f) ||
                                               !std::isfinite(out->dice_epsilon))) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: dice alpha must be finite and epsilon finite and > 0", what.c_str());
  }
  if (out->activation == Activation::kPRelu) {
    const fb::Tensor* slope = layer.prelu_slope();
    if (slope == nullptr) return MakeError(PLE_ERROR_INVALID_MODEL, "%s: prelu without prelu_slope", what.c_str());
    const uint32_t count = slope->shape() && slope->shape()->size() == 1 ? slope->shape()->Get(0) : 0;
    if (count != 1 && count != out_width) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s.prelu_slope: shape [1] or [%u] expected", what.c_str(), out_width);
    }
    status = ReadTensor(slope, what + ".prelu_slope", {count}, &out->prelu_slope);
    if (!status.ok()) return status;
    out->prelu_count = count;
  }
  return Status::Ok();
}

Status ModelReader::ReadMlp(const fb::Mlp* mlp, const std::string& what, uint32_t in_width, Mlp* out) {
  const auto* layers = mlp->layers();
  if (layers == nullptr || layers->size() == 0) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: an MLP needs at least one layer", what.c_str());
  }
  if (layers->size() > kMaxLayersPerMlp) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %u layers, at most %u allowed", what.c_str(), layers->size(),
                     kMaxLayersPerMlp);
  }
  uint32_t width = in_width;
  for (uint32_t i = 0; i < layers->size(); ++i) {
    DenseLayer dense;
    Status status = ReadDense(*layers->Get(i), what + ".layers." + std::to_string(i), width, &dense);
    if (!status.ok()) return status;
    width = dense.out;
    out->layers.push_back(dense);
  }
  return Status::Ok();
}

Status ModelReader::Read(const fb::Model& root) {
  Model& m = *model_;
  if (root.min_reader_version() == 0) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "min_reader_version is 0: not written by a PLE converter");
  }
  if (root.min_reader_version() > kReaderVersion) {
    return MakeError(PLE_ERROR_UNSUPPORTED_VERSION,
                     "the model needs reader version %u, this runtime is reader version %u: upgrade the runtime",
                     root.min_reader_version(), kReaderVersion);
  }
  if (const fb::Metadata* meta = root.metadata()) {
    if (meta->name()) m.name_ = meta->name()->str();
    if (meta->description()) m.description_ = meta->description()->str();
    if (meta->producer()) m.producer_ = meta->producer()->str();
    if (meta->source_framework()) m.source_framework_ = meta->source_framework()->str();
  }

  Status status = ReadFeatureLayer(root);
  if (!status.ok()) return status;
  status = ReadPackedGroups(root);
  if (!status.ok()) return status;

  // Tasks.
  const auto* tasks = root.tasks();
  if (tasks == nullptr || tasks->size() == 0) return MakeError(PLE_ERROR_INVALID_MODEL, "the model has no tasks");
  if (tasks->size() > kMaxTasks) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%u tasks, at most %u allowed", tasks->size(), kMaxTasks);
  }
  std::set<std::string> names;
  for (uint32_t t = 0; t < tasks->size(); ++t) {
    const fb::Task* task = tasks->Get(t);
    TaskInfo info;
    info.name = task->name()->str();
    if (task->type() == fb::TaskType::Binary) {
      info.type = PLE_TASK_BINARY;
    } else if (task->type() == fb::TaskType::Regression) {
      info.type = PLE_TASK_REGRESSION;
    } else {
      return MakeError(PLE_ERROR_UNSUPPORTED, "task '%s': type %d unknown", info.name.c_str(),
                       static_cast<int>(task->type()));
    }
    if (!names.insert(info.name).second) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "task name '%s' appears twice", info.name.c_str());
    }
    m.tasks_.push_back(std::move(info));
  }
  const uint32_t stream_count = m.stream_count();

  // Levels: track which streams are defined and how wide they are.
  const auto* levels = root.levels();
  if (levels == nullptr || levels->size() == 0) return MakeError(PLE_ERROR_INVALID_MODEL, "the model has no levels");
  if (levels->size() > kMaxLevels) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%u levels, at most %u allowed", levels->size(), kMaxLevels);
  }
  constexpr uint32_t kUndefined = 0;
  std::vector<uint32_t> stream_width(stream_count, m.row_width_);
  for (uint32_t l = 0; l < levels->size(); ++l) {
    const fb::Level* fb_level = levels->Get(l);
    const std::string level_name = "levels." + std::to_string(l);
    Level level;
    const auto* experts = fb_level->experts();
    const uint32_t expert_count = experts ? experts->size() : 0;
    if (expert_count > kMaxExpertsPerLevel) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %u experts, at most %u allowed", level_name.c_str(), expert_count,
                       kMaxExpertsPerLevel);
    }
    for (uint32_t e = 0; e < expert_count; ++e) {
      const fb::Expert* fb_expert = experts->Get(e);
      const std::string what = level_name + ".experts." + std::to_string(e);
      Expert expert;
      expert.input_stream = fb_expert->input_stream();
      if (expert.input_stream >= stream_count || stream_width[expert.input_stream] == kUndefined) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "%s: input stream %u is not defined at this level", what.c_str(),
                         expert.input_stream);
      }
      Status status = ReadMlp(fb_expert->mlp(), what, stream_width[expert.input_stream], &expert.mlp);
      if (!status.ok()) return status;
      level.experts.push_back(std::move(expert));
    }
    const auto* gates = fb_level->gates();
    if (gates == nullptr || gates->size() == 0) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: a level needs at least one gate", level_name.c_str());
    }
    std::vector<uint32_t> next_width(stream_count, kUndefined);
    for (uint32_t g = 0; g < gates->size(); ++g) {
      const fb::Gate* fb_gate = gates->Get(g);
      const std::string what = level_name + ".gates." + std::to_string(g);
      Gate gate;
      gate.input_stream = fb_gate->input_stream();
      gate.output_stream = fb_gate->output_stream();
      if (gate.input_stream >= stream_count || stream_width[gate.input_stream] == kUndefined) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "%s: input stream %u is not defined at this level", what.c_str(),
                         gate.input_stream);
      }
      if (gate.output_stream >= stream_count) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "%s: output stream %u out of range [0, %u)", what.c_str(),
                         gate.output_stream, stream_count);
      }
      if (next_width[gate.output_stream] != kUndefined) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "%s: output stream %u is written by two gates", what.c_str(),
                         gate.output_stream);
      }
      const auto* indices = fb_gate->experts();
      if (indices == nullptr || indices->size() == 0) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "%s: a gate needs at least one expert", what.c_str());
      }
      uint32_t width = kUndefined;
      for (uint32_t i = 0; i < indices->size(); ++i) {
        const uint32_t e = indices->Get(i);
        if (e >= expert_count) {
          return MakeError(PLE_ERROR_INVALID_MODEL, "%s: expert index %u out of range [0, %u)", what.c_str(), e,
                           expert_count);
        }
        const uint32_t expert_width = level.experts[e].mlp.out();
        if (width != kUndefined && expert_width != width) {
          return MakeError(PLE_ERROR_INVALID_MODEL, "%s: experts of one gate differ in output width (%u and %u)",
                           what.c_str(), width, expert_width);
        }
        width = expert_width;
        gate.experts.push_back(e);
      }
      if (fb_gate->mlp() == nullptr) {
        if (gate.experts.size() != 1) {
          return MakeError(PLE_ERROR_INVALID_MODEL, "%s: a gate without an MLP must have exactly one expert, found %zu",
                           what.c_str(), gate.experts.size());
        }
      } else {
        Status status = ReadMlp(fb_gate->mlp(), what, stream_width[gate.input_stream], &gate.mlp);
        if (!status.ok()) return status;
        if (gate.mlp.out() != gate.experts.size()) {
          return MakeError(PLE_ERROR_INVALID_MODEL, "%s: the gate MLP gives %u logits for %zu experts", what.c_str(),
                           gate.mlp.out(), gate.experts.size());
        }
      }
      next_width[gate.output_stream] = width;
      level.gates.push_back(std::move(gate));
    }
    stream_width = next_width;
    m.levels_.push_back(std::move(level));
  }

  // Towers: one per task, reading a stream the last level writes; the head has one output.
  const auto* towers = root.towers();
  if (towers == nullptr || towers->size() != tasks->size()) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%u towers expected (one per task), found %u", tasks->size(),
                     towers ? towers->size() : 0);
  }
  for (uint32_t t = 0; t < towers->size(); ++t) {
    const fb::Tower* fb_tower = towers->Get(t);
    const std::string what = "towers." + std::to_string(t);
    Tower tower;
    tower.input_stream = fb_tower->input_stream();
    if (tower.input_stream >= stream_count || stream_width[tower.input_stream] == kUndefined) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: input stream %u is not written by the last level", what.c_str(),
                       tower.input_stream);
    }
    Status status = ReadMlp(fb_tower->mlp(), what, stream_width[tower.input_stream], &tower.mlp);
    if (!status.ok()) return status;
    if (tower.mlp.out() != 1) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: the head must have 1 output, found %u", what.c_str(),
                       tower.mlp.out());
    }
    m.towers_.push_back(std::move(tower));
  }
  Status status_groups = CheckPackedGroups();
  if (!status_groups.ok()) return status_groups;
  status_groups = PackRowMajorLayers();
  if (!status_groups.ok()) return status_groups;
  return ReadScore(root);
}

// The packed groups' members must be what the planner runs as one step: layers that read the
// same value (the first layers of one level reading one stream; any stream in the first level,
// whose streams are all the input row), in disjoint columns; a group is split at the request
// columns exactly when it reads the model's input row and that row lists its request-scope
// features first.
Status ModelReader::CheckPackedGroups() const {
  const Model& m = *model_;
  const bool split = m.request_first_ && m.request_width_ > 0 && m.request_width_ < m.row_width_;
  // What each group's members read: a level's stream, or one particular layer's predecessor.
  std::vector<std::string> group_input(m.packed_groups_.size());
  std::vector<std::vector<bool>> used(m.packed_groups_.size());
  std::map<const PackedGroup*, size_t> index_of;
  for (size_t i = 0; i < m.packed_groups_.size(); ++i) index_of[&m.packed_groups_[i]] = i;
  auto check = [&](const Mlp& mlp, const std::string& owner, const std::string& first_input,
                   bool reads_input_row) -> Status {
    for (size_t i = 0; i < mlp.layers.size(); ++i) {
      const DenseLayer& layer = mlp.layers[i];
      const PackedGroup* group = layer.packed;
      if (group == nullptr) continue;
      const size_t index = index_of.at(group);
      const std::string input = i == 0 ? first_input : owner + " layer " + std::to_string(i - 1);
      if (group_input[index].empty()) {
        group_input[index] = input;
        used[index].assign(group->columns, false);
      } else if (group_input[index] != input) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "packed group %zu holds layers that read different inputs", index + 1);
      }
      for (uint32_t c = layer.packed_column; c < layer.packed_column + layer.out; ++c) {
        if (used[index][c]) {
          return MakeError(PLE_ERROR_INVALID_MODEL, "packed group %zu: two layers share column %u", index + 1, c);
        }
        used[index][c] = true;
      }
      const uint32_t expected = reads_input_row && i == 0 && split ? m.request_width_ : 0;
      if (group->request_columns != expected) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "a packed group is split at %u input columns where %u is expected",
                         group->request_columns, expected);
      }
    }
    return Status::Ok();
  };
  for (size_t l = 0; l < m.levels_.size(); ++l) {
    auto stream_name = [&](uint32_t stream) {
      return l == 0 ? std::string("input row") : "level " + std::to_string(l) + " stream " + std::to_string(stream);
    };
    const Level& level = m.levels_[l];
    for (size_t e = 0; e < level.experts.size(); ++e) {
      Status status = check(level.experts[e].mlp, "level " + std::to_string(l) + " expert " + std::to_string(e),
                            stream_name(level.experts[e].input_stream), l == 0);
      if (!status.ok()) return status;
    }
    for (size_t g = 0; g < level.gates.size(); ++g) {
      Status status = check(level.gates[g].mlp, "level " + std::to_string(l) + " gate " + std::to_string(g),
                            stream_name(level.gates[g].input_stream), l == 0);
      if (!status.ok()) return status;
    }
  }
  for (size_t t = 0; t < m.towers_.size(); ++t) {
    Status status = check(m.towers_[t].mlp, "tower " + std::to_string(t), "tower " + std::to_string(t), false);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

// Files before schema 3 hold row-major float32 layers: each becomes a float32 group of its own,
// packed once here into memory the model owns (every session shares it). A first layer of the
// first level is split at the request columns like the converter's groups.
Status ModelReader::PackRowMajorLayers() {
  Model& m = *model_;
  const bool split = m.request_first_ && m.request_width_ > 0 && m.request_width_ < m.row_width_;
  auto pack = [&](DenseLayer& layer, bool reads_input_row) -> Status {
    if (layer.packed != nullptr) return Status::Ok();
    PackedGroup group;
    group.type = WeightType::kF32;
    group.in = layer.in;
    group.request_columns = reads_input_row && split ? m.request_width_ : 0;
    group.columns = (layer.out + 15) / 16 * 16;
    const size_t bytes = size_t{group.columns} * group.in * sizeof(float);
    float* packed = static_cast<float*>(std::aligned_alloc(kWeightAlignmentBytes, (bytes + 63) / 64 * 64));
    if (packed == nullptr) return MakeError(PLE_ERROR_OUT_OF_MEMORY, "cannot allocate %zu bytes to pack a layer", bytes);
    m.packed_at_load_.emplace_back(packed);
    m.packed_at_load_bytes_ += bytes;
    for (uint32_t n = 0; n < group.columns; ++n) {
      for (uint32_t k = 0; k < group.in; ++k) {
        packed[(size_t{n / 16} * group.in + k) * 16 + n % 16] = n < layer.out ? layer.row_major[size_t{n} * layer.in + k] : 0.0f;
      }
    }
    group.weights = packed;
    m.packed_groups_.push_back(group);
    layer.packed = &m.packed_groups_.back();
    layer.packed_column = 0;
    return Status::Ok();
  };
  auto pack_mlp = [&](Mlp& mlp, bool first_level) -> Status {
    for (size_t i = 0; i < mlp.layers.size(); ++i) {
      Status status = pack(mlp.layers[i], first_level && i == 0);
      if (!status.ok()) return status;
    }
    return Status::Ok();
  };
  for (size_t l = 0; l < m.levels_.size(); ++l) {
    for (Expert& e : m.levels_[l].experts) {
      Status status = pack_mlp(e.mlp, l == 0);
      if (!status.ok()) return status;
    }
    for (Gate& g : m.levels_[l].gates) {
      Status status = pack_mlp(g.mlp, l == 0);
      if (!status.ok()) return status;
    }
  }
  for (Tower& t : m.towers_) {
    Status status = pack_mlp(t.mlp, false);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

Status ModelReader::ReadFeatureLayer(const fb::Model& root) {
  Model& m = *model_;
  const auto* inputs = root.inputs();
  const auto* features = root.features();
  if ((inputs != nullptr) == (features != nullptr)) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "the model needs exactly one of 'inputs' and 'features'");
  }
  if (const auto* tables = root.tables()) {
    for (uint32_t t = 0; t < tables->size(); ++t) {
      const fb::EmbeddingTable* table = tables->Get(t);
      TableInfo info;
      info.name = table->name()->str();
      const fb::Tensor* rows = table->rows();
      const std::string what = "tables." + info.name;
      const auto* shape = rows->shape();
      if (shape == nullptr || shape->size() != 2 || shape->Get(0) == 0 || shape->Get(1) == 0 ||
          shape->Get(1) > kMaxWidth) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "%s: a [vocabulary, dim] shape expected", what.c_str());
      }
      info.rows = shape->Get(0);
      info.dim = shape->Get(1);
      if (rows->dtype() == fb::DType::I8) {
        const uint64_t bytes = uint64_t{info.rows} * info.dim;
        const auto* scales = table->row_scales();
        if (rows->data() == nullptr || rows->data()->size() != bytes || scales == nullptr ||
            scales->size() != info.rows) {
          return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %llu int8 bytes and %u row scales expected", what.c_str(),
                           static_cast<unsigned long long>(bytes), info.rows);
        }
        info.data = rows->data()->data();
        info.int8 = true;
        info.row_scales = scales->data();
      } else if (rows->dtype() == fb::DType::F16) {
        const uint64_t bytes = uint64_t{info.rows} * info.dim * 2;
        if (rows->data() == nullptr || rows->data()->size() != bytes) {
          return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %llu data bytes expected for float16", what.c_str(),
                           static_cast<unsigned long long>(bytes));
        }
        info.data = rows->data()->data();
        info.f16 = true;
      } else {
        const float* data = nullptr;
        Status status = ReadTensor(rows, what, {info.rows, info.dim}, &data);
        if (!status.ok()) return status;
        info.data = data;
      }
      m.tables_.push_back(std::move(info));
    }
  }
  std::set<std::string> names;
  uint64_t row_width = 0;
  const uint32_t count = inputs ? inputs->size() : features->size();
  if (count == 0) return MakeError(PLE_ERROR_INVALID_MODEL, "the model has no inputs");
  for (uint32_t i = 0; i < count; ++i) {
    FeatureInfo info;
    fb::Scope scope;
    if (inputs != nullptr) {
      const fb::Input* in = inputs->Get(i);
      info.name = in->name()->str();
      info.width = in->width();
      scope = in->scope();
    } else {
      const fb::Feature* f = features->Get(i);
      info.name = f->name()->str();
      info.width = f->width();
      scope = f->scope();
      Status status = ReadFeature(*f, &info);
      if (!status.ok()) return status;
    }
    if (scope != fb::Scope::Candidate && scope != fb::Scope::Request) {
      return MakeError(PLE_ERROR_UNSUPPORTED, "feature '%s': scope %d unknown", info.name.c_str(),
                       static_cast<int>(scope));
    }
    info.scope = scope == fb::Scope::Request ? PLE_SCOPE_REQUEST : PLE_SCOPE_CANDIDATE;
    if (info.width == 0 || info.width > kMaxWidth) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': width %u outside [1, %u]", info.name.c_str(),
                       info.width, kMaxWidth);
    }
    if (!names.insert(info.name).second) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "input name '%s' appears twice", info.name.c_str());
    }
    info.row_offset = static_cast<uint32_t>(row_width);
    row_width += info.width;
    if (row_width > kMaxWidth) return MakeError(PLE_ERROR_INVALID_MODEL, "input row wider than %u floats", kMaxWidth);
    m.features_.push_back(std::move(info));
  }
  m.row_width_ = static_cast<uint32_t>(row_width);
  uint32_t request_offset = 0, candidate_offset = 0;
  bool seen_candidate = false;
  for (FeatureInfo& f : m.features_) {
    const bool request = f.scope == PLE_SCOPE_REQUEST;
    f.segment_offset = request ? request_offset : candidate_offset;
    (request ? request_offset : candidate_offset) += f.width;
    if (request && seen_candidate) m.request_first_ = false;
    seen_candidate = seen_candidate || !request;
    m.dense_only_ = m.dense_only_ && f.kind == FeatureKind::kDense;
  }
  m.request_width_ = request_offset;
  if (const auto* extras = root.extras()) {
    for (uint32_t i = 0; i < extras->size(); ++i) {
      const std::string name = extras->Get(i)->str();
      if (name.empty() || !names.insert(name).second) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "extra '%s' is empty or already a feature or an extra", name.c_str());
      }
      m.extras_.push_back(name);
    }
  }
  return Status::Ok();
}

Status ModelReader::ReadPackedGroups(const fb::Model& root) {
  const auto* groups = root.packed_groups();
  if (groups == nullptr) return Status::Ok();
  auto& out = model_->packed_groups_;
  for (uint32_t i = 0; i < groups->size(); ++i) {
    const fb::PackedGroup* g = groups->Get(i);
    const std::string what = "packed group " + std::to_string(i + 1);
    PackedGroup group;
    group.in = g->in();
    group.request_columns = g->request_columns();
    group.columns = g->columns();
    if (group.in > kMaxWidth) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %u inputs, at most %u allowed", what.c_str(), group.in, kMaxWidth);
    }
    if (group.columns > kMaxGroupColumns) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %u columns, at most %u allowed", what.c_str(), group.columns,
                       kMaxGroupColumns);
    }
    if (group.in == 0 || group.columns == 0 || group.columns % 16 != 0 || group.request_columns >= group.in) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %u inputs (split at %u), %u columns: not a valid shape",
                       what.c_str(), group.in, group.request_columns, group.columns);
    }
    const auto* weights = g->weights();
    uint64_t expected = 0;
    switch (g->dtype()) {
      case fb::DType::I8: {
        group.type = WeightType::kI8;
        if (group.in > kMaxInt8Inputs) {
          return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %u inputs, int8 groups read at most %u", what.c_str(),
                           group.in, kMaxInt8Inputs);
        }
        group.request_blocks = (group.request_columns + 3) / 4;
        group.blocks = group.request_blocks + (group.in - group.request_columns + 3) / 4;
        expected = uint64_t{group.columns} * group.blocks * 4;
        const auto* scales = g->scales();
        const auto* request_sums = g->request_sums();
        const auto* candidate_sums = g->candidate_sums();
        const bool request_sums_ok = group.request_columns == 0
                                         ? request_sums == nullptr
                                         : request_sums != nullptr && request_sums->size() == group.columns;
        if (scales == nullptr || scales->size() != group.columns || !request_sums_ok || candidate_sums == nullptr ||
            candidate_sums->size() != group.columns) {
          return MakeError(PLE_ERROR_INVALID_MODEL,
                           "%s: int8 weights need %u scales and channel sums (request sums exactly when split)",
                           what.c_str(), group.columns);
        }
        for (uint32_t n = 0; n < group.columns; ++n) {
          const float scale = scales->Get(n);
          if (!std::isfinite(scale) || !(scale >= std::numeric_limits<float>::min())) {
            return MakeError(PLE_ERROR_INVALID_MODEL, "%s: scale %g of column %u is not a finite normal float > 0",
                             what.c_str(), static_cast<double>(scale), n);
          }
        }
        Status status = CheckChannelSums(request_sums, group.request_blocks, what + " request sums", group.columns);
        if (status.ok()) {
          status = CheckChannelSums(candidate_sums, group.blocks - group.request_blocks, what + " candidate sums", group.columns);
        }
        if (!status.ok()) return status;
        group.scales = scales->data();
        group.request_sums = request_sums != nullptr ? request_sums->data() : nullptr;
        group.candidate_sums = candidate_sums->data();
        break;
      }
      case fb::DType::F16:
        group.type = WeightType::kF16;
        expected = uint64_t{group.columns} * group.in * 2;
        break;
      case fb::DType::F32:
        group.type = WeightType::kF32;
        expected = uint64_t{group.columns} * group.in * 4;
        break;
      default:
        return MakeError(PLE_ERROR_UNSUPPORTED, "%s: dtype %s is not supported for packed weights", what.c_str(),
                         DTypeName(g->dtype()));
    }
    if (weights == nullptr || weights->size() != expected) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %llu weight bytes expected, found %llu", what.c_str(),
                       static_cast<unsigned long long>(expected),
                       static_cast<unsigned long long>(weights ? weights->size() : 0));
    }
    if (reinterpret_cast<uintptr_t>(weights->data()) % kWeightAlignmentBytes != 0) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: weights are not %zu-byte aligned", what.c_str(),
                       kWeightAlignmentBytes);
    }
    group.weights = weights->data();
    out.push_back(group);
  }
  return Status::Ok();
}

Status ModelReader::ReadFeature(const fb::Feature& f, FeatureInfo* info) {
  const Model& m = *model_;
  const std::string& name = info->name;
  switch (f.kind()) {
    case fb::FeatureKind::Dense: {
      info->kind = FeatureKind::kDense;
      const auto* mean = f.normalize_mean();
      const auto* std_dev = f.normalize_std();
      if ((mean != nullptr) != (std_dev != nullptr) ||
          (mean != nullptr && (mean->size() != info->width || std_dev->size() != info->width))) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': normalize needs %u means and %u stds", name.c_str(),
                         info->width, info->width);
      }
      if (mean != nullptr) {
        for (uint32_t i = 0; i < info->width; ++i) {
          if (!std::isfinite(mean->Get(i)) || !(std_dev->Get(i) > 0.0f) || !std::isfinite(std_dev->Get(i))) {
            return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': normalize value %u is not finite or std <= 0",
                             name.c_str(), i);
          }
        }
        info->normalize_mean = mean->data();
        info->normalize_std = std_dev->data();
      }
      if (f.nan_policy() != fb::NanPolicy::Error && f.nan_policy() != fb::NanPolicy::Replace) {
        return MakeError(PLE_ERROR_UNSUPPORTED, "feature '%s': nan policy %d unknown", name.c_str(),
                         static_cast<int>(f.nan_policy()));
      }
      info->nan_replace = f.nan_policy() == fb::NanPolicy::Replace;
      info->nan_replacement = f.nan_replacement();
      if (!std::isfinite(info->nan_replacement)) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': nan replacement is not finite", name.c_str());
      }
      return Status::Ok();
    }
    case fb::FeatureKind::Sparse:
    case fb::FeatureKind::Sequence:
      break;
    default:
      return MakeError(PLE_ERROR_UNSUPPORTED, "feature '%s': kind %d unknown", name.c_str(), static_cast<int>(f.kind()));
  }
  info->kind = f.kind() == fb::FeatureKind::Sparse ? FeatureKind::kSparse : FeatureKind::kSequence;
  if (f.table() >= m.tables_.size()) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': table index %u out of range [0, %zu)", name.c_str(),
                     f.table(), m.tables_.size());
  }
  info->table = f.table();
  const TableInfo& table = m.tables_[info->table];
  if (info->width != table.dim) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': width %u differs from table '%s' dim %u", name.c_str(),
                     info->width, table.name.c_str(), table.dim);
  }
  switch (f.oov_policy()) {
    case fb::OovPolicy::Error: info->oov = OovPolicy::kError; break;
    case fb::OovPolicy::OovRow: info->oov = OovPolicy::kOovRow; break;
    case fb::OovPolicy::Hash: info->oov = OovPolicy::kHash; break;
    default:
      return MakeError(PLE_ERROR_UNSUPPORTED, "feature '%s': oov policy %d unknown", name.c_str(),
                       static_cast<int>(f.oov_policy()));
  }
  info->oov_row = f.oov_row();
  if (info->oov == OovPolicy::kOovRow && info->oov_row >= table.rows) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': oov row %u outside table '%s' of %u rows", name.c_str(),
                     info->oov_row, table.name.c_str(), table.rows);
  }
  if (info->kind == FeatureKind::kSequence) {
    info->max_length = f.max_length();
    if (info->max_length == 0 || info->max_length > (1u << 20)) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': max_length %u outside [1, 2^20]", name.c_str(),
                       info->max_length);
    }
    if (f.pooling() != fb::Pooling::Sum && f.pooling() != fb::Pooling::Mean) {
      return MakeError(PLE_ERROR_UNSUPPORTED, "feature '%s': pooling %d unknown", name.c_str(),
                       static_cast<int>(f.pooling()));
    }
    info->mean_pooling = f.pooling() == fb::Pooling::Mean;
    info->has_padding_id = f.has_padding_id();
    info->padding_id = f.padding_id();
    info->mean_eps = f.mean_eps();
    if (!(info->mean_eps >= 0.0f) || !std::isfinite(info->mean_eps)) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': mean_eps must be finite and >= 0", name.c_str());
    }
  }
  if (f.encoder() != nullptr) return ReadEncoder(*f.encoder(), table.rows, info);
  return Status::Ok();
}

// Checks everything a lookup relies on (sorted keys, offsets in range, valid UTF-8, ids inside
// the table), so encoding never reads outside the file.
Status ModelReader::ReadEncoder(const fb::Encoder& e, uint32_t table_rows, FeatureInfo* info) {
  const std::string& name = info->name;
  EncoderInfo& out = info->encoder;
  auto id_in_table = [&](int64_t id) { return id >= 0 && static_cast<uint64_t>(id) < table_rows; };
  switch (e.kind()) {
    case fb::EncoderKind::None:
      return Status::Ok();
    case fb::EncoderKind::StringVocabulary:
    case fb::EncoderKind::IntVocabulary: {
      const bool strings = e.kind() == fb::EncoderKind::StringVocabulary;
      const auto* ids = e.ids();
      const size_t n = ids ? ids->size() : 0;
      if (n == 0 || n > kMaxVocabularyKeys) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': vocabulary of %zu keys outside [1, %zu]", name.c_str(),
                         n, kMaxVocabularyKeys);
      }
      for (size_t i = 0; i < n; ++i) {
        if (!id_in_table(ids->Get(i))) {
          return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': vocabulary id %lld outside the table's %u rows",
                           name.c_str(), static_cast<long long>(ids->Get(i)), table_rows);
        }
      }
      if (strings) {
        const auto* offsets = e.string_offsets();
        const auto* bytes = e.string_bytes();
        if (offsets == nullptr || bytes == nullptr || offsets->size() != n + 1 || offsets->Get(0) != 0 ||
            offsets->Get(static_cast<uint32_t>(n)) != bytes->size()) {
          return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': string vocabulary offsets do not match its %zu keys",
                           name.c_str(), n);
        }
        for (size_t i = 0; i < n; ++i) {
          const uint32_t begin = offsets->Get(static_cast<uint32_t>(i)), end = offsets->Get(static_cast<uint32_t>(i + 1));
          if (end < begin || !IsValidUtf8(bytes->data() + begin, end - begin)) {
            return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': vocabulary key %zu is not valid UTF-8",
                             name.c_str(), i);
          }
          if (i > 0) {
            const uint32_t previous = offsets->Get(static_cast<uint32_t>(i - 1));
            if (CompareBytes(bytes->data() + previous, begin - previous, bytes->data() + begin, end - begin) >= 0) {
              return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': vocabulary keys are not sorted and unique at %zu",
                               name.c_str(), i);
            }
          }
        }
        out.string_offsets = offsets->data();
        out.string_bytes = bytes->data();
        out.bytes = offsets->size() * 4 + bytes->size() + n * 8;
      } else {
        const auto* keys = e.int_keys();
        if (keys == nullptr || keys->size() != n) {
          return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': %u int keys for %zu ids", name.c_str(),
                           keys ? keys->size() : 0, n);
        }
        for (size_t i = 1; i < n; ++i) {
          if (keys->Get(static_cast<uint32_t>(i - 1)) >= keys->Get(static_cast<uint32_t>(i))) {
            return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': vocabulary keys are not sorted and unique at %zu",
                             name.c_str(), i);
          }
        }
        out.int_keys = keys->data();
        out.bytes = n * 16;
      }
      out.kind = strings ? EncoderKind::kStringVocabulary : EncoderKind::kIntVocabulary;
      out.size = n;
      out.ids = ids->data();
      out.has_oov_id = e.has_oov_id();
      out.oov_id = e.oov_id();
      if (out.has_oov_id && !id_in_table(out.oov_id)) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': oov id %lld outside the table's %u rows", name.c_str(),
                         static_cast<long long>(out.oov_id), table_rows);
      }
      return Status::Ok();
    }
    case fb::EncoderKind::HashString:
    case fb::EncoderKind::HashInt:
      if (e.buckets() == 0 || e.buckets() > table_rows) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': %llu hash buckets outside [1, %u] (the table's rows)",
                         name.c_str(), static_cast<unsigned long long>(e.buckets()), table_rows);
      }
      out.kind = e.kind() == fb::EncoderKind::HashString ? EncoderKind::kHashString : EncoderKind::kHashInt;
      out.buckets = e.buckets();
      return Status::Ok();
    case fb::EncoderKind::Boundaries: {
      const auto* b = e.boundaries();
      const size_t n = b ? b->size() : 0;
      if (n == 0 || n + 1 > table_rows) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': %zu boundaries make %zu buckets, the table has %u rows",
                         name.c_str(), n, n + 1, table_rows);
      }
      for (size_t i = 0; i < n; ++i) {
        const float x = b->Get(static_cast<uint32_t>(i));
        if (!std::isfinite(x) || (i > 0 && !(b->Get(static_cast<uint32_t>(i - 1)) < x))) {
          return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': boundaries must be finite and strictly ascending (%zu)",
                           name.c_str(), i);
        }
      }
      out.kind = EncoderKind::kBoundaries;
      out.size = n;
      out.boundaries = b->data();
      out.bytes = n * 4;
      return Status::Ok();
    }
  }
  return MakeError(PLE_ERROR_UNSUPPORTED, "feature '%s': encoder kind %d unknown", name.c_str(),
                   static_cast<int>(e.kind()));
}

Status ModelReader::ReadScore(const fb::Model& root) {
  Model& m = *model_;
  const fb::Score* score = root.score();
  if (score == nullptr) return Status::Ok();
  ScoreInfo& info = m.score_;
  info.present = true;
  ScoreFormula& formula = info.formula;
  if (const auto* exponents = score->exponents()) formula.exponents.assign(exponents->begin(), exponents->end());
  formula.regression_floor = score->regression_floor();
  switch (score->transform()) {
    case fb::ScoreTransform::None: formula.transform = ScoreTransform::kNone; break;
    case fb::ScoreTransform::Identity: formula.transform = ScoreTransform::kIdentity; break;
    case fb::ScoreTransform::Log1p: formula.transform = ScoreTransform::kLog1p; break;
    case fb::ScoreTransform::Sigmoid: formula.transform = ScoreTransform::kSigmoid; break;
    default:
      return MakeError(PLE_ERROR_UNSUPPORTED, "score: transform %d unknown", static_cast<int>(score->transform()));
  }
  formula.transform_scale = score->transform_scale();
  formula.transform_offset = score->transform_offset();
  const std::string problem = ScoreFormulaProblem(formula, m.tasks_);
  if (!problem.empty()) return MakeError(PLE_ERROR_INVALID_MODEL, "score: %s", problem.c_str());
  if (formula.transform != ScoreTransform::kNone) {
    info.transform_input = score->transform_input() ? score->transform_input()->str() : "";
    if (!m.IsScoreTransformInput(m.FindInput(info.transform_input.c_str()))) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "score: transform input '%s' is not %s", info.transform_input.c_str(),
                       kScoreTransformInputRule);
    }
  }
  return Status::Ok();
}

Status Model::Load(std::unique_ptr<ModelBytes> bytes, std::shared_ptr<const Model>* out, bool skip_verifier) {
  if (bytes->size() < 8 || !fb::ModelBufferHasIdentifier(bytes->data())) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "not a PLE model file (file identifier \"%s\" missing)",
                     fb::ModelIdentifier());
  }
  if (bytes->size() >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "model file of %zu bytes is larger than FlatBuffers allows",
                     bytes->size());
  }
  flatbuffers::Verifier verifier(bytes->data(), bytes->size(), /*max_depth=*/64, /*max_tables=*/4000000);
  if (!skip_verifier && !fb::VerifyModelBuffer(verifier)) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "model file is corrupted or truncated (FlatBuffers verification failed)");
  }
  std::shared_ptr<Model> model(new Model());
  ModelReader reader(model.get());
  Status status = reader.Read(*fb::GetModel(bytes->data()));
  if (!status.ok()) return status;
  model->bytes_ = std::move(bytes);
  *out = std::move(model);
  return Status::Ok();
}

int Model::FindInput(const char* name) const {
  for (size_t i = 0; i < features_.size(); ++i) {
    if (features_[i].name == name) return static_cast<int>(i);
  }
  for (size_t i = 0; i < extras_.size(); ++i) {
    if (extras_[i] == name) return static_cast<int>(features_.size() + i);
  }
  return -1;
}

bool Model::IsScoreTransformInput(int input) const {
  if (input < 0) return false;
  const bool is_extra = input >= static_cast<int>(features_.size());
  if (is_extra) return true;
  const FeatureInfo& f = features_[input];
  return rt::IsScoreTransformInput(false, f.kind == FeatureKind::kDense, f.scope == PLE_SCOPE_CANDIDATE, f.width);
}

const std::string* Model::metadata(const char* key) const {
  if (std::strcmp(key, "name") == 0) return &name_;
  if (std::strcmp(key, "description") == 0) return &description_;
  if (std::strcmp(key, "producer") == 0) return &producer_;
  if (std::strcmp(key, "source_framework") == 0) return &source_framework_;
  return nullptr;
}

}  // namespace ple::rt
