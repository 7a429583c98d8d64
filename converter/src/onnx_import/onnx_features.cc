#include "onnx_import/onnx_features.h"

#include <algorithm>

#include "onnx_import/onnx_features_state.h"

namespace ple {
namespace convert {
namespace onnx_import {

using feature_layer::IntegerType;
using feature_layer::Segment;
using feature_layer::Source;
using feature_layer::Value;

void FeatureReader::State::VisitCast(const Node& node) {
  Value v = In(node, 0);
  const bool to_integer = IntegerType(node.Int("to", 1));
  if (v.kind == Value::Kind::kIdFunction) return VisitIdFunction(node);
  if (v.kind == Value::Kind::kInput) {
    v.integral = v.integral || to_integer;
  } else if (to_integer || v.kind == Value::Kind::kShape) {
    Refuse(node, "casts embeddings or the feature row to integers");
  }
  Set(node, v);
}

// Unsqueeze, Squeeze, Flatten, Reshape: the batch stays first, the order of the rest is kept.
void FeatureReader::State::VisitReshape(const Node& node) {
  Value v = In(node, 0);
  if (v.kind == Value::Kind::kIdFunction) return VisitIdFunction(node);
  if (v.kind == Value::Kind::kShape) Refuse(node, "reshapes a feature value's shape");
  NeedShape(node, v);
  std::vector<int64_t> operand;
  if (node.op == "Reshape") {
    operand = ops::IntValues(Constant(node, 1, "its target shape"));
  } else if (node.op != "Flatten") {
    operand = Axes(node, 1, 13);
  }
  v.shape = ReshapedShape(node, v.shape, operand);
  Set(node, v);
}

// A float input sliced into its columns (DeepCTR-Torch's X[:, begin:end]).
void FeatureReader::State::VisitSlice(const Node& node) {
  Value v = In(node, 0);
  if (v.kind == Value::Kind::kIdFunction) return VisitIdFunction(node);
  if (v.kind != Value::Kind::kInput || v.shape.size() != 2) {
    Refuse(node, "slices embeddings or the feature row; only a 2-d input is sliced into its columns");
  }
  NeedShape(node, v);
  std::vector<int64_t> starts, ends, axes, steps;
  if (graph.opset < 10) {
    starts = node.Ints("starts"), ends = node.Ints("ends"), axes = node.Ints("axes");
  } else {
    starts = ops::IntValues(Constant(node, 1, "its starts"));
    ends = ops::IntValues(Constant(node, 2, "its ends"));
    if (node.inputs.size() > 3 && !node.inputs[3].empty()) axes = ops::IntValues(Constant(node, 3, "its axes"));
    if (node.inputs.size() > 4 && !node.inputs[4].empty()) steps = ops::IntValues(Constant(node, 4, "its steps"));
  }
  const auto [b, e] = SlicedColumns(node, v.shape[1], starts, ends, axes, steps);
  v.source.end = v.source.begin + e;
  v.source.begin += b;
  v.shape = {kBatch, e - b};
  Set(node, v);
}

void FeatureReader::State::VisitGather(const Node& node) {
  const Value* data = Find(node.inputs.at(0));
  if (data != nullptr && data->kind == Value::Kind::kShape) {
    const Tensor& index = Constant(node, 1, "the index into a shape");
    Tensor dims;
    dims.shape = index.shape;
    dims.integer = true;
    for (int64_t i : ops::IntValues(index)) {
      const int64_t d = data->shape.at(ops::Axis(i, data->shape.size(), node.Describe()));
      if (d < 0) Refuse(node, "uses the batch size or a symbolic length (" + FeatureShapeText(data->shape) + ")");
      dims.values.push_back(static_cast<double>(d));
    }
    return define_constant(node.outputs.at(0), dims);
  }
  if (data != nullptr && data->kind == Value::Kind::kInput && node.Int("axis", 0) == 1 && constant(node.inputs[1])) {
    return VisitColumnGather(node, *data);
  }
  if (data != nullptr) return VisitIdFunction(node);
  const Tensor& table = Constant(node, 0, "an embedding table");
  const Value& ids = In(node, 1);
  if (ids.kind != Value::Kind::kInput) {
    Refuse(node, "looks up ids computed from " + ids.source.Text() + "; the runtime looks up the ids as given "
                 "(out-of-vocabulary ids: the sidecar's oov)");
  }
  if (table.rank() != 2 || table.integer || node.Int("axis", 0) != 0) {
    Refuse(node, "expected an embedding lookup: Gather on axis 0 of a float [vocabulary, dim] initializer");
  }
  NeedShape(node, ids);
  Value e;
  e.kind = Value::Kind::kEmbedding;
  e.source = ids.source;
  e.table = node.inputs[0];
  e.shape = ids.shape;
  e.shape.push_back(table.shape[1]);
  Set(node, e);
}

// One column of a [B, W] input picked by Gather on axis 1 (x[:, 3]): the column range [3, 4).
void FeatureReader::State::VisitColumnGather(const Node& node, Value v) {
  const Tensor& index = Constant(node, 1, "the column index");
  if (v.shape.size() != 2 || index.size() != 1 || index.rank() > 1) {
    Refuse(node, "gathers columns other than one of a 2-d input");
  }
  NeedShape(node, v);
  const int64_t column = ops::Axis(static_cast<int64_t>(index.values[0]), static_cast<size_t>(v.shape[1]), node.Describe());
  v.source.begin += column;
  v.source.end = v.source.begin + 1;
  v.shape = index.rank() == 0 ? FeatureShape{kBatch} : FeatureShape{kBatch, 1};
  Set(node, v);
}

void FeatureReader::State::VisitShape(const Node& node) {
  const Value& v = In(node, 0);
  if (v.kind == Value::Kind::kIdFunction) return VisitIdFunction(node);
  Value s;
  s.kind = Value::Kind::kShape;
  const int64_t rank = static_cast<int64_t>(v.shape.size());
  int64_t start = node.Int("start", 0), end = node.Int("end", rank);
  start = std::min(std::max(start < 0 ? start + rank : start, int64_t{0}), rank);
  end = std::min(std::max(end < 0 ? end + rank : end, int64_t{0}), rank);
  s.shape.assign(v.shape.begin() + start, v.shape.begin() + std::max(start, end));
  Set(node, s);
}

Value FeatureReader::State::ToRow(const Node& node, const std::string& name) const {
  const Value* v = Find(name);
  if (v == nullptr) Refuse(node, "joins a model value into the feature row ('" + name + "')");
  switch (v->kind) {
    case Value::Kind::kRow:
      return *v;
    case Value::Kind::kInput: {
      if (v->integral) {
        Refuse(node, "reads the ids of " + v->source.Text() + " as values: look them up in an embedding "
                     "(Gather) or leave them out");
      }
      NeedShape(node, *v);
      Segment seg;
      seg.source = v->source;
      seg.width = static_cast<uint32_t>(v->source.width());
      Value row = RowOf(seg, v->shape);
      row.scale = v->scale, row.shift = v->shift;
      return row;
    }
    case Value::Kind::kEmbedding: {
      if (v->source.width() != 1) {
        Refuse(node, "reads the embeddings of sequence " + v->source.Text() + " unpooled: pool them (sum or mean "
                     "over the sequence axis) first");
      }
      Segment seg;
      seg.kind = fb::FeatureKind::Sparse;
      seg.source = v->source;
      seg.table = v->table;
      seg.width = static_cast<uint32_t>(v->shape.back());
      return RowOf(seg, v->shape);
    }
    default:
      Refuse(node, "reads '" + name + "', computed from " + v->source.Text() + " (a mask, a count or a shape), as "
                   "features");
  }
}

void FeatureReader::State::VisitConcat(const Node& node) {
  for (const std::string& name : node.inputs) {
    const Value* v = Find(name);
    if (v != nullptr && v->kind == Value::Kind::kIdFunction) return VisitIdFunction(node);
  }
  std::vector<Value> parts;
  for (const std::string& name : node.inputs) parts.push_back(ToRow(node, name));
  const size_t rank = parts[0].shape.size();
  const size_t axis = static_cast<size_t>(ops::Axis(node.Int("axis", 1), rank, node.Describe()));
  if (axis == 0) Refuse(node, "concatenates along the batch axis");
  Value row;
  row.kind = Value::Kind::kRow;
  row.shape = parts[0].shape;
  row.shape[axis] = 0;
  for (const Value& p : parts) {
    bool fits = p.shape.size() == rank;
    for (size_t i = 1; fits && i < rank; ++i) fits = i == axis || p.shape[i] == row.shape[i];
    for (size_t i = 1; fits && i < axis; ++i) fits = p.shape[i] == 1;
    if (!fits) {
      Refuse(node, "concatenates features of shapes that do not line up into one row (" + FeatureShapeText(p.shape) +
                   " on axis " + std::to_string(axis) + ")");
    }
    row.shape[axis] += p.shape[axis];
    row.segments.insert(row.segments.end(), p.segments.begin(), p.segments.end());
  }
  bool affine = false;
  for (const Value& p : parts) affine = affine || !p.scale.empty();
  for (const Value& p : parts) {  // the parts' values follow one another in the row's order
    if (!affine) break;
    const size_t n = static_cast<size_t>(RowElements(p.shape, node.Describe()));
    const std::vector<double> scale = p.scale.empty() ? std::vector<double>(n, 1.0) : p.scale;
    const std::vector<double> shift = p.shift.empty() ? std::vector<double>(n, 0.0) : p.shift;
    row.scale.insert(row.scale.end(), scale.begin(), scale.end());
    row.shift.insert(row.shift.end(), shift.begin(), shift.end());
  }
  Set(node, row);
}

std::string FeatureReader::State::NameOf(const Source& source) const {
  if (source.whole()) return source.input;
  const auto it = hints.columns.find(source.input);
  if (it != hints.columns.end()) {
    for (const auto& [name, range] : it->second) {
      if (range.first == source.begin && range.second == source.end) return name;
      if (range.first < source.end && source.begin < range.second) {
        throw ConvertError("the sidecar's columns give '" + name + "' as [" + std::to_string(range.first) + ", " +
                           std::to_string(range.second) + ") of input '" + source.input + "'; the graph reads [" +
                           std::to_string(source.begin) + ", " + std::to_string(source.end) + ") as one feature");
      }
    }
  }
  return source.input + "[" + std::to_string(source.begin) + ":" + std::to_string(source.end) + "]";
}

FeatureReader::FeatureReader(const Graph& graph, const FeatureHints& hints, ConstantLookup constant,
                             ConstantSink define_constant)
    : state_(new State{graph, hints, std::move(constant), std::move(define_constant), {}, false, {}, {}, {}}) {
  for (const ValueInfo& input : graph.inputs) {
    Value v;
    v.kind = Value::Kind::kInput;
    v.integral = IntegerType(input.elem_type) && input.elem_type != 9;
    v.shape = input.dims;
    if (!v.shape.empty()) v.shape[0] = kBatch;
    for (size_t i = 1; i < v.shape.size(); ++i) {
      const auto hint = hints.max_length.find(input.name);
      if (v.shape[i] < 0) v.shape[i] = hint != hints.max_length.end() ? hint->second : kSymbolic;
    }
    v.source.input = input.name;
    v.source.end = RowElements(v.shape, "graph input '" + input.name + "'");
    v.source.input_width = v.source.end;
    state_->values[input.name] = v;
  }
}

FeatureReader::~FeatureReader() = default;

bool FeatureReader::Knows(const std::string& value) const { return state_->Find(value) != nullptr; }

const std::vector<double>& FeatureReader::RowScale() const { return state_->row_scale; }
const std::vector<double>& FeatureReader::RowShift() const { return state_->row_shift; }

bool FeatureReader::Visit(const Node& node) {
  State& s = *state_;
  bool reads = false;
  for (const std::string& name : node.inputs) reads = reads || (!name.empty() && s.Find(name) != nullptr);
  if (!reads) return false;
  const std::string& op = node.op;
  const bool binary = op == "Gather" || op == "Mul" || op == "MatMul" || op == "Div" || op == "Reshape";
  if (node.inputs.size() < (binary ? 2u : 1u)) State::Refuse(node, "is missing an input");
  const Value* first = node.inputs.empty() ? nullptr : s.Find(node.inputs[0]);
  if (op == "Gemm") return false;
  if (op == "MatMul") {
    if (first == nullptr || first->kind != Value::Kind::kIdFunction) return false;
    s.VisitMatMul(node);
  } else if (op == "Identity" || op == "Dropout") {
    s.Set(node, s.In(node, 0));
  } else if (op == "Cast") {
    s.VisitCast(node);
  } else if (op == "Unsqueeze" || op == "Squeeze" || op == "Flatten" || op == "Reshape") {
    s.VisitReshape(node);
  } else if (op == "Slice") {
    s.VisitSlice(node);
  } else if (op == "Gather") {
    s.VisitGather(node);
  } else if (op == "Shape") {
    s.VisitShape(node);
  } else if (op == "Concat") {
    s.VisitConcat(node);
  } else if (op == "Mul") {
    s.VisitMul(node);
  } else if (op.rfind("Reduce", 0) == 0) {
    s.VisitReduce(node);
  } else if (op == "Div") {
    s.VisitDiv(node);
  } else if (op == "Where") {
    s.VisitWhere(node);
  } else if (op == "BatchNormalization") {
    s.VisitBatchNorm(node);
  } else {
    s.VisitIdFunction(node);
  }
  return true;
}

uint32_t FeatureReader::AdoptRow(const std::string& value, const Node& user) {
  State& s = *state_;
  const Value row = s.ToRow(user, value);
  if (row.shape.size() != 2) {
    State::Refuse(user, "reads features of shape " + FeatureShapeText(row.shape) + "; expected the row [B, width]");
  }
  if (s.adopted && !(row.segments == s.row)) {
    State::Refuse(user, "reads a second, different feature row; every expert and gate of the first level must read "
                        "the same input row");
  }
  if (s.adopted && (row.scale != s.row_scale || row.shift != s.row_shift)) {
    State::Refuse(user, "reads the feature row with a different BatchNormalization than another first layer");
  }
  s.adopted = true;
  s.row = row.segments;
  s.row_scale = row.scale, s.row_shift = row.shift;
  return static_cast<uint32_t>(row.shape[1]);
}

void FeatureReader::Build(IrModel* ir, std::vector<FeatureBinding>* bindings) const {
  const State& s = *state_;
  if (!s.adopted) throw ConvertError("no Linear layer reads the graph's inputs");
  std::map<std::string, uint32_t> tables;
  for (size_t i = 0; i < s.row.size(); ++i) {
    const Segment& seg = s.row[i];
    for (size_t j = 0; j < i; ++j) {
      if (s.row[j].source == seg.source) {
        throw ConvertError(seg.source.Text() + " joins the feature row twice; each input is one feature");
      }
    }
    FeatureConfig f;
    f.name = s.NameOf(seg.source);
    f.kind = seg.kind;
    f.width = seg.width;
    if (seg.kind != fb::FeatureKind::Dense) {
      auto [it, fresh] = tables.emplace(seg.table, static_cast<uint32_t>(ir->tables.size()));
      if (fresh) {
        const Tensor& t = *s.constant(seg.table);
        IrTable table;
        table.config.name = seg.table;
        table.config.vocabulary = static_cast<uint32_t>(t.shape[0]);
        table.config.dim = static_cast<uint32_t>(t.shape[1]);
        table.rows.assign(t.values.begin(), t.values.end());
        ir->tables.push_back(std::move(table));
      }
      f.table = it->second;
    }
    if (seg.kind == fb::FeatureKind::Sequence) {
      f.max_length = seg.length;
      f.pooling = seg.pooling;
      f.has_padding_id = seg.pad.has_padding_id;
      f.padding_id = seg.pad.padding_id;
      f.mean_eps = static_cast<float>(seg.mean_eps);
    }
    ir->features.push_back(f);
    bindings->push_back(FeatureBinding{f.name, seg.source.input, seg.source.begin, seg.source.end});
  }
}

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple
