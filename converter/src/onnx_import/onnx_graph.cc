#include "onnx_import/onnx_graph.h"

#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include "convert_error.h"

namespace ple {
namespace convert {
namespace onnx_import {
namespace {

// Ops of quantized graphs (QDQ from quantization-aware training, or ONNX Runtime's own
// quantization): their integer tensors are not the float model ple-convert quantizes itself.
const std::set<std::string> kQuantizedOps = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
                                             "QLinearMatMul", "QLinearConv", "MatMulInteger", "ConvInteger",
                                             "QLinearAdd", "QLinearMul"};

double HalfToDouble(uint16_t bits) {
  const int sign = bits >> 15, exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
  double value;
  if (exponent == 0) {
    value = std::ldexp(mantissa, -24);
  } else if (exponent == 31) {
    value = mantissa ? NAN : INFINITY;
  } else {
    value = std::ldexp(mantissa + 1024, exponent - 25);
  }
  return sign ? -value : value;
}

// A decimal byte count or offset of external data; anything else names the tensor.
uint64_t ExternalNumber(const std::string& text, const std::string& what) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos) {
    throw ConvertError(what + ": external data offset or length '" + text + "' is not a byte count");
  }
  return std::stoull(text);
}

// The bytes of an external tensor: `location` relative to the model's directory, never an
// absolute path or one that climbs out of it.
std::string ReadExternal(const onnx::TensorProto& t, const std::string& directory, const std::string& what) {
  std::string location;
  uint64_t offset = 0, length = 0;
  bool has_length = false;
  for (const auto& entry : t.external_data()) {
    if (entry.key() == "location") location = entry.value();
    if (entry.key() == "offset") offset = ExternalNumber(entry.value(), what);
    if (entry.key() == "length") length = ExternalNumber(entry.value(), what), has_length = true;
  }
  if (location.empty() || location[0] == '/' || location.find("..") != std::string::npos) {
    throw ConvertError(what + ": external data location '" + location +
                       "' must be a file name relative to the model's directory (no absolute path, no '..')");
  }
  const std::string path = directory.empty() ? location : directory + "/" + location;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConvertError(what + ": cannot open its external data file '" + path + "'");
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  if (!has_length) length = file_size > offset ? file_size - offset : 0;
  if (offset > file_size || length > file_size - offset) {
    throw ConvertError(what + ": external data [" + std::to_string(offset) + ", +" + std::to_string(length) +
                       ") is beyond the end of '" + path + "' (" + std::to_string(file_size) + " bytes)");
  }
  std::string bytes(length, '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(bytes.data(), static_cast<std::streamsize>(length));
  if (!in) throw ConvertError(what + ": cannot read its external data from '" + path + "'");
  return bytes;
}

// Element size in bytes of the types read from raw data, 0 for the others.
size_t RawElementBytes(int32_t type) {
  switch (type) {
    case onnx::TensorProto::FLOAT: case onnx::TensorProto::INT32: return 4;
    case onnx::TensorProto::DOUBLE: case onnx::TensorProto::INT64: return 8;
    case onnx::TensorProto::FLOAT16: case onnx::TensorProto::INT16: return 2;
    case onnx::TensorProto::BOOL: case onnx::TensorProto::UINT8: case onnx::TensorProto::INT8: return 1;
    default: return 0;
  }
}

double RawValue(const char* p, int32_t type) {
  switch (type) {
    case onnx::TensorProto::FLOAT: { float v; std::memcpy(&v, p, 4); return v; }
    case onnx::TensorProto::DOUBLE: { double v; std::memcpy(&v, p, 8); return v; }
    case onnx::TensorProto::INT32: { int32_t v; std::memcpy(&v, p, 4); return v; }
    case onnx::TensorProto::INT64: { int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
    case onnx::TensorProto::FLOAT16: { uint16_t v; std::memcpy(&v, p, 2); return HalfToDouble(v); }
    case onnx::TensorProto::INT16: { int16_t v; std::memcpy(&v, p, 2); return v; }
    case onnx::TensorProto::BOOL: case onnx::TensorProto::UINT8: return static_cast<uint8_t>(*p);
    case onnx::TensorProto::INT8: return static_cast<int8_t>(*p);
    default: return 0.0;
  }
}

bool IsIntegerType(int32_t type) {
  return type != onnx::TensorProto::FLOAT && type != onnx::TensorProto::DOUBLE && type != onnx::TensorProto::FLOAT16;
}

Tensor ReadTensor(const onnx::TensorProto& t, const std::string& directory, const std::string& what) {
  Tensor out;
  const int32_t type = t.data_type();
  if (RawElementBytes(type) == 0) {
    throw ConvertError(what + ": element type " + ElementTypeName(type) + " is not read (float, float16, double, "
                       "int8 to int64, bool)");
  }
  if (static_cast<size_t>(t.dims_size()) > kMaxRank) {
    throw ConvertError(what + ": rank " + std::to_string(t.dims_size()) + ", at most " + std::to_string(kMaxRank));
  }
  uint64_t count = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && count > kMaxTensorElements / static_cast<uint64_t>(d))) {
      throw ConvertError(what + ": dimension " + std::to_string(d) + " is negative or makes more than " +
                         std::to_string(kMaxTensorElements) + " elements");
    }
    count *= static_cast<uint64_t>(d);
    out.shape.push_back(d);
  }
  out.integer = IsIntegerType(type);
  const bool external = t.data_location() == onnx::TensorProto::EXTERNAL;
  const std::string external_bytes = external ? ReadExternal(t, directory, what) : std::string();
  const std::string& raw = external ? external_bytes : t.raw_data();
  if (external || !raw.empty()) {
    const size_t element = RawElementBytes(type);
    if (raw.size() != count * element) {
      throw ConvertError(what + ": " + std::to_string(raw.size()) + " data bytes for " + std::to_string(count) +
                         " elements of " + ElementTypeName(type));
    }
    out.values.resize(count);
    for (uint64_t i = 0; i < count; ++i) out.values[i] = RawValue(raw.data() + i * element, type);
  } else {
    uint64_t stored = 0;
    switch (type) {
      case onnx::TensorProto::FLOAT: stored = static_cast<uint64_t>(t.float_data_size()); break;
      case onnx::TensorProto::DOUBLE: stored = static_cast<uint64_t>(t.double_data_size()); break;
      case onnx::TensorProto::INT64: stored = static_cast<uint64_t>(t.int64_data_size()); break;
      default: stored = static_cast<uint64_t>(t.int32_data_size()); break;
    }
    if (stored != count) {
      throw ConvertError(what + ": " + std::to_string(stored) + " values stored for shape of " +
                         std::to_string(count) + " elements");
    }
    out.values.resize(count);
    for (uint64_t i = 0; i < count; ++i) {
      const int index = static_cast<int>(i);
      switch (type) {
        case onnx::TensorProto::FLOAT: out.values[i] = t.float_data(index); break;
        case onnx::TensorProto::DOUBLE: out.values[i] = t.double_data(index); break;
        case onnx::TensorProto::INT64: out.values[i] = static_cast<double>(t.int64_data(index)); break;
        case onnx::TensorProto::FLOAT16: out.values[i] = HalfToDouble(static_cast<uint16_t>(t.int32_data(index))); break;
        default: out.values[i] = t.int32_data(index); break;
      }
    }
  }
  if (out.integer) {
    // Beyond 2^53 an integer is a sentinel ("to the end": torch writes INT64_MAX as a Slice's end
    // for x[:, 1:]); it becomes +-2^62, still beyond any dimension and exact as a double and an
    // int64.
    for (double& v : out.values) {
      if (std::fabs(v) >= 9007199254740992.0) v = std::copysign(4611686018427387904.0, v);
    }
  }
  return out;
}

Attribute ReadAttribute(const onnx::AttributeProto& a, const std::string& directory, const std::string& what) {
  Attribute out;
  switch (a.type()) {
    case onnx::AttributeProto::INT: out.kind = Attribute::Kind::kInt; out.i = a.i(); break;
    case onnx::AttributeProto::FLOAT: out.kind = Attribute::Kind::kFloat; out.f = a.f(); break;
    case onnx::AttributeProto::STRING: out.kind = Attribute::Kind::kString; out.s = a.s(); break;
    case onnx::AttributeProto::INTS:
      out.kind = Attribute::Kind::kInts;
      out.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case onnx::AttributeProto::FLOATS:
      out.kind = Attribute::Kind::kFloats;
      out.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case onnx::AttributeProto::TENSOR:
      out.kind = Attribute::Kind::kTensor;
      out.t = ReadTensor(a.t(), directory, what + " attribute '" + a.name() + "'");
      break;
    default: out.kind = Attribute::Kind::kOther; break;
  }
  return out;
}

ValueInfo ReadValueInfo(const onnx::ValueInfoProto& v) {
  ValueInfo out;
  out.name = v.name();
  if (v.type().has_tensor_type()) {
    const auto& tensor = v.type().tensor_type();
    out.elem_type = tensor.elem_type();
    for (const auto& dim : tensor.shape().dim()) {
      out.dims.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
      out.dim_names.push_back(dim.has_dim_param() ? dim.dim_param() : "");
    }
  }
  return out;
}

}  // namespace

std::string Node::Describe() const {
  return (name.empty() ? "node #" + std::to_string(index) : "node '" + name + "'") + " (" + op + ")";
}

int64_t Node::Int(const std::string& attribute, int64_t fallback) const {
  const auto it = attributes.find(attribute);
  return it == attributes.end() ? fallback : it->second.i;
}

double Node::Float(const std::string& attribute, double fallback) const {
  const auto it = attributes.find(attribute);
  return it == attributes.end() ? fallback : it->second.f;
}

std::vector<int64_t> Node::Ints(const std::string& attribute) const {
  const auto it = attributes.find(attribute);
  return it == attributes.end() ? std::vector<int64_t>{} : it->second.ints;
}

const char* ElementTypeName(int32_t elem_type) {
  static const char* const kNames[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
                                       "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
                                       "COMPLEX128", "BFLOAT16"};
  return elem_type >= 0 && elem_type < 17 ? kNames[elem_type] : "an unknown type";
}

Graph ParseOnnxGraph(const void* bytes, size_t size, const std::string& directory) {
  if (size > kMaxFileBytes) throw ConvertError("the ONNX file is larger than 2 GiB: store large tensors as external data");
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes, static_cast<int>(size)) || !model.has_graph()) {
    throw ConvertError("not an ONNX model (the file does not parse as an onnx.ModelProto with a graph)");
  }
  Graph g;
  g.producer = model.producer_name() + (model.producer_version().empty() ? "" : " " + model.producer_version());
  for (const auto& opset : model.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") g.opset = opset.version();
  }
  if (g.opset < kMinOpset || g.opset > kMaxOpset) {
    throw ConvertError("the model uses opset " + std::to_string(g.opset) + " of the default domain; opsets " +
                       std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) +
                       " are read (export with opset_version in that range)");
  }
  const onnx::GraphProto& graph = model.graph();
  if (static_cast<size_t>(graph.node_size()) > kMaxNodes ||
      static_cast<size_t>(graph.initializer_size()) > kMaxInitializers) {
    throw ConvertError("the graph declares " + std::to_string(graph.node_size()) + " nodes and " +
                       std::to_string(graph.initializer_size()) + " initializers, at most " +
                       std::to_string(kMaxNodes) + " and " + std::to_string(kMaxInitializers));
  }
  for (const auto& init : graph.initializer()) {
    if (g.initializers.count(init.name())) throw ConvertError("initializer '" + init.name() + "' is declared twice");
    g.initializers[init.name()] = ReadTensor(init, directory, "initializer '" + init.name() + "'");
  }
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& n = graph.node(i);
    Node node;
    node.op = n.op_type();
    node.name = n.name();
    node.domain = n.domain();
    node.index = static_cast<size_t>(i);
    if (kQuantizedOps.count(node.op)) {
      throw ConvertError(node.Describe() + ": a quantized graph (QDQ or integer ops) is not imported: export the "
                         "float model, before quantization, and let ple-convert --precision int8 quantize it");
    }
    if (!node.domain.empty() && node.domain != "ai.onnx") {
      throw ConvertError(node.Describe() + ": domain '" + node.domain + "' is not read (only the default ONNX domain)");
    }
    node.inputs.assign(n.input().begin(), n.input().end());
    node.outputs.assign(n.output().begin(), n.output().end());
    if (node.outputs.empty() || node.outputs[0].empty()) throw ConvertError(node.Describe() + ": has no output");
    for (const auto& a : n.attribute()) node.attributes[a.name()] = ReadAttribute(a, directory, node.Describe());
    g.nodes.push_back(std::move(node));
  }
  for (const auto& input : graph.input()) {
    if (!g.initializers.count(input.name())) g.inputs.push_back(ReadValueInfo(input));
  }
  for (const auto& output : graph.output()) g.outputs.push_back(ReadValueInfo(output));
  if (g.outputs.empty()) throw ConvertError("the graph has no outputs");
  return g;
}

Graph ReadOnnxGraph(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConvertError("cannot open the ONNX file '" + path + "'");
  in.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  if (size > kMaxFileBytes) throw ConvertError("'" + path + "' is larger than 2 GiB: store large tensors as external data");
  in.seekg(0);
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (!in) throw ConvertError("cannot read the ONNX file '" + path + "'");
  const size_t slash = path.find_last_of('/');
  return ParseOnnxGraph(bytes.data(), bytes.size(), slash == std::string::npos ? "" : path.substr(0, slash));
}

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple
