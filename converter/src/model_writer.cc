#include "model_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "convert_error.h"
#include "load/integrity.h"
#include "quantize.h"
#include "ple_schema_version.h"

namespace ple {
namespace convert {
namespace {

constexpr size_t kWeightAlignment = 64;

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

Offset<fb::Tensor> WriteBytes(FlatBufferBuilder& builder, fb::DType dtype, const std::vector<uint32_t>& shape,
                              const uint8_t* bytes, size_t size) {
  builder.ForceVectorAlignment(size, sizeof(uint8_t), kWeightAlignment);
  auto data = builder.CreateVector(bytes, size);
  auto shape_offset = builder.CreateVector(shape);
  return fb::CreateTensor(builder, dtype, shape_offset, data);
}

Offset<fb::Tensor> WriteTensor(FlatBufferBuilder& builder, const std::vector<uint32_t>& shape,
                               const std::vector<float>& values) {
  return WriteBytes(builder, fb::DType::F32, shape, reinterpret_cast<const uint8_t*>(values.data()),
                    values.size() * sizeof(float));
}

// Where each quantized layer's weights go: its group and first column there.
struct Placement {
  uint32_t group = 0;   // 1 + index into the packed groups; 0: plain float32 weights
  uint32_t column = 0;
};

constexpr uint32_t kTile = 16;      // output channels per tile
constexpr uint32_t kKBlock = 4;     // int8: input values per block

uint32_t RoundUp(uint32_t value, uint32_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// The packed groups of a model: the quantized first layers of a level that read the same
// stream with the same precision form one group; every other quantized layer its own.
class Packer {
 public:
  // `pack` false: no group; every layer keeps its float32 weights in its own tensor (reader 2).
  Packer(const IrModel& model, bool pack) : narrow_(model.narrow_int8_weights) {
    if (!pack) return;
    uint32_t request = 0;
    for (const auto& f : model.features) request += f.scope == fb::Scope::Request ? f.width : 0;
    const uint32_t row = model.row_width();
    request_columns_ = request > 0 && request < row ? request : 0;
    input_slices_ = InputSlices(model.input_slices, row, request_columns_);
    for (size_t l = 0; l < model.levels.size(); ++l) {
      const IrLevel& level = model.levels[l];
      // Every stream of the first level is the input row: one group reads it for all streams.
      uint32_t streams = 1;
      if (l > 0) {
        for (const IrExpert& e : level.experts) streams = std::max(streams, e.input_stream + 1);
        for (const IrGate& g : level.gates) streams = std::max(streams, g.input_stream + 1);
      }
      for (uint32_t stream = 0; stream < streams; ++stream) {
        auto reads = [&](uint32_t input_stream) { return l == 0 || input_stream == stream; };
        for (Precision precision : {Precision::kF32, Precision::kF16, Precision::kI8}) {
          std::vector<const IrDense*> members;
          for (const IrExpert& e : level.experts) {
            if (reads(e.input_stream) && e.mlp.layers[0].precision == precision) members.push_back(&e.mlp.layers[0]);
          }
          for (const IrGate& g : level.gates) {
            if (reads(g.input_stream) && !g.mlp.layers.empty() && g.mlp.layers[0].precision == precision) {
              members.push_back(&g.mlp.layers[0]);
            }
          }
          if (!members.empty()) AddGroup(members, l == 0 ? request_columns_ : 0, l == 0);
        }
      }
    }
    auto add_rest = [&](const IrMlp& mlp) {
      for (const IrDense& layer : mlp.layers) {
        if (placement_.count(&layer) == 0) AddGroup({&layer}, 0);
      }
    };
    for (const IrLevel& level : model.levels) {
      for (const IrExpert& e : level.experts) add_rest(e.mlp);
      for (const IrGate& g : level.gates) add_rest(g.mlp);
    }
    for (const IrTower& t : model.towers) add_rest(t.mlp);
  }

  // Whether an int8 group reads its inputs in slices of their own (reader version 4).
  bool sliced() const {
    for (const Group& g : groups_) {
      if (g.precision == Precision::kI8 && !g.slices.empty()) return true;
    }
    return false;
  }

  Placement Find(const IrDense& layer) const {
    auto it = placement_.find(&layer);
    return it == placement_.end() ? Placement{} : it->second;
  }

  Offset<flatbuffers::Vector<Offset<fb::PackedGroup>>> Write(FlatBufferBuilder& builder) const {
    std::vector<Offset<fb::PackedGroup>> out;
    for (const Group& g : groups_) {
      out.push_back(g.precision == Precision::kI8 ? WriteInt8(builder, g) : WriteFloat(builder, g));
    }
    return builder.CreateVector(out);
  }

 private:
  struct Group {
    std::vector<const IrDense*> members;
    Precision precision = Precision::kF32;
    uint32_t in = 0, request_columns = 0, columns = 0;
    std::vector<uint32_t> slices;  // int8 input slices (widths); empty: request columns and the others
  };

  // The model's input slices checked against the row, or none when they are the default ones.
  static std::vector<uint32_t> InputSlices(const std::vector<uint32_t>& slices, uint32_t row, uint32_t request) {
    if (slices.empty()) return {};
    if (slices.size() > kMaxInt8Slices) {
      throw ConvertError(std::to_string(slices.size()) + " input slices: at most " + std::to_string(kMaxInt8Slices));
    }
    uint32_t begin = 0;
    for (uint32_t width : slices) {
      if (width == 0 || (begin < request && begin + width > request)) {
        throw ConvertError("input slices must be non-empty and keep the request columns (0 to " +
                           std::to_string(request) + ") whole");
      }
      begin += width;
    }
    if (begin != row) {
      throw ConvertError("input slices cover " + std::to_string(begin) + " columns, the input row has " +
                         std::to_string(row));
    }
    const std::vector<uint32_t> segments =
        request > 0 ? std::vector<uint32_t>{request, row - request} : std::vector<uint32_t>{row};
    return slices == segments ? std::vector<uint32_t>{} : slices;
  }

  void AddGroup(const std::vector<const IrDense*>& members, uint32_t request_columns, bool first_level = false) {
    Group g;
    g.members = members;
    g.precision = members[0]->precision;
    if (g.precision == Precision::kI8 && members[0]->in > kMaxInt8Inputs) {
      throw ConvertError("a layer with " + std::to_string(members[0]->in) + " inputs cannot be int8 (at most " +
                         std::to_string(kMaxInt8Inputs) + ", so that int32 sums cannot overflow): store its layer "
                         "class as f16 or f32");
    }
    g.in = members[0]->in;
    g.request_columns = request_columns;
    if (first_level && g.precision == Precision::kI8) g.slices = input_slices_;
    for (const IrDense* m : members) {
      placement_[m] = Placement{static_cast<uint32_t>(groups_.size() + 1), g.columns};
      g.columns += RoundUp(m->out, kTile);
    }
    groups_.push_back(g);
  }

  // The member and its output channel of a group's padded channel n, or null for padding.
  static const IrDense* Channel(const Group& g, uint32_t n, uint32_t* channel) {
    uint32_t start = 0;
    for (const IrDense* m : g.members) {
      const uint32_t padded = RoundUp(m->out, kTile);
      if (n < start + padded) {
        *channel = n - start;
        return *channel < m->out ? m : nullptr;
      }
      start += padded;
    }
    return nullptr;
  }

  // [columns/16][blocks][16][4], each input slice's values padded to 4 (zeros).
  Offset<fb::PackedGroup> WriteInt8(FlatBufferBuilder& builder, const Group& g) const {
    const uint32_t request = g.request_columns;
    std::vector<uint32_t> widths = g.slices;
    if (widths.empty()) {
      if (request > 0) widths.push_back(request);
      widths.push_back(g.in - request);
    }
    std::vector<uint32_t> slice_of(g.in), block_of(g.in);  // per input: its slice and block
    uint32_t blocks = 0;
    for (uint32_t s = 0, k = 0; s < widths.size(); ++s) {
      for (uint32_t i = 0; i < widths[s]; ++i, ++k) {
        slice_of[k] = s;
        block_of[k] = blocks + i / kKBlock;
      }
      blocks += RoundUp(widths[s], kKBlock) / kKBlock;
    }
    std::vector<int8_t> packed(size_t{g.columns} * blocks * kKBlock, 0);
    std::vector<float> scales(g.columns, 1.0f);
    std::vector<int32_t> sums(widths.size() * g.columns, 0);  // [slice][column]
    std::vector<uint32_t> slice_begin(widths.size(), 0);
    for (size_t s = 1; s < widths.size(); ++s) slice_begin[s] = slice_begin[s - 1] + widths[s - 1];
    for (uint32_t n = 0; n < g.columns; ++n) {
      uint32_t channel = 0;
      const IrDense* m = Channel(g, n, &channel);
      if (m == nullptr) continue;
      const ChannelQuantization q =
          QuantizeChannel(m->weight.data() + size_t{channel} * g.in, g.in, narrow_ ? kNarrowInt8Limit : 127);
      scales[n] = q.scale;
      const uint32_t tile = n / kTile, lane = n % kTile;
      for (uint32_t k = 0; k < g.in; ++k) {
        const uint32_t within = (k - slice_begin[slice_of[k]]) % kKBlock;
        packed[((size_t{tile} * blocks + block_of[k]) * kTile + lane) * kKBlock + within] = q.values[k];
        sums[size_t{slice_of[k]} * g.columns + n] += q.values[k];
      }
    }
    builder.ForceVectorAlignment(packed.size(), 1, kWeightAlignment);
    const auto weights = builder.CreateVector(reinterpret_cast<const uint8_t*>(packed.data()), packed.size());
    const auto scale_offset = builder.CreateVector(scales);
    if (!g.slices.empty()) {  // schema 6: the slices and their sums
      const auto widths_offset = builder.CreateVector(widths);
      const auto sums_offset = builder.CreateVector(sums);
      return fb::CreatePackedGroup(builder, fb::DType::I8, g.in, request, g.columns, weights, scale_offset, 0, 0,
                                   narrow_, widths_offset, sums_offset);
    }
    const auto request_offset =  // unsplit: none
        request > 0 ? builder.CreateVector(sums.data(), g.columns) : Offset<flatbuffers::Vector<int32_t>>();
    const auto candidate_offset = builder.CreateVector(sums.data() + (request > 0 ? g.columns : 0), g.columns);
    return fb::CreatePackedGroup(builder, fb::DType::I8, g.in, request, g.columns, weights, scale_offset,
                                 request_offset, candidate_offset, narrow_);
  }

  // float32 or float16: [columns/16][in][16].
  Offset<fb::PackedGroup> WriteFloat(FlatBufferBuilder& builder, const Group& g) const {
    const bool half = g.precision == Precision::kF16;
    std::vector<float> packed(size_t{g.columns} * g.in, 0.0f);
    std::vector<uint16_t> packed_half(half ? packed.size() : 0, 0);
    for (uint32_t n = 0; n < g.columns; ++n) {
      uint32_t channel = 0;
      const IrDense* m = Channel(g, n, &channel);
      if (m == nullptr) continue;
      const uint32_t tile = n / kTile, lane = n % kTile;
      for (uint32_t k = 0; k < g.in; ++k) {
        const size_t at = (size_t{tile} * g.in + k) * kTile + lane;
        const float value = m->weight[size_t{channel} * g.in + k];
        if (!half) {
          packed[at] = value;
          continue;
        }
        const float rounded = RoundToHalf(value);
        if (!std::isfinite(rounded)) {
          throw ConvertError("a weight (" + std::to_string(value) +
                             ") does not fit in float16: convert that layer class as f32 or int8");
        }
        packed_half[at] = HalfBits(rounded);
      }
    }
    const uint8_t* data = half ? reinterpret_cast<const uint8_t*>(packed_half.data())
                               : reinterpret_cast<const uint8_t*>(packed.data());
    const size_t bytes = half ? packed_half.size() * sizeof(uint16_t) : packed.size() * sizeof(float);
    builder.ForceVectorAlignment(bytes, 1, kWeightAlignment);
    const auto weights = builder.CreateVector(data, bytes);
    return fb::CreatePackedGroup(builder, half ? fb::DType::F16 : fb::DType::F32, g.in, g.request_columns, g.columns,
                                 weights);
  }

  uint32_t request_columns_ = 0;
  std::vector<uint32_t> input_slices_;  // the first level's int8 groups' (IrModel::input_slices), or none
  std::vector<Group> groups_;
  bool narrow_ = false;  // int8 groups quantized to [-64, 64] and flagged
  std::map<const IrDense*, Placement> placement_;
};

Offset<fb::Tensor> WriteTable(FlatBufferBuilder& builder, const IrTable& table) {
  const std::vector<uint32_t> shape = {table.config.vocabulary, table.config.dim};
  if (table.int8) {
    std::vector<int8_t> values;
    values.reserve(table.rows.size());
    for (uint32_t r = 0; r < table.config.vocabulary; ++r) {
      const RowQuantization q = QuantizeRow(table.rows.data() + size_t{r} * table.config.dim, table.config.dim);
      values.insert(values.end(), q.values.begin(), q.values.end());
    }
    return WriteBytes(builder, fb::DType::I8, shape, reinterpret_cast<const uint8_t*>(values.data()), values.size());
  }
  if (!table.config.f16) return WriteTensor(builder, shape, table.rows);
  std::vector<uint16_t> half(table.rows.size());
  for (size_t i = 0; i < half.size(); ++i) half[i] = HalfBits(table.rows[i]);
  return WriteBytes(builder, fb::DType::F16, shape, reinterpret_cast<const uint8_t*>(half.data()),
                    half.size() * sizeof(uint16_t));
}

std::vector<uint16_t> RowScales(const IrTable& table) {
  std::vector<uint16_t> scales;
  for (uint32_t r = 0; r < table.config.vocabulary; ++r) {
    scales.push_back(QuantizeRow(table.rows.data() + size_t{r} * table.config.dim, table.config.dim).scale_bits);
  }
  return scales;
}

Offset<fb::Mlp> WriteMlp(FlatBufferBuilder& builder, const IrMlp& mlp, const Packer& packer) {
  std::vector<Offset<fb::DenseLayer>> layers;
  for (const IrDense& layer : mlp.layers) {
    const Placement placement = packer.Find(layer);
    // The data is in the packed group; the tensor describes the shape and dtype.
    const fb::DType dtype = layer.precision == Precision::kI8    ? fb::DType::I8
                            : layer.precision == Precision::kF16 ? fb::DType::F16
                                                                 : fb::DType::F32;
    const Offset<fb::Tensor> weight =
        placement.group == 0
            ? WriteTensor(builder, {layer.out, layer.in}, layer.weight)  // unpacked: float32 [out, in] (reader 2)
            : fb::CreateTensor(builder, dtype, builder.CreateVector(std::vector<uint32_t>{layer.out, layer.in}));
    Offset<fb::Tensor> bias = 0, slope = 0;
    if (!layer.bias.empty()) bias = WriteTensor(builder, {layer.out}, layer.bias);
    if (!layer.prelu_slope.empty()) {
      slope = WriteTensor(builder, {static_cast<uint32_t>(layer.prelu_slope.size())}, layer.prelu_slope);
    }
    layers.push_back(fb::CreateDenseLayer(builder, weight, bias, layer.activation, layer.negative_slope, slope,
                                          layer.dice_alpha, layer.dice_epsilon, placement.group, placement.column));
  }
  return fb::CreateMlp(builder, builder.CreateVector(layers));
}

// The levels' experts and gates, in file order (not yet a vector: the caller's order of
// builder calls fixes the file's bytes).
std::vector<Offset<fb::Level>> WriteLevels(FlatBufferBuilder& builder, const IrModel& model, const Packer& packer) {
  std::vector<Offset<fb::Level>> levels;
  for (const IrLevel& level : model.levels) {
    std::vector<Offset<fb::Expert>> experts;
    for (const IrExpert& expert : level.experts) {
      experts.push_back(fb::CreateExpert(builder, expert.input_stream, WriteMlp(builder, expert.mlp, packer)));
    }
    std::vector<Offset<fb::Gate>> gates;
    for (const IrGate& gate : level.gates) {
      Offset<fb::Mlp> mlp = gate.mlp.layers.empty() ? 0 : WriteMlp(builder, gate.mlp, packer);
      gates.push_back(fb::CreateGate(builder, gate.input_stream, mlp, builder.CreateVector(gate.experts),
                                     gate.output_stream));
    }
    levels.push_back(fb::CreateLevel(builder, builder.CreateVector(experts), builder.CreateVector(gates)));
  }
  return levels;
}

Offset<flatbuffers::Vector<Offset<fb::EmbeddingTable>>> WriteTables(FlatBufferBuilder& builder, const IrModel& model) {
  std::vector<Offset<fb::EmbeddingTable>> tables;
  for (const IrTable& table : model.tables) {
    const auto rows = WriteTable(builder, table);
    const auto name = builder.CreateString(table.config.name);
    Offset<flatbuffers::Vector<uint16_t>> scales = 0;
    if (table.int8) scales = builder.CreateVector(RowScales(table));
    tables.push_back(fb::CreateEmbeddingTable(builder, name, rows, scales));
  }
  return builder.CreateVector(tables);
}

Offset<fb::Feature> WriteFeature(FlatBufferBuilder& builder, const FeatureConfig& f) {
  const auto name = builder.CreateString(f.name);
  const Offset<fb::Encoder> encoder = f.encoder.kind == fb::EncoderKind::None ? 0 : WriteEncoder(builder, f.encoder);
  Offset<flatbuffers::Vector<float>> mean = 0, std_dev = 0;
  if (!f.normalize_mean.empty()) {
    mean = builder.CreateVector(f.normalize_mean);
    std_dev = builder.CreateVector(f.normalize_std);
  }
  fb::FeatureBuilder fbf(builder);
  fbf.add_name(name);
  fbf.add_kind(f.kind);
  fbf.add_scope(f.scope);
  fbf.add_width(f.width);
  if (!mean.IsNull()) {
    fbf.add_normalize_mean(mean);
    fbf.add_normalize_std(std_dev);
  }
  fbf.add_nan_policy(f.nan_policy);
  fbf.add_nan_replacement(f.nan_replacement);
  fbf.add_table(f.table);
  fbf.add_oov_policy(f.oov_policy);
  fbf.add_oov_row(f.oov_row);
  fbf.add_max_length(f.max_length);
  fbf.add_pooling(f.pooling);
  fbf.add_has_padding_id(f.has_padding_id);
  fbf.add_padding_id(f.padding_id);
  fbf.add_mean_eps(f.mean_eps);
  if (!encoder.IsNull()) fbf.add_encoder(encoder);
  return fbf.Finish();
}

// The feature layer: tables, features, extras and the score (0 when the model has none).
struct FeatureLayerOffsets {
  Offset<flatbuffers::Vector<Offset<fb::Feature>>> features = 0;
  Offset<flatbuffers::Vector<Offset<fb::EmbeddingTable>>> tables = 0;
  Offset<flatbuffers::Vector<Offset<flatbuffers::String>>> extras = 0;
  Offset<fb::Score> score = 0;
};

FeatureLayerOffsets WriteFeatureLayer(FlatBufferBuilder& builder, const IrModel& model) {
  FeatureLayerOffsets out;
  out.tables = WriteTables(builder, model);
  std::vector<Offset<fb::Feature>> features;
  for (const FeatureConfig& f : model.features) features.push_back(WriteFeature(builder, f));
  out.features = builder.CreateVector(features);
  std::vector<Offset<flatbuffers::String>> extras;
  for (const std::string& extra : model.extras) extras.push_back(builder.CreateString(extra));
  out.extras = builder.CreateVector(extras);
  if (model.score.present) {
    const auto exponents = builder.CreateVector(model.score.exponents);
    const auto input = builder.CreateString(model.score.transform_input);
    out.score = fb::CreateScore(builder, exponents, model.score.regression_floor, model.score.transform, input,
                                model.score.transform_scale, model.score.transform_offset);
  }
  return out;
}

}  // namespace

uint32_t UnpackedReaderVersionNeeded(const IrModel& model, std::string* why) {
  why->clear();
  auto layers = [&](const IrMlp& mlp, const std::string& where) {
    for (const IrDense& layer : mlp.layers) {
      if (layer.precision != Precision::kF32 && why->empty()) {
        *why = std::string(layer.precision == Precision::kI8 ? "int8" : "float16") + " dense layers (" + where +
               "; --precision " + (layer.precision == Precision::kI8 ? "int8" : "f16") + ")";
      }
    }
  };
  for (size_t l = 0; l < model.levels.size(); ++l) {
    for (const IrExpert& e : model.levels[l].experts) layers(e.mlp, "level " + std::to_string(l + 1) + " experts");
    for (const IrGate& g : model.levels[l].gates) layers(g.mlp, "level " + std::to_string(l + 1) + " gates");
  }
  for (const IrTower& t : model.towers) layers(t.mlp, "towers");
  for (const IrTable& table : model.tables) {
    if (table.int8 && why->empty()) *why = "int8 embedding tables (table '" + table.config.name + "'; --precision int8)";
  }
  return why->empty() ? kMinReaderVersionFeatures : kMinReaderVersionPacked;
}

std::vector<uint8_t> SerializeModel(const IrModel& model, const std::string& producer, const WriteOptions& options) {
  if (options.max_reader_version < kMinReaderVersionFeatures || options.max_reader_version > kReaderVersion) {
    throw ConvertError("--max-reader-version " + std::to_string(options.max_reader_version) +
                       ": this converter writes files for reader versions " +
                       std::to_string(kMinReaderVersionFeatures) + " to " + std::to_string(kReaderVersion) +
                       " (reader 1 predates the feature layer every file now has)");
  }
  const bool pack = options.max_reader_version >= kMinReaderVersionPacked;
  if (!pack) {
    std::string why;
    if (UnpackedReaderVersionNeeded(model, &why) > options.max_reader_version) {
      throw ConvertError("--max-reader-version " + std::to_string(options.max_reader_version) + ": " + why +
                         " need reader version " + std::to_string(kMinReaderVersionPacked) +
                         "; convert with --precision f32 (float16 tables are fine) for older readers");
    }
  }
  FlatBufferBuilder builder(1 << 16);
  const Packer packer(model, pack);
  if (packer.sliced() && options.max_reader_version < kMinReaderVersionSlices) {
    throw ConvertError("--max-reader-version " + std::to_string(options.max_reader_version) +
                       ": per-feature input scales (--precision ...,inputs=features or auto) need reader version " +
                       std::to_string(kMinReaderVersionSlices) + "; convert with inputs=segments for older readers");
  }
  const std::vector<Offset<fb::Level>> levels = WriteLevels(builder, model, packer);
  std::vector<Offset<fb::Tower>> towers;
  for (const IrTower& tower : model.towers) {
    towers.push_back(fb::CreateTower(builder, tower.input_stream, WriteMlp(builder, tower.mlp, packer)));
  }
  std::vector<Offset<fb::Task>> tasks;
  for (const TaskConfig& task : model.tasks) {
    tasks.push_back(fb::CreateTask(builder, builder.CreateString(task.name), task.type));
  }
  auto metadata = fb::CreateMetadata(builder, builder.CreateString(model.name), builder.CreateString(model.description),
                                     builder.CreateString(producer), builder.CreateString(model.source_framework));
  const auto levels_offset = builder.CreateVector(levels);
  const auto towers_offset = builder.CreateVector(towers);
  const auto tasks_offset = builder.CreateVector(tasks);
  const auto packed_offset = pack ? packer.Write(builder) : Offset<flatbuffers::Vector<Offset<fb::PackedGroup>>>();
  const FeatureLayerOffsets feature_layer = WriteFeatureLayer(builder, model);
  fb::ModelBuilder root(builder);
  root.add_schema_version(kSchemaVersion);
  root.add_min_reader_version(!pack ? kMinReaderVersionFeatures
                              : packer.sliced() ? kMinReaderVersionSlices
                                                : kMinReaderVersionPacked);
  root.add_metadata(metadata);
  root.add_tasks(tasks_offset);
  root.add_levels(levels_offset);
  root.add_towers(towers_offset);
  if (!feature_layer.features.IsNull()) root.add_features(feature_layer.features);
  if (!feature_layer.tables.IsNull()) root.add_tables(feature_layer.tables);
  if (!feature_layer.extras.IsNull()) root.add_extras(feature_layer.extras);
  if (!feature_layer.score.IsNull()) root.add_score(feature_layer.score);
  if (pack) root.add_packed_groups(packed_offset);
  fb::FinishModelBuffer(builder, root.Finish());
  std::vector<uint8_t> file(builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize());
  const rt::Status status = rt::AppendTrailer(&file, nullptr);
  if (!status.ok()) throw ConvertError(status.message());
  return file;
}

std::vector<uint8_t> SignModel(const std::vector<uint8_t>& file, const std::vector<uint8_t>& secret_key) {
  if (secret_key.size() != rt::kEd25519SecretKeyBytes) {
    throw ConvertError("a signing key is " + std::to_string(rt::kEd25519SecretKeyBytes) + " bytes (ple-convert " +
                       "--generate-signing-key writes one), not " + std::to_string(secret_key.size()));
  }
  rt::IntegrityTrailer trailer;
  if (!rt::FindTrailer(file.data(), file.size(), &trailer)) throw ConvertError("the model has no integrity trailer");
  std::vector<uint8_t> signed_file(file.begin(), file.end() - sizeof trailer);
  const rt::Status status = rt::AppendTrailer(&signed_file, secret_key.data());
  if (!status.ok()) throw ConvertError(status.message());
  return signed_file;
}

void WriteFileAtomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw ConvertError("cannot create '" + temp + "': " + std::strerror(errno));
  size_t written = 0;
  int error = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    written += static_cast<size_t>(n);
  }
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && std::rename(temp.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    std::remove(temp.c_str());
    throw ConvertError("cannot write '" + path + "': " + std::strerror(error));
  }
}

}  // namespace convert
}  // namespace ple

namespace ple {
namespace convert {

void GenerateSigningKey(const std::string& prefix) {
  uint8_t public_key[rt::kEd25519PublicKeyBytes], secret_key[rt::kEd25519SecretKeyBytes];
  if (!rt::Ed25519KeyPair(public_key, secret_key)) {
    throw ConvertError("generating a signing key needs a build with libsodium (-DPLE_SODIUM=ON)");
  }
  const std::string secret_path = prefix + ".key";
  const int fd = ::open(secret_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw ConvertError("cannot create '" + secret_path + "' (an existing key is never overwritten): " + std::strerror(errno));
  const bool written = ::write(fd, secret_key, sizeof secret_key) == static_cast<ssize_t>(sizeof secret_key);
  ::close(fd);
  if (!written) throw ConvertError("cannot write '" + secret_path + "'");
  WriteFileAtomically(prefix + ".pub", std::vector<uint8_t>(public_key, public_key + sizeof public_key));
}

std::vector<uint8_t> ReadFileBytes(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw ConvertError("cannot open '" + path + "': " + std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) throw ConvertError("cannot read '" + path + "'");
  return bytes;
}

std::string Sha256Hex(const std::vector<uint8_t>& bytes) {
  const rt::Sha256Digest digest = rt::Sha256Of(bytes.data(), bytes.size());
  return rt::HexOf(digest.data(), digest.size());
}

}  // namespace convert
}  // namespace ple
