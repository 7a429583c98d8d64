#include "model_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
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

Offset<fb::Tensor> WriteTensor(FlatBufferBuilder& builder, const std::vector<uint32_t>& shape,
                               const std::vector<float>& values) {
  const size_t bytes = values.size() * sizeof(float);
  builder.ForceVectorAlignment(bytes, sizeof(uint8_t), kWeightAlignment);
  auto data = builder.CreateVector(reinterpret_cast<const uint8_t*>(values.data()), bytes);
  auto shape_offset = builder.CreateVector(shape);
  return fb::CreateTensor(builder, fb::DType::F32, shape_offset, data);
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
    layers.push_back(fb::CreateDenseLayer(builder, weight, bias, layer.activation, layer.negative_slope, slope));
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
  std::vector<Offset<fb::Input>> inputs;
  for (const InputConfig& input : model.inputs) {
    inputs.push_back(fb::CreateInput(builder, builder.CreateString(input.name), input.width, input.scope));
  }
  std::vector<Offset<fb::Task>> tasks;
  for (const TaskConfig& task : model.tasks) {
    tasks.push_back(fb::CreateTask(builder, builder.CreateString(task.name), task.type));
  }
  auto metadata = fb::CreateMetadata(builder, builder.CreateString(model.name), builder.CreateString(model.description),
                                     builder.CreateString(producer), builder.CreateString(model.source_framework));
  auto root = fb::CreateModel(builder, kSchemaVersion, kMinReaderVersionWritten, metadata, builder.CreateVector(inputs),
                              builder.CreateVector(tasks), builder.CreateVector(levels), builder.CreateVector(towers));
  fb::FinishModelBuffer(builder, root);
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
