// The feature reader's state (onnx_features.h), shared by onnx_features.cc (inputs, casts,
// reshapes, slices, lookups, the row) and onnx_feature_pooling.cc (pooling, masks, counts,
// BatchNorm of the inputs). Internal to the ONNX import.
#ifndef PLE_CONVERTER_ONNX_IMPORT_ONNX_FEATURES_STATE_H_
#define PLE_CONVERTER_ONNX_IMPORT_ONNX_FEATURES_STATE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "convert_error.h"
#include "onnx_import/onnx_eval_ops.h"
#include "onnx_import/onnx_feature_shapes.h"
#include "onnx_import/onnx_features.h"
#include "onnx_import/onnx_masks.h"

namespace ple {
namespace convert {
namespace onnx_import {
namespace feature_layer {

using Shape = FeatureShape;

// A graph input, or elements [begin, end) of each of its rows.
struct Source {
  std::string input;
  int64_t begin = 0, end = 0;
  int64_t input_width = 0;  // elements a row of the whole input holds
  bool operator==(const Source& o) const { return input == o.input && begin == o.begin && end == o.end; }
  int64_t width() const { return end - begin; }
  bool whole() const { return begin == 0 && end == input_width; }
  std::string Text() const {
    return "input '" + input + "'" + (whole() ? "" : " [" + std::to_string(begin) + ":" + std::to_string(end) + "]");
  }
};

// One feature of the row.
struct Segment {
  fb::FeatureKind kind = fb::FeatureKind::Dense;
  Source source;
  uint32_t width = 0;            // floats in the row
  std::string table;             // sparse, sequence: the initializer looked up
  uint32_t length = 0;           // sequence: ids per row
  fb::Pooling pooling = fb::Pooling::Sum;
  PadRule pad;
  double mean_eps = 0.0;
  bool operator==(const Segment& o) const {
    return kind == o.kind && source == o.source && table == o.table && pooling == o.pooling &&
           pad.has_padding_id == o.pad.has_padding_id && pad.padding_id == o.pad.padding_id && mean_eps == o.mean_eps;
  }
};

struct Value {
  enum class Kind {
    kInput,            // a graph input or some of its columns, maybe reshaped or cast
    kShape,            // Shape of a feature value: `shape` holds its dimensions
    kEmbedding,        // Gather of `table` rows by the ids of `source`: shape = ids' shape + [D]
    kIdFunction,       // computed from `source`'s ids and constants (a mask, a count)
    kMaskedEmbedding,  // kEmbedding [B, L, D] times the mask `mask`
    kRow,              // features in the row-major order of the non-batch dimensions
  };
  Kind kind = Kind::kInput;
  Shape shape;
  Source source;
  bool integral = false;          // kInput: ids (an integer input, or cast to integers)
  std::string table, mask;
  bool mask_negated = false;      // kMaskedEmbedding: `mask` is 1 where the ids are dropped
  std::vector<Segment> segments;  // kRow
  // kInput (float), kRow: an affine map of each value of the row, x * scale + shift, from a
  // BatchNormalization on the inputs (empty: none); the first Linear layers absorb it.
  std::vector<double> scale, shift;
  size_t producer = SIZE_MAX;     // the node computing it; SIZE_MAX: a graph input
};

inline bool IntegerType(int64_t elem_type) {
  return (elem_type >= 2 && elem_type <= 7) || elem_type == 9 || elem_type == 12 || elem_type == 13;
}

}  // namespace feature_layer

struct FeatureReader::State {
  using Shape = feature_layer::Shape;
  using Source = feature_layer::Source;
  using Segment = feature_layer::Segment;
  using Value = feature_layer::Value;

  const Graph& graph;
  FeatureHints hints;
  ConstantLookup constant;
  ConstantSink define_constant;
  std::map<std::string, Value> values;
  bool adopted = false;
  std::vector<Segment> row;
  std::vector<double> row_scale, row_shift;

  [[noreturn]] static void Refuse(const Node& node, const std::string& what) { throw ConvertError(node.Describe() + ": " + what); }

  const Value* Find(const std::string& name) const {
    const auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
  const Value& In(const Node& node, size_t i) const {
    const Value* v = i < node.inputs.size() ? Find(node.inputs[i]) : nullptr;
    if (v == nullptr) Refuse(node, "input " + std::to_string(i) + " is not a feature value");
    return *v;
  }
  const Tensor& Constant(const Node& node, size_t i, const char* what) const {
    const Tensor* t = i < node.inputs.size() && !node.inputs[i].empty() ? constant(node.inputs[i]) : nullptr;
    if (t == nullptr) Refuse(node, std::string(what) + " must be a constant");
    return *t;
  }
  void Set(const Node& node, Value v, size_t output = 0) {
    v.producer = node.index;
    values[node.outputs.at(output)] = std::move(v);
  }
  void NeedShape(const Node& node, const Value& v) const {
    for (int64_t d : v.shape) {
      if (d == kSymbolic) {
        Refuse(node, v.source.Text() + " has a length the graph leaves symbolic: give it as the feature's max_length "
                     "in the sidecar");
      }
    }
  }
  std::vector<int64_t> Axes(const Node& node, size_t input, int64_t from_opset) const {
    if (graph.opset < from_opset) return node.Ints("axes");
    if (input >= node.inputs.size() || node.inputs[input].empty()) return {};
    return ops::IntValues(Constant(node, input, "its axes"));
  }

  // Any op on ids and constants: a mask or a count, read later by what it computes.
  void VisitIdFunction(const Node& node);

  IdFunction IdFunctionOf(const std::string& name, const Source& source) const;

  void VisitCast(const Node& node);

  // Unsqueeze, Squeeze, Flatten, Reshape: the batch stays first, the order of the rest is kept.
  void VisitReshape(const Node& node);

  // A float input sliced into its columns (DeepCTR-Torch's X[:, begin:end]).
  void VisitSlice(const Node& node);

  void VisitGather(const Node& node);

  // One column of a [B, W] input picked by Gather on axis 1 (x[:, 3]): the column range [3, 4).
  void VisitColumnGather(const Node& node, Value v);

  void VisitShape(const Node& node);

  // Pooling a sequence's embeddings [B, L, D] over L: masked or not, sum or mean.
  void VisitReduce(const Node& node);

  Segment Sequence(const Value& e, fb::Pooling pooling) const {
    Segment seg;
    seg.kind = fb::FeatureKind::Sequence;
    seg.source = e.source;
    seg.table = e.table;
    seg.width = static_cast<uint32_t>(e.shape.back());
    seg.length = static_cast<uint32_t>(e.source.width());
    seg.pooling = pooling;
    return seg;
  }
  static Value RowOf(Segment seg, Shape shape) {
    Value r;
    r.kind = Value::Kind::kRow;
    r.source = seg.source;
    r.segments = {std::move(seg)};
    r.shape = std::move(shape);
    return r;
  }

  void VisitMul(const Node& node);

  // A BatchNormalization of dense inputs or of the row [B, C]: an affine map of each value.
  void VisitBatchNorm(const Node& node);

  // masked_fill: Where(mask, embeddings, 0) or Where(dropped, 0, embeddings).
  void VisitWhere(const Node& node);

  // torch-rechub's pooling: bmm(mask [B, 1, L], embeddings [B, L, D]).
  void VisitMatMul(const Node& node);

  // A mean: a pooled sum divided by the count of its ids (+ epsilon).
  void VisitDiv(const Node& node);

  Value ToRow(const Node& node, const std::string& name) const;

  void VisitConcat(const Node& node);

  std::string NameOf(const Source& source) const;
};

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_ONNX_IMPORT_ONNX_FEATURES_STATE_H_
