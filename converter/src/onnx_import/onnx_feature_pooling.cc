// Pooling, masks and counts of the feature layer, and a BatchNorm of its inputs (onnx_features.h).
#include <cmath>

#include "onnx_import/onnx_features_state.h"

namespace ple {
namespace convert {
namespace onnx_import {

using feature_layer::Segment;
using feature_layer::Source;
using feature_layer::Value;

// Any op on ids and constants: a mask or a count, read later by what it computes.
void FeatureReader::State::VisitIdFunction(const Node& node) {
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

IdFunction FeatureReader::State::IdFunctionOf(const std::string& name, const Source& source) const {
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

// Pooling a sequence's embeddings [B, L, D] over L: masked or not, sum or mean.
void FeatureReader::State::VisitReduce(const Node& node) {
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

void FeatureReader::State::VisitMul(const Node& node) {
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
void FeatureReader::State::VisitBatchNorm(const Node& node) {
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
void FeatureReader::State::VisitWhere(const Node& node) {
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
void FeatureReader::State::VisitMatMul(const Node& node) {
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
void FeatureReader::State::VisitDiv(const Node& node) {
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

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple
