#include "model_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "convert_error.h"
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

// IEEE float16 bits of a value already rounded to float16 (RoundToHalf in the importer).
uint16_t HalfBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const float magnitude = std::fabs(value);
  if (magnitude == 0.0f) return sign;
  if (magnitude < 6.103515625e-05f) return sign | static_cast<uint16_t>(magnitude * 16777216.0f);  // subnormal
  const int exponent = static_cast<int>((bits >> 23) & 0xffu) - 127 + 15;
  return sign | static_cast<uint16_t>(exponent << 10) | static_cast<uint16_t>((bits >> 13) & 0x3ffu);
}

Offset<fb::Tensor> WriteTable(FlatBufferBuilder& builder, const IrTable& table) {
  const std::vector<uint32_t> shape = {table.config.vocabulary, table.config.dim};
  if (!table.config.f16) return WriteTensor(builder, shape, table.rows);
  std::vector<uint16_t> half(table.rows.size());
  for (size_t i = 0; i < half.size(); ++i) half[i] = HalfBits(table.rows[i]);
  return WriteBytes(builder, fb::DType::F16, shape, reinterpret_cast<const uint8_t*>(half.data()),
                    half.size() * sizeof(uint16_t));
}

Offset<fb::Mlp> WriteMlp(FlatBufferBuilder& builder, const IrMlp& mlp) {
  std::vector<Offset<fb::DenseLayer>> layers;
  for (const IrDense& layer : mlp.layers) {
    auto weight = WriteTensor(builder, {layer.out, layer.in}, layer.weight);
    Offset<fb::Tensor> bias = 0, slope = 0;
    if (!layer.bias.empty()) bias = WriteTensor(builder, {layer.out}, layer.bias);
    if (!layer.prelu_slope.empty()) {
      slope = WriteTensor(builder, {static_cast<uint32_t>(layer.prelu_slope.size())}, layer.prelu_slope);
    }
    layers.push_back(fb::CreateDenseLayer(builder, weight, bias, layer.activation, layer.negative_slope, slope,
                                          layer.dice_alpha, layer.dice_epsilon));
  }
  return fb::CreateMlp(builder, builder.CreateVector(layers));
}

}  // namespace

std::vector<uint8_t> SerializeModel(const IrModel& model, const std::string& producer) {
  FlatBufferBuilder builder(1 << 16);
  std::vector<Offset<fb::Level>> levels;
  for (const IrLevel& level : model.levels) {
    std::vector<Offset<fb::Expert>> experts;
    for (const IrExpert& expert : level.experts) {
      experts.push_back(fb::CreateExpert(builder, expert.input_stream, WriteMlp(builder, expert.mlp)));
    }
    std::vector<Offset<fb::Gate>> gates;
    for (const IrGate& gate : level.gates) {
      Offset<fb::Mlp> mlp = gate.mlp.layers.empty() ? 0 : WriteMlp(builder, gate.mlp);
      gates.push_back(fb::CreateGate(builder, gate.input_stream, mlp, builder.CreateVector(gate.experts),
                                     gate.output_stream));
    }
    levels.push_back(fb::CreateLevel(builder, builder.CreateVector(experts), builder.CreateVector(gates)));
  }
  std::vector<Offset<fb::Tower>> towers;
  for (const IrTower& tower : model.towers) {
    towers.push_back(fb::CreateTower(builder, tower.input_stream, WriteMlp(builder, tower.mlp)));
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
  Offset<flatbuffers::Vector<Offset<fb::Input>>> inputs_offset = 0;
  Offset<flatbuffers::Vector<Offset<fb::Feature>>> features_offset = 0;
  Offset<flatbuffers::Vector<Offset<fb::EmbeddingTable>>> tables_offset = 0;
  Offset<flatbuffers::Vector<Offset<flatbuffers::String>>> extras_offset = 0;
  Offset<fb::Score> score_offset = 0;
  uint32_t min_reader_version = kMinReaderVersionDenseOnly;
  if (!model.needs_features_schema) {
    // Plain dense inputs: the revision-1 `inputs` table, readable by older runtimes.
    std::vector<Offset<fb::Input>> inputs;
    for (const FeatureConfig& f : model.features) {
      inputs.push_back(fb::CreateInput(builder, builder.CreateString(f.name), f.width, f.scope));
    }
    inputs_offset = builder.CreateVector(inputs);
  } else {
    min_reader_version = kMinReaderVersionFeatures;
    std::vector<Offset<fb::EmbeddingTable>> tables;
    for (const IrTable& table : model.tables) {
      const auto rows = WriteTable(builder, table);
      tables.push_back(fb::CreateEmbeddingTable(builder, builder.CreateString(table.config.name), rows));
    }
    tables_offset = builder.CreateVector(tables);
    std::vector<Offset<fb::Feature>> features;
    for (const FeatureConfig& f : model.features) {
      const auto name = builder.CreateString(f.name);
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
      features.push_back(fbf.Finish());
    }
    features_offset = builder.CreateVector(features);
    std::vector<Offset<flatbuffers::String>> extras;
    for (const std::string& extra : model.extras) extras.push_back(builder.CreateString(extra));
    extras_offset = builder.CreateVector(extras);
    if (model.score.present) {
      const auto exponents = builder.CreateVector(model.score.exponents);
      const auto input = builder.CreateString(model.score.transform_input);
      score_offset = fb::CreateScore(builder, exponents, model.score.regression_floor, model.score.transform, input,
                                     model.score.transform_scale, model.score.transform_offset);
    }
  }
  fb::ModelBuilder root(builder);
  root.add_schema_version(kSchemaVersion);
  root.add_min_reader_version(min_reader_version);
  root.add_metadata(metadata);
  if (!inputs_offset.IsNull()) root.add_inputs(inputs_offset);
  root.add_tasks(tasks_offset);
  root.add_levels(levels_offset);
  root.add_towers(towers_offset);
  if (!features_offset.IsNull()) root.add_features(features_offset);
  if (!tables_offset.IsNull()) root.add_tables(tables_offset);
  if (!extras_offset.IsNull()) root.add_extras(extras_offset);
  if (!score_offset.IsNull()) root.add_score(score_offset);
  fb::FinishModelBuffer(builder, root.Finish());
  return std::vector<uint8_t>(builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize());
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
