#include "onnx_import/onnx_features.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <set>

#include "convert_error.h"
#include "onnx_import/onnx_eval_ops.h"
#include "onnx_import/onnx_feature_shapes.h"
#include "onnx_import/onnx_masks.h"

namespace ple {
namespace convert {
namespace onnx_import {
namespace {

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

bool IntegerType(int64_t elem_type) {
  return (elem_type >= 2 && elem_type <= 7) || elem_type == 9 || elem_type == 12 || elem_type == 13;
}

}  // namespace

struct FeatureReader::State {
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
  void VisitIdFunction(const Node& node) {
    const Source* source = nullptr;
    for (const std::string& name : node.inputs) {
      if (name.empty() || constant(name) != nullptr) continue;
      const Value* v = Find(name);
      if (v == nullptr) Refuse(node, "mixes the features with the model's values ('" + name + "')");
      if (v->kind == Value::Kind::kInput && !v->integral) {
        Refuse(node, "op " + node.op + " on the float values of " + v->source.Text() +
                         ": dense features are only concatenated and read by Linear layers; only ids may be "
                         "compared (a sequence's padding mask)");
      }
      if (v->kind != Value::Kind::kInput && v->kind != Value::Kind::kIdFunction) {
        Refuse(node, "op " + node.op + " on " + (v->kind == Value::Kind::kShape ? "a feature value's shape" :
                     "embeddings or the feature row") + " is outside the family: embeddings are pooled (sum or mean "
                     "over a sequence), concatenated and read by Linear layers");
      }
      if (source != nullptr && !(v->source == *source)) {
        Refuse(node, "combines the ids of " + source->Text() + " and " + v->source.Text() +
                         " (a mask from a length column is not read yet: give padded ids)");
      }
      source = &v->source;
    }
    Value f;
    f.kind = Value::Kind::kIdFunction;
    f.source = *source;
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (!node.outputs[i].empty()) Set(node, f, i);
    }
  }

  IdFunction IdFunctionOf(const std::string& name, const Source& source) const {
    IdFunction f;
    f.output = name;
    f.length = source.width();
    f.opset = graph.opset;
    std::set<size_t> nodes;
    std::set<std::string> ids;
    std::vector<std::string> todo = {name};
    while (!todo.empty()) {
      const std::string value = todo.back();
      todo.pop_back();
      const Value* v = Find(value);
      if (v->kind == Value::Kind::kInput) {
        if (ids.insert(value).second) f.id_values.emplace_back(value, v->shape);
        continue;
      }
      if (!nodes.insert(v->producer).second) continue;
      for (const std::string& in : graph.nodes[v->producer].inputs) {
        if (in.empty()) continue;
        if (const Tensor* t = constant(in)) {
          f.constants[in] = *t;
        } else {
          todo.push_back(in);
        }
      }
    }
    for (size_t i : nodes) f.nodes.push_back(graph.nodes[i]);
    return f;
  }

  void VisitCast(const Node& node) {
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
  void VisitReshape(const Node& node) {
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
  void VisitSlice(const Node& node) {
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

  void VisitGather(const Node& node) {
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
  void VisitColumnGather(const Node& node, Value v) {
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

  void VisitShape(const Node& node) {
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

  // Pooling a sequence's embeddings [B, L, D] over L: masked or not, sum or mean.
  void VisitReduce(const Node& node) {
    const Value& v = In(node, 0);
    if (v.kind != Value::Kind::kEmbedding && v.kind != Value::Kind::kMaskedEmbedding) return VisitIdFunction(node);
    if (node.op != "ReduceSum" && !(node.op == "ReduceMean" && v.kind == Value::Kind::kEmbedding)) {
      Refuse(node, "pools a sequence by " + node.op + "; the runtime pools by sum or by mean (skipping one padding id)");
    }
    const std::vector<int64_t> axes = Axes(node, 1, node.op == "ReduceSum" ? 13 : 18);
    if (v.shape.size() != 3 || axes.size() != 1 || ops::Axis(axes[0], 3, node.Describe()) != 1) {
      Refuse(node, "expected a sequence's embeddings [B, L, D] pooled over axis 1, found " + FeatureShapeText(v.shape));
    }
    Segment seg = Sequence(v, node.op == "ReduceMean" ? fb::Pooling::Mean : fb::Pooling::Sum);
    if (v.kind == Value::Kind::kMaskedEmbedding) {
      IdFunction mask = IdFunctionOf(v.mask, v.source);
      mask.negate = v.mask_negated;
      seg.pad = ProbeMask(mask, MaskUse::kMultiplied, v.shape[2], node.Describe());
    }
    Set(node, RowOf(seg, node.Int("keepdims", 1) ? Shape{kBatch, 1, v.shape[2]} : Shape{kBatch, v.shape[2]}));
  }

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

  void VisitMul(const Node& node) {
    const Value* a = Find(node.inputs.at(0));
    const Value* b = Find(node.inputs.at(1));
    const Value* e = a != nullptr && a->kind == Value::Kind::kEmbedding ? a : b;
    const Value* m = e == a ? b : a;
    if (e == nullptr || e->kind != Value::Kind::kEmbedding || m == nullptr || m->kind != Value::Kind::kIdFunction) {
      return VisitIdFunction(node);
    }
    if (!(m->source == e->source)) Refuse(node, "masks " + e->source.Text() + "'s embeddings by " + m->source.Text());
    if (e->shape.size() != 3) Refuse(node, "masks embeddings of shape " + FeatureShapeText(e->shape) + "; expected [B, L, D]");
    Value masked = *e;
    masked.kind = Value::Kind::kMaskedEmbedding;
    masked.mask = node.inputs[e == a ? 1 : 0];
    Set(node, masked);
  }

  // A BatchNormalization of dense inputs or of the row [B, C]: an affine map of each value.
  void VisitBatchNorm(const Node& node) {
    const Value* in = Find(node.inputs[0]);
    if (in == nullptr || in->kind == Value::Kind::kIdFunction || (in->kind == Value::Kind::kInput && in->integral)) {
      return VisitIdFunction(node);
    }
    // an input stays an input (the row forms where it is concatenated); an embedding joins the row
    Value v = in->kind == Value::Kind::kInput || in->kind == Value::Kind::kRow ? *in : ToRow(node, node.inputs[0]);
    if (v.shape.size() != 2 || node.inputs.size() < 5) {
      Refuse(node, "expected a BatchNormalization of a [B, C] feature value, found " + FeatureShapeText(v.shape));
    }
    const size_t channels = static_cast<size_t>(v.shape[1]);
    std::vector<const Tensor*> p;
    for (size_t i = 1; i < 5; ++i) {
      p.push_back(&Constant(node, i, "its scale, bias, mean and variance"));
      if (p.back()->size() != channels) Refuse(node, "its scale, bias, mean and variance must hold one value per channel");
    }
    const double eps = node.Float("epsilon", 1e-5);
    if (v.scale.empty()) v.scale.assign(channels, 1.0), v.shift.assign(channels, 0.0);
    for (size_t i = 0; i < channels; ++i) {
      const double a = p[0]->values[i] / std::sqrt(p[3]->values[i] + eps);
      if (!std::isfinite(a)) Refuse(node, "a channel's variance + epsilon is not positive");
      v.scale[i] *= a;
      v.shift[i] = v.shift[i] * a + p[1]->values[i] - p[2]->values[i] * a;
    }
    Set(node, v);
  }

  // masked_fill: Where(mask, embeddings, 0) or Where(dropped, 0, embeddings).
  void VisitWhere(const Node& node) {
    const Value* condition = Find(node.inputs.at(0));
    const Value* kept = node.inputs.size() == 3 ? Find(node.inputs[1]) : nullptr;
    const Value* otherwise = node.inputs.size() == 3 ? Find(node.inputs[2]) : nullptr;
    const bool keeps = kept != nullptr && kept->kind == Value::Kind::kEmbedding && otherwise == nullptr;
    const bool drops = otherwise != nullptr && otherwise->kind == Value::Kind::kEmbedding && kept == nullptr;
    if (condition == nullptr || condition->kind != Value::Kind::kIdFunction || !(keeps || drops)) {
      return VisitIdFunction(node);
    }
    const Tensor& zero = Constant(node, keeps ? 2 : 1, "the value a mask puts in place of an embedding");
    for (double v : zero.values) {
      if (v != 0.0) Refuse(node, "puts " + std::to_string(v) + " in place of masked embeddings; only 0 is pooled away");
    }
    const Value& e = keeps ? *kept : *otherwise;
    if (!(condition->source == e.source)) Refuse(node, "masks " + e.source.Text() + "'s embeddings by " + condition->source.Text());
    if (e.shape.size() != 3) Refuse(node, "masks embeddings of shape " + FeatureShapeText(e.shape) + "; expected [B, L, D]");
    Value masked = e;
    masked.kind = Value::Kind::kMaskedEmbedding;
    masked.mask = node.inputs[0];
    masked.mask_negated = drops;
    Set(node, masked);
  }

  // torch-rechub's pooling: bmm(mask [B, 1, L], embeddings [B, L, D]).
  void VisitMatMul(const Node& node) {
    const Value& m = In(node, 0);
    const Value* e = Find(node.inputs.at(1));
    if (e == nullptr || e->kind != Value::Kind::kEmbedding || e->shape.size() != 3) {
      Refuse(node, "expected a masked sequence sum: MatMul of a mask [B, 1, L] by a sequence's embeddings [B, L, D]");
    }
    if (!(m.source == e->source)) Refuse(node, "masks " + e->source.Text() + "'s embeddings by " + m.source.Text());
    Segment seg = Sequence(*e, fb::Pooling::Sum);
    seg.pad = ProbeMask(IdFunctionOf(node.inputs[0], m.source), MaskUse::kBatchMatMul, e->shape[2], node.Describe());
    Set(node, RowOf(seg, {kBatch, 1, e->shape[2]}));
  }

  // A mean: a pooled sum divided by the count of its ids (+ epsilon).
  void VisitDiv(const Node& node) {
    const Value* sum = Find(node.inputs.at(0));
    if (sum == nullptr || sum->kind != Value::Kind::kRow) return VisitIdFunction(node);
    const Value* count = Find(node.inputs.at(1));
    if (sum->segments.size() != 1 || sum->segments[0].kind != fb::FeatureKind::Sequence ||
        sum->segments[0].pooling != fb::Pooling::Sum || count == nullptr || count->kind != Value::Kind::kIdFunction ||
        !(count->source == sum->source)) {
      Refuse(node, "expected a mean pooling: a sequence's pooled sum divided by the count of its ids");
    }
    Value mean = *sum;
    Segment& seg = mean.segments[0];
    seg.mean_eps = ProbeCount(IdFunctionOf(node.inputs[1], count->source), seg.pad, sum->shape, node.Describe());
    seg.pooling = fb::Pooling::Mean;
    Set(node, mean);
  }

  Value ToRow(const Node& node, const std::string& name) const {
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

  void VisitConcat(const Node& node) {
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

  std::string NameOf(const Source& source) const {
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
};

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
