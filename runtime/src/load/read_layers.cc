// The dense layers and packed groups of a model file (model_reader.h).
#include <cmath>
#include <limits>
#include <map>
#include <string>

#include "load/model_reader.h"

namespace ple::rt {
namespace {

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

__attribute__((noinline)) Status CheckChannelSums(const int32_t* sums, uint32_t blocks, const std::string& what,
                                                  uint32_t columns) {
  const int64_t k = int64_t{blocks} * 4, lo = -128 * k, hi = 127 * k;
  for (uint32_t n = 0; n < columns; ++n) {
    const int64_t sum = sums[n];
    if (sum < lo || sum > hi) {
      return MakeError(PLE_ERROR_INVALID_MODEL,
                       "%s: channel sum %lld of column %u is outside [%lld, %lld], the range of %lld int8 weights",
                       what.c_str(), static_cast<long long>(sum), n, static_cast<long long>(lo),
                       static_cast<long long>(hi), static_cast<long long>(k));
    }
  }
  return Status::Ok();
}

// A group flagged narrow is run by kernels that sum uint8 x int8 pairs in int16 (AVX2's
// vpmaddubsw), which saturate for a weight outside [-64, 64]: a hostile flag would make that
// path's results differ from every other path's. So, unlike every other check, this one reads
// the weight bytes, of flagged groups only (a session pages them in at prepare anyway).
__attribute__((noinline)) Status CheckNarrowWeights(const int8_t* weights, size_t count, const std::string& what) {
  uint8_t outside = 0;  // branch-free over the bytes: any weight w with w + 64 outside [0, 128]
  for (size_t i = 0; i < count; ++i) outside |= static_cast<uint8_t>(weights[i] + kNarrowInt8Limit) > 2 * kNarrowInt8Limit;
  if (outside == 0) return Status::Ok();
  for (size_t i = 0; i < count; ++i) {
    if (weights[i] < -kNarrowInt8Limit || weights[i] > kNarrowInt8Limit) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: flagged narrow, but weight byte %zu is %d, outside [-%d, %d]",
                       what.c_str(), i, weights[i], kNarrowInt8Limit, kNarrowInt8Limit);
    }
  }
  return Status::Ok();
}

}  // namespace

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

// An int8 group's input slices (schema 6's slice_widths, else the request and candidate
// columns): their widths, 4-value blocks and channel sums (CheckChannelSums).
Status ReadInt8Slices(const fb::PackedGroup& g, const std::string& what, PackedGroup* group) {
  const auto* widths = g.slice_widths();
  const auto* slice_sums = g.slice_sums();
  if (widths == nullptr) {
    if (slice_sums != nullptr) return MakeError(PLE_ERROR_INVALID_MODEL, "%s: slice_sums without slice_widths", what.c_str());
    const auto* request_sums = g.request_sums();
    const auto* candidate_sums = g.candidate_sums();
    const bool request_sums_ok = group->request_columns == 0
                                     ? request_sums == nullptr
                                     : request_sums != nullptr && request_sums->size() == group->columns;
    if (!request_sums_ok || candidate_sums == nullptr || candidate_sums->size() != group->columns) {
      return MakeError(PLE_ERROR_INVALID_MODEL,
                       "%s: int8 weights need %u channel sums (request sums exactly when split)", what.c_str(),
                       group->columns);
    }
    const uint32_t request_blocks = (group->request_columns + 3) / 4;
    if (group->request_columns > 0) {
      group->slices.push_back(QuantSlice{0, group->request_columns, 0, request_blocks, request_sums->data()});
    }
    group->slices.push_back(QuantSlice{group->request_columns, group->in - group->request_columns, request_blocks,
                                       (group->in - group->request_columns + 3) / 4, candidate_sums->data()});
  } else {
    if (widths->size() == 0 || widths->size() > kMaxInt8Slices) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %u input slices, 1 to %u allowed", what.c_str(), widths->size(),
                       kMaxInt8Slices);
    }
    if (slice_sums == nullptr || slice_sums->size() != uint64_t{widths->size()} * group->columns) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %u input slices need %llu slice sums", what.c_str(),
                       widths->size(), static_cast<unsigned long long>(uint64_t{widths->size()} * group->columns));
    }
    uint64_t k_begin = 0, block = 0;
    for (uint32_t s = 0; s < widths->size(); ++s) {
      const uint32_t k = widths->Get(s);
      if (k == 0 || k_begin + k > group->in || (k_begin < group->request_columns && k_begin + k > group->request_columns)) {
        return MakeError(PLE_ERROR_INVALID_MODEL,
                         "%s: input slice %u (%u values at %llu) is empty, passes the %u inputs or crosses the "
                         "request columns' end (%u)",
                         what.c_str(), s, k, static_cast<unsigned long long>(k_begin), group->in,
                         group->request_columns);
      }
      group->slices.push_back(QuantSlice{static_cast<uint32_t>(k_begin), k, static_cast<uint32_t>(block), (k + 3) / 4,
                                         slice_sums->data() + size_t{s} * group->columns});
      k_begin += k;
      block += (k + 3) / 4;
    }
    if (k_begin != group->in) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: input slices of %llu values, the group reads %u", what.c_str(),
                       static_cast<unsigned long long>(k_begin), group->in);
    }
  }
  for (const QuantSlice& slice : group->slices) {
    group->request_slices += slice.k_begin < group->request_columns ? 1 : 0;
    group->request_blocks += slice.k_begin < group->request_columns ? slice.blocks : 0;
    group->blocks += slice.blocks;
  }
  for (size_t s = 0; s < group->slices.size(); ++s) {
    const QuantSlice& slice = group->slices[s];
    const std::string name = widths != nullptr                        ? " input slice " + std::to_string(s) + " sums"
                             : slice.k_begin < group->request_columns ? " request sums"
                                                                      : " candidate sums";
    const Status status = CheckChannelSums(slice.sums, slice.blocks, what + name, group->columns);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

// An int8 group's shape in 4-value blocks, its channel scales and slices, and the weight bytes
// expected.
Status ModelReader::ReadInt8Group(const fb::PackedGroup& g, const std::string& what, PackedGroup* group,
                                  uint64_t* expected) {
  group->type = WeightType::kI8;
  if (group->in > kMaxInt8Inputs) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %u inputs, int8 groups read at most %u", what.c_str(),
                     group->in, kMaxInt8Inputs);
  }
  const auto* scales = g.scales();
  if (scales == nullptr || scales->size() != group->columns) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "%s: int8 weights need %u scales", what.c_str(), group->columns);
  }
  for (uint32_t n = 0; n < group->columns; ++n) {
    const float scale = scales->Get(n);
    if (!std::isfinite(scale) || !(scale >= std::numeric_limits<float>::min())) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: scale %g of column %u is not a finite normal float > 0",
                       what.c_str(), static_cast<double>(scale), n);
    }
  }
  const Status status = ReadInt8Slices(g, what, group);
  if (!status.ok()) return status;
  *expected = uint64_t{group->columns} * group->blocks * 4;
  group->scales = scales->data();
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
        Status status = ReadInt8Group(*g, what, &group, &expected);
        if (!status.ok()) return status;
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
    group.weight_bytes = weights->size();
    if (g->narrow_weights()) {
      if (group.type != WeightType::kI8) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "%s: flagged narrow, but its weights are not int8", what.c_str());
      }
      Status status = CheckNarrowWeights(reinterpret_cast<const int8_t*>(weights->data()), weights->size(), what);
      if (!status.ok()) return status;
      group.narrow = true;
    }
    out.push_back(group);
  }
  return Status::Ok();
}

// The packed groups' members must be what the planner runs as one step: layers that read the
// same value (the first layers of one level reading one stream; any stream in the first level,
// whose streams are all the input row), in disjoint columns; a group is split at the request
// columns exactly when it reads the model's input row and that row lists its request-scope
// features first.
Status ModelReader::CheckPackedGroups() const {
  const LoadedModel& m = *model_;
  const bool split = m.splits_first_layers();
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
  LoadedModel& m = *model_;
  const bool split = m.splits_first_layers();
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
    group.weight_bytes = bytes;
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

}  // namespace ple::rt
