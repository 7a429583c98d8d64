// An ONNX model as a plain graph (docs/architecture.md, "Importing ONNX"): what the recognizer
// and the float64 evaluator read, independent of protobuf. ReadOnnxGraph checks what a file may
// declare (caps below) before it allocates, and every error names the node or tensor.
#ifndef PLE_CONVERTER_ONNX_ONNX_GRAPH_H_
#define PLE_CONVERTER_ONNX_ONNX_GRAPH_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ple {
namespace convert {
namespace onnx_import {

// Caps on what a file may declare (hostile files: docs/hardening.md).
constexpr uint64_t kMaxFileBytes = uint64_t{1} << 31;     // protobuf's own limit is 2 GiB
constexpr size_t kMaxNodes = 100000;
constexpr size_t kMaxInitializers = 100000;
constexpr uint64_t kMaxTensorElements = uint64_t{1} << 31;
constexpr size_t kMaxRank = 8;
constexpr int64_t kMinOpset = 11, kMaxOpset = 17;          // of the default domain

// A tensor's values, whatever its ONNX type: float types as their float64 values, integer and
// bool types as exact integers (beyond 2^53: the sentinel +-2^62, see ReadTensor) with `integer` set.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<double> values;
  bool integer = false;

  size_t size() const { return values.size(); }
  size_t rank() const { return shape.size(); }
};

struct Attribute {
  enum class Kind { kInt, kFloat, kString, kInts, kFloats, kTensor, kOther };
  Kind kind = Kind::kOther;
  int64_t i = 0;
  double f = 0.0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  Tensor t;
};

struct Node {
  std::string op, name, domain;
  std::vector<std::string> inputs, outputs;  // an empty input name: an omitted optional input
  std::map<std::string, Attribute> attributes;
  size_t index = 0;                          // position in the graph

  // "node 'name' (Op)" or "node #index (Op)" when unnamed: how every error names it.
  std::string Describe() const;
  bool Has(const std::string& attribute) const { return attributes.count(attribute) != 0; }
  int64_t Int(const std::string& attribute, int64_t fallback) const;
  double Float(const std::string& attribute, double fallback) const;
  std::vector<int64_t> Ints(const std::string& attribute) const;  // empty when absent
};

// A graph input or output: its element type (ONNX TensorProto.DataType) and dimensions, -1 for
// a symbolic or unknown one (then `dim_names` holds the symbol, if any).
struct ValueInfo {
  std::string name;
  int32_t elem_type = 0;
  std::vector<int64_t> dims;
  std::vector<std::string> dim_names;
};

struct Graph {
  std::string producer;                       // e.g. "pytorch 1.13.1"
  int64_t opset = 0;                          // of the default domain
  std::vector<Node> nodes;                    // topological order, as the file stores it
  std::map<std::string, Tensor> initializers;
  std::vector<ValueInfo> inputs;              // graph inputs that are not initializers
  std::vector<ValueInfo> outputs;
};

// Reads `path` (and external data files beside it). Throws ConvertError naming what is wrong:
// not an ONNX model, an opset outside [kMinOpset, kMaxOpset], a node of another domain, a
// quantized (QDQ) graph, a tensor type or size it cannot read, a cap exceeded, external data
// outside the model's directory.
Graph ReadOnnxGraph(const std::string& path);
// The same from bytes; external data is looked up in `directory`.
Graph ParseOnnxGraph(const void* bytes, size_t size, const std::string& directory);

// "FLOAT", "INT64", ... for messages.
const char* ElementTypeName(int32_t elem_type);

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_ONNX_ONNX_GRAPH_H_
