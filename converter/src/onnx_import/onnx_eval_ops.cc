// The tensor operations of the float64 evaluator (onnx_eval_ops.h).
#include "onnx_import/onnx_eval_ops.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "convert_error.h"

namespace ple {
namespace convert {
namespace onnx_import {
namespace ops {

uint64_t Elements(const Shape& shape, const std::string& who) {
  uint64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && count > kMaxEvaluatedElements / static_cast<uint64_t>(d))) {
      throw ConvertError(who + ": a tensor of shape " + ShapeText(shape) + " is not computed (the evaluator's cap is " +
                         std::to_string(kMaxEvaluatedElements) + " elements a tensor)");
    }
    count *= static_cast<uint64_t>(d);
  }
  return count;
}

std::vector<uint64_t> Strides(const Shape& shape) {
  std::vector<uint64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * static_cast<uint64_t>(shape[i]);
  return strides;
}

std::string ShapeText(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

Tensor Make(Shape shape, bool integer, const std::string& who) {
  Tensor t;
  t.values.assign(Elements(shape, who), 0.0);
  t.shape = std::move(shape);
  t.integer = integer;
  return t;
}

int64_t Axis(int64_t axis, size_t rank, const std::string& who) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) throw ConvertError(who + ": axis " + std::to_string(axis) + " outside a rank-" + std::to_string(rank) + " tensor");
  return axis < 0 ? axis + r : axis;
}

Shape BroadcastShape(const Shape& a, const Shape& b, const std::string& who) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw ConvertError(who + ": shapes " + ShapeText(a) + " and " + ShapeText(b) + " do not broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// The flat index into `t` of output position `flat` of a broadcast result of shape `out`.
uint64_t BroadcastIndex(const Tensor& t, const Shape& out, const std::vector<uint64_t>& out_strides, uint64_t flat) {
  uint64_t index = 0, stride = 1;
  const size_t offset = out.size() - t.shape.size();
  for (size_t i = out.size(); i-- > offset;) {
    const uint64_t coordinate = (flat / out_strides[i]) % static_cast<uint64_t>(out[i]);
    const int64_t d = t.shape[i - offset];
    if (d != 1) index += coordinate * stride;
    stride *= static_cast<uint64_t>(d);
  }
  return index;
}

Tensor Elementwise(const std::vector<const Tensor*>& in, bool integer, const std::string& who,
                   const std::function<double(const std::vector<double>&)>& f) {
  Shape shape = in[0]->shape;
  for (size_t i = 1; i < in.size(); ++i) shape = BroadcastShape(shape, in[i]->shape, who);
  Tensor out = Make(shape, integer, who);
  const auto strides = Strides(shape);
  std::vector<double> args(in.size());
  for (uint64_t flat = 0; flat < out.values.size(); ++flat) {
    for (size_t i = 0; i < in.size(); ++i) args[i] = in[i]->values[BroadcastIndex(*in[i], shape, strides, flat)];
    out.values[flat] = f(args);
  }
  return out;
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// numpy.matmul of float tensors: 1-d operands promoted, batch dimensions broadcast.
Tensor MatMul(const Tensor& a0, const Tensor& b0, const std::string& who) {
  Tensor a = a0, b = b0;
  const bool a_vector = a.rank() == 1, b_vector = b.rank() == 1;
  if (a_vector) a.shape.insert(a.shape.begin(), 1);
  if (b_vector) b.shape.push_back(1);
  if (a.rank() < 2 || b.rank() < 2) throw ConvertError(who + ": MatMul of a scalar");
  const int64_t m = a.shape[a.rank() - 2], k = a.shape.back(), k2 = b.shape[b.rank() - 2], n = b.shape.back();
  if (k != k2) throw ConvertError(who + ": MatMul of " + ShapeText(a0.shape) + " by " + ShapeText(b0.shape));
  const Shape a_batch(a.shape.begin(), a.shape.end() - 2), b_batch(b.shape.begin(), b.shape.end() - 2);
  Shape batch = BroadcastShape(a_batch, b_batch, who), shape = batch;
  shape.push_back(m);
  shape.push_back(n);
  Tensor out = Make(shape, false, who);
  const uint64_t batches = Elements(batch, who);
  const auto batch_strides = Strides(batch);
  Tensor a_index, b_index;  // shapes only, for BroadcastIndex over the batch dimensions
  a_index.shape = a_batch;
  b_index.shape = b_batch;
  for (uint64_t p = 0; p < batches; ++p) {
    const uint64_t pa = batch.empty() ? 0 : BroadcastIndex(a_index, batch, batch_strides, p);
    const uint64_t pb = batch.empty() ? 0 : BroadcastIndex(b_index, batch, batch_strides, p);
    const double* A = a.values.data() + pa * m * k;
    const double* B = b.values.data() + pb * k * n;
    double* C = out.values.data() + p * m * n;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0.0;
        for (int64_t q = 0; q < k; ++q) sum += A[i * k + q] * B[q * n + j];
        C[i * n + j] = sum;
      }
    }
  }
  if (a_vector) out.shape.erase(out.shape.end() - 2);
  if (b_vector) out.shape.pop_back();
  return out;
}

Tensor Gemm(const Node& node, const Tensor& a, const Tensor& b, const Tensor* c) {
  const std::string who = node.Describe();
  if (a.rank() != 2 || b.rank() != 2) throw ConvertError(who + ": Gemm needs 2-d A and B");
  const bool ta = node.Int("transA", 0) != 0, tb = node.Int("transB", 0) != 0;
  const double alpha = node.Float("alpha", 1.0), beta = node.Float("beta", 1.0);
  const int64_t m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1];
  const int64_t k2 = tb ? b.shape[1] : b.shape[0], n = tb ? b.shape[0] : b.shape[1];
  if (k != k2) throw ConvertError(who + ": Gemm of " + ShapeText(a.shape) + " by " + ShapeText(b.shape));
  Tensor out = Make({m, n}, false, who);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int64_t q = 0; q < k; ++q) sum += (ta ? a.values[q * m + i] : a.values[i * k + q]) * (tb ? b.values[j * k + q] : b.values[q * n + j]);
      out.values[i * n + j] = alpha * sum;
    }
  }
  if (c != nullptr) {
    if (BroadcastShape(out.shape, c->shape, who) != out.shape) throw ConvertError(who + ": C of shape " + ShapeText(c->shape) + " does not broadcast to the output");
    const auto strides = Strides(out.shape);
    for (uint64_t f = 0; f < out.values.size(); ++f) out.values[f] += beta * c->values[BroadcastIndex(*c, out.shape, strides, f)];
  }
  return out;
}

// Softmax along `axis`; before opset 13 the input is seen as 2-d [prod(dims < axis), rest].
Tensor Softmax(const Node& node, const Tensor& x, int64_t opset) {
  const std::string who = node.Describe();
  const int64_t axis = Axis(node.Int("axis", opset < 13 ? 1 : -1), x.rank(), who);
  Tensor out = x;
  uint64_t outer = 1, length = 1, inner = 1;
  for (size_t i = 0; i < x.rank(); ++i) {
    const uint64_t d = static_cast<uint64_t>(x.shape[i]);
    if (static_cast<int64_t>(i) < axis) outer *= d;
    else if (opset < 13 || static_cast<int64_t>(i) == axis) length *= d;
    else inner *= d;
  }
  for (uint64_t o = 0; o < outer; ++o) {
    for (uint64_t in = 0; in < inner; ++in) {
      double peak = -INFINITY, sum = 0.0;
      for (uint64_t l = 0; l < length; ++l) peak = std::max(peak, x.values[(o * length + l) * inner + in]);
      for (uint64_t l = 0; l < length; ++l) sum += std::exp(x.values[(o * length + l) * inner + in] - peak);
      for (uint64_t l = 0; l < length; ++l) {
        double& v = out.values[(o * length + l) * inner + in];
        v = std::exp(x.values[(o * length + l) * inner + in] - peak) / sum;
      }
    }
  }
  return out;
}

// ReduceSum / ReduceMean / ReduceMax over `axes` (all when empty, unless noop_with_empty_axes).
Tensor Reduce(const Node& node, const Tensor& x, std::vector<int64_t> axes, const std::string& kind) {
  const std::string who = node.Describe();
  const bool keep = node.Int("keepdims", 1) != 0;
  if (axes.empty()) {
    if (node.Int("noop_with_empty_axes", 0) != 0) return x;
    for (size_t i = 0; i < x.rank(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  std::vector<bool> reduced(x.rank(), false);
  for (int64_t a : axes) reduced[static_cast<size_t>(Axis(a, x.rank(), who))] = true;
  Shape kept;
  for (size_t i = 0; i < x.rank(); ++i) kept.push_back(reduced[i] ? 1 : x.shape[i]);
  Tensor out = Make(kept, x.integer, who);
  std::vector<uint64_t> counts(out.values.size(), 0);
  if (kind == "max") std::fill(out.values.begin(), out.values.end(), -INFINITY);
  const auto strides = Strides(x.shape), out_strides = Strides(kept);
  for (uint64_t f = 0; f < x.values.size(); ++f) {
    uint64_t o = 0;
    for (size_t i = 0; i < x.rank(); ++i) {
      if (!reduced[i]) o += ((f / strides[i]) % static_cast<uint64_t>(x.shape[i])) * out_strides[i];
    }
    out.values[o] = kind == "max" ? std::max(out.values[o], x.values[f]) : out.values[o] + x.values[f];
    ++counts[o];
  }
  if (kind == "mean") {
    for (size_t o = 0; o < out.values.size(); ++o) out.values[o] /= static_cast<double>(std::max<uint64_t>(counts[o], 1));
  }
  if (!keep) {
    Shape squeezed;
    for (size_t i = 0; i < x.rank(); ++i) {
      if (!reduced[i]) squeezed.push_back(x.shape[i]);
    }
    out.shape = squeezed;
  }
  return out;
}

std::vector<int64_t> IntValues(const Tensor& t) {
  std::vector<int64_t> v;
  for (double d : t.values) v.push_back(static_cast<int64_t>(d));
  return v;
}

Tensor Transpose(const Node& node, const Tensor& x) {
  std::vector<int64_t> perm = node.Ints("perm");
  if (perm.empty()) {
    for (size_t i = x.rank(); i-- > 0;) perm.push_back(static_cast<int64_t>(i));
  }
  if (perm.size() != x.rank()) throw ConvertError(node.Describe() + ": perm does not match the rank");
  Shape shape;
  for (int64_t p : perm) shape.push_back(x.shape[static_cast<size_t>(Axis(p, x.rank(), node.Describe()))]);
  Tensor out = Make(shape, x.integer, node.Describe());
  const auto in_strides = Strides(x.shape), out_strides = Strides(shape);
  for (uint64_t f = 0; f < out.values.size(); ++f) {
    uint64_t src = 0;
    for (size_t i = 0; i < shape.size(); ++i) src += ((f / out_strides[i]) % static_cast<uint64_t>(shape[i])) * in_strides[static_cast<size_t>(perm[i])];
    out.values[f] = x.values[src];
  }
  return out;
}

Tensor Concat(const Node& node, const std::vector<const Tensor*>& in) {
  const std::string who = node.Describe();
  const size_t rank = in[0]->rank();
  const int64_t axis = Axis(node.Int("axis", 0), rank, who);
  Shape shape = in[0]->shape;
  shape[axis] = 0;
  for (const Tensor* t : in) {
    if (t->rank() != rank) throw ConvertError(who + ": inputs of different ranks");
    for (size_t i = 0; i < rank; ++i) {
      if (static_cast<int64_t>(i) != axis && t->shape[i] != in[0]->shape[i]) throw ConvertError(who + ": inputs " + ShapeText(in[0]->shape) + " and " + ShapeText(t->shape) + " differ off the axis");
    }
    shape[axis] += t->shape[axis];
  }
  Tensor out = Make(shape, in[0]->integer, who);
  uint64_t outer = 1, inner = 1;
  for (size_t i = 0; i < rank; ++i) {
    if (static_cast<int64_t>(i) < axis) outer *= static_cast<uint64_t>(shape[i]);
    if (static_cast<int64_t>(i) > axis) inner *= static_cast<uint64_t>(shape[i]);
  }
  uint64_t at = 0;
  for (uint64_t o = 0; o < outer; ++o) {
    for (const Tensor* t : in) {
      const uint64_t chunk = static_cast<uint64_t>(t->shape[axis]) * inner;
      std::copy(t->values.begin() + o * chunk, t->values.begin() + (o + 1) * chunk, out.values.begin() + at);
      at += chunk;
    }
  }
  return out;
}

Tensor Gather(const Node& node, const Tensor& data, const Tensor& indices) {
  const std::string who = node.Describe();
  const int64_t axis = Axis(node.Int("axis", 0), data.rank(), who);
  Shape shape(data.shape.begin(), data.shape.begin() + axis);
  shape.insert(shape.end(), indices.shape.begin(), indices.shape.end());
  shape.insert(shape.end(), data.shape.begin() + axis + 1, data.shape.end());
  Tensor out = Make(shape, data.integer, who);
  uint64_t outer = 1, inner = 1;
  for (size_t i = 0; i < data.rank(); ++i) {
    if (static_cast<int64_t>(i) < axis) outer *= static_cast<uint64_t>(data.shape[i]);
    if (static_cast<int64_t>(i) > axis) inner *= static_cast<uint64_t>(data.shape[i]);
  }
  const int64_t extent = data.shape[axis];
  uint64_t at = 0;
  for (uint64_t o = 0; o < outer; ++o) {
    for (double raw : indices.values) {
      int64_t index = static_cast<int64_t>(raw);
      if (index < 0) index += extent;
      if (index < 0 || index >= extent) throw ConvertError(who + ": index " + std::to_string(static_cast<int64_t>(raw)) + " outside [0, " + std::to_string(extent) + ")");
      const auto from = data.values.begin() + (o * extent + index) * inner;
      std::copy(from, from + inner, out.values.begin() + at);
      at += inner;
    }
  }
  return out;
}

Tensor Slice(const Node& node, const Tensor& x, const std::vector<const Tensor*>& in) {
  const std::string who = node.Describe();
  const std::vector<int64_t> starts = IntValues(*in[1]), ends = IntValues(*in[2]);
  std::vector<int64_t> axes = in.size() > 3 && in[3] ? IntValues(*in[3]) : std::vector<int64_t>{};
  std::vector<int64_t> steps = in.size() > 4 && in[4] ? IntValues(*in[4]) : std::vector<int64_t>{};
  if (axes.empty()) for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  std::vector<int64_t> begin(x.rank(), 0), step(x.rank(), 1);
  Shape shape = x.shape;
  for (size_t j = 0; j < axes.size(); ++j) {
    const size_t a = static_cast<size_t>(Axis(axes[j], x.rank(), who));
    const int64_t d = x.shape[a];
    if (steps[j] == 0) throw ConvertError(who + ": step 0");
    int64_t s = starts[j] < 0 ? starts[j] + d : starts[j], e = ends[j] < 0 ? ends[j] + d : ends[j];
    if (steps[j] > 0) {
      s = std::clamp<int64_t>(s, 0, d), e = std::clamp<int64_t>(e, 0, d);
      shape[a] = e > s ? (e - s + steps[j] - 1) / steps[j] : 0;
    } else {
      s = std::clamp<int64_t>(s, -1, d - 1), e = std::clamp<int64_t>(e, -1, d - 1);
      shape[a] = s > e ? (s - e - steps[j] - 1) / -steps[j] : 0;
    }
    begin[a] = s;
    step[a] = steps[j];
  }
  Tensor out = Make(shape, x.integer, who);
  const auto in_strides = Strides(x.shape), out_strides = Strides(shape);
  for (uint64_t f = 0; f < out.values.size(); ++f) {
    uint64_t src = 0;
    for (size_t i = 0; i < shape.size(); ++i) {
      const int64_t c = static_cast<int64_t>((f / out_strides[i]) % static_cast<uint64_t>(shape[i]));
      src += static_cast<uint64_t>(begin[i] + c * step[i]) * in_strides[i];
    }
    out.values[f] = x.values[src];
  }
  return out;
}

// Einsum by enumerating every assignment of the equation's letters (small tensors only).
Tensor Einsum(const Node& node, const std::vector<const Tensor*>& in) {
  const std::string who = node.Describe();
  const auto it = node.attributes.find("equation");
  std::string equation = it == node.attributes.end() ? "" : it->second.s;
  equation.erase(std::remove(equation.begin(), equation.end(), ' '), equation.end());
  const size_t arrow = equation.find("->");
  if (arrow == std::string::npos || equation.find("...") != std::string::npos) {
    throw ConvertError(who + ": equation '" + equation + "' needs an explicit '->' and no '...'");
  }
  std::vector<std::string> terms;
  for (size_t start = 0;;) {
    const size_t comma = equation.find(',', start);
    terms.push_back(equation.substr(start, (comma == std::string::npos || comma > arrow ? arrow : comma) - start));
    if (comma == std::string::npos || comma > arrow) break;
    start = comma + 1;
  }
  const std::string result = equation.substr(arrow + 2);
  if (terms.size() != in.size()) throw ConvertError(who + ": " + std::to_string(terms.size()) + " terms for " + std::to_string(in.size()) + " inputs");
  std::map<char, int64_t> extent;
  for (size_t t = 0; t < terms.size(); ++t) {
    if (terms[t].size() != in[t]->rank()) throw ConvertError(who + ": term '" + terms[t] + "' does not match " + ShapeText(in[t]->shape));
    for (size_t i = 0; i < terms[t].size(); ++i) {
      const auto [e, fresh] = extent.emplace(terms[t][i], in[t]->shape[i]);
      if (!fresh && e->second != in[t]->shape[i]) throw ConvertError(who + ": letter '" + std::string(1, terms[t][i]) + "' has two extents");
    }
  }
  std::vector<char> letters;
  Shape dims, shape;
  for (const auto& [letter, d] : extent) letters.push_back(letter), dims.push_back(d);
  for (char c : result) {
    if (!extent.count(c)) throw ConvertError(who + ": output letter '" + std::string(1, c) + "' is in no input");
    shape.push_back(extent[c]);
  }
  Tensor out = Make(shape, false, who);
  const uint64_t total = Elements(dims, who);
  const auto out_strides = Strides(shape);
  std::vector<int64_t> value(letters.size());
  for (uint64_t f = 0; f < total; ++f) {
    uint64_t rest = f;
    for (size_t i = letters.size(); i-- > 0;) value[i] = static_cast<int64_t>(rest % static_cast<uint64_t>(dims[i])), rest /= static_cast<uint64_t>(dims[i]);
    auto coordinate = [&](char c) { return value[static_cast<size_t>(std::find(letters.begin(), letters.end(), c) - letters.begin())]; };
    double product = 1.0;
    for (size_t t = 0; t < terms.size(); ++t) {
      const auto strides = Strides(in[t]->shape);
      uint64_t index = 0;
      for (size_t i = 0; i < terms[t].size(); ++i) index += static_cast<uint64_t>(coordinate(terms[t][i])) * strides[i];
      product *= in[t]->values[index];
    }
    uint64_t o = 0;
    for (size_t i = 0; i < result.size(); ++i) o += static_cast<uint64_t>(coordinate(result[i])) * out_strides[i];
    out.values[o] += product;
  }
  return out;
}

}  // namespace ops
}  // namespace onnx_import
}  // namespace convert
}  // namespace ple
