#include "onnx_import/onnx_eval.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "convert_error.h"
#include "onnx_import/onnx_eval_ops.h"

namespace ple {
namespace convert {
namespace onnx_import {
namespace {

using namespace ops;  // NOLINT: the op tables below call most of them

// One node's inputs (null: an omitted optional input) and what the op needs to know.
struct Call {
  const Node& node;
  const std::vector<const Tensor*>& in;
  int64_t opset;
  std::string who;

  // The first `count` inputs must be given.
  void Need(size_t count) const {
    for (size_t i = 0; i < count; ++i) {
      if (i >= in.size() || in[i] == nullptr) throw ConvertError(who + ": needs " + std::to_string(count) + " inputs");
    }
  }
  const Tensor* Optional(size_t i) const { return i < in.size() ? in[i] : nullptr; }
  // Axes given as an attribute before `input_from_opset`, as input `index` from it.
  std::vector<int64_t> Axes(int64_t input_from_opset, size_t index, const char* attribute = "axes") const {
    if (opset < input_from_opset) return node.Ints(attribute);
    return Optional(index) != nullptr ? IntValues(*in[index]) : std::vector<int64_t>{};
  }
};

using OpFunction = std::function<std::vector<Tensor>(const Call&)>;
using OpTable = std::map<std::string, OpFunction>;

OpFunction Unary(std::function<double(double)> f, bool integer_result = false) {
  return [f, integer_result](const Call& c) {
    c.Need(1);
    Tensor out = *c.in[0];
    for (double& v : out.values) v = f(v);
    if (integer_result) out.integer = true;
    return std::vector<Tensor>{out};
  };
}

// f on broadcast pairs; `integer`: the result is integer when both inputs are (Add, Sub, Mul,
// Div), always (comparisons), or never (Pow, PRelu).
enum class IntegerResult { kWhenBoth, kAlways, kNever };
OpFunction Binary(std::function<double(double, double, bool)> f, IntegerResult rule = IntegerResult::kWhenBoth) {
  return [f, rule](const Call& c) {
    c.Need(2);
    const bool both = c.in[0]->integer && c.in[1]->integer;
    const bool integer = rule == IntegerResult::kAlways || (rule == IntegerResult::kWhenBoth && both);
    return std::vector<Tensor>{Elementwise({c.in[0], c.in[1]}, integer, c.who,
                                           [&](const std::vector<double>& a) { return f(a[0], a[1], both); })};
  };
}

void AddElementwiseOps(OpTable& t) {
  t["Relu"] = Unary([](double x) { return x > 0.0 ? x : 0.0; });
  t["Sigmoid"] = Unary(Sigmoid);
  t["Tanh"] = Unary([](double x) { return std::tanh(x); });
  t["Exp"] = Unary([](double x) { return std::exp(x); });
  t["Log"] = Unary([](double x) { return std::log(x); });
  t["Sqrt"] = Unary([](double x) { return std::sqrt(x); });
  t["Neg"] = Unary([](double x) { return -x; });
  t["Abs"] = Unary([](double x) { return std::fabs(x); });
  t["Reciprocal"] = Unary([](double x) { return 1.0 / x; });
  t["Not"] = Unary([](double x) { return x == 0.0 ? 1.0 : 0.0; }, true);
  t["LeakyRelu"] = [](const Call& c) {
    const double alpha = c.node.Float("alpha", 0.01);
    return Unary([alpha](double x) { return x >= 0.0 ? x : alpha * x; })(c);
  };
  t["Add"] = Binary([](double a, double b, bool) { return a + b; });
  t["Sub"] = Binary([](double a, double b, bool) { return a - b; });
  t["Mul"] = Binary([](double a, double b, bool) { return a * b; });
  t["Div"] = Binary([](double a, double b, bool ints) { return ints ? std::trunc(a / b) : a / b; });
  t["Pow"] = Binary([](double a, double b, bool) { return std::pow(a, b); }, IntegerResult::kNever);
  t["PRelu"] = Binary([](double x, double s, bool) { return x >= 0.0 ? x : s * x; }, IntegerResult::kNever);
  t["Equal"] = Binary([](double a, double b, bool) { return a == b ? 1.0 : 0.0; }, IntegerResult::kAlways);
  t["Less"] = Binary([](double a, double b, bool) { return a < b ? 1.0 : 0.0; }, IntegerResult::kAlways);
  t["Greater"] = Binary([](double a, double b, bool) { return a > b ? 1.0 : 0.0; }, IntegerResult::kAlways);
  for (const char* op : {"Max", "Min"}) {
    const bool is_max = std::string(op) == "Max";
    t[op] = [is_max](const Call& c) {
      c.Need(1);
      return std::vector<Tensor>{Elementwise(c.in, c.in[0]->integer, c.who, [is_max](const std::vector<double>& a) {
        double r = a[0];
        for (double v : a) r = is_max ? std::max(r, v) : std::min(r, v);
        return r;
      })};
    };
  }
  t["Where"] = [](const Call& c) {
    c.Need(3);
    return std::vector<Tensor>{Elementwise({c.in[0], c.in[1], c.in[2]}, c.in[1]->integer && c.in[2]->integer, c.who,
                                           [](const std::vector<double>& a) { return a[0] != 0.0 ? a[1] : a[2]; })};
  };
  // Max and Min of any number of inputs; Clip between its optional bounds (attributes before
  // opset 11). torch's clamp(min=1) of a count exports as Clip.
  auto extreme = [](bool max) {
    return [max](const Call& c) {
      c.Need(std::max<size_t>(1, c.in.size()));
      bool integer = true;
      for (const Tensor* t : c.in) integer = integer && t->integer;
      return std::vector<Tensor>{Elementwise(c.in, integer, c.who, [max](const std::vector<double>& a) {
        double r = a[0];
        for (double v : a) r = max ? std::max(r, v) : std::min(r, v);
        return r;
      })};
    };
  };
  t["Max"] = extreme(true);
  t["Min"] = extreme(false);
  t["Clip"] = [](const Call& c) {
    c.Need(1);
    double lo = -INFINITY, hi = INFINITY;
    if (c.opset < 11) {
      lo = c.node.Float("min", lo), hi = c.node.Float("max", hi);
    } else {
      if (c.Optional(1) != nullptr) lo = c.in[1]->values.at(0);
      if (c.Optional(2) != nullptr) hi = c.in[2]->values.at(0);
    }
    Tensor out = *c.in[0];
    for (double& v : out.values) v = std::min(std::max(v, lo), hi);
    return std::vector<Tensor>{out};
  };
  t["Cast"] = [](const Call& c) {
    c.Need(1);
    const int64_t to = c.node.Int("to", 1);
    const bool to_float = to == 1 || to == 10 || to == 11 || to == 16;
    Tensor out = *c.in[0];
    out.integer = !to_float;
    for (double& v : out.values) v = to == 9 ? (v != 0.0 ? 1.0 : 0.0) : to_float ? v : std::trunc(v);
    return std::vector<Tensor>{out};
  };
}

void AddLinearAlgebraOps(OpTable& t) {
  t["Gemm"] = [](const Call& c) { c.Need(2); return std::vector<Tensor>{Gemm(c.node, *c.in[0], *c.in[1], c.Optional(2))}; };
  t["MatMul"] = [](const Call& c) { c.Need(2); return std::vector<Tensor>{MatMul(*c.in[0], *c.in[1], c.who)}; };
  t["Einsum"] = [](const Call& c) { c.Need(1); return std::vector<Tensor>{Einsum(c.node, c.in)}; };
  t["Softmax"] = [](const Call& c) { c.Need(1); return std::vector<Tensor>{Softmax(c.node, *c.in[0], c.opset)}; };
  t["ReduceSum"] = [](const Call& c) { c.Need(1); return std::vector<Tensor>{Reduce(c.node, *c.in[0], c.Axes(13, 1), "sum")}; };
  t["ReduceMean"] = [](const Call& c) { c.Need(1); return std::vector<Tensor>{Reduce(c.node, *c.in[0], c.Axes(18, 1), "mean")}; };
  t["ReduceMax"] = [](const Call& c) { c.Need(1); return std::vector<Tensor>{Reduce(c.node, *c.in[0], c.Axes(18, 1), "max")}; };
  t["BatchNormalization"] = [](const Call& c) {  // inference form: scale, bias, mean, variance per channel
    c.Need(5);
    const double eps = c.node.Float("epsilon", 1e-5);
    Tensor out = *c.in[0];
    const uint64_t channels = out.rank() >= 2 ? static_cast<uint64_t>(out.shape[1]) : 1;
    uint64_t inner = 1;
    for (size_t i = 2; i < out.rank(); ++i) inner *= static_cast<uint64_t>(out.shape[i]);
    for (size_t i = 1; i < 5; ++i) {
      if (c.in[i]->values.size() != channels) {
        throw ConvertError(c.who + ": input " + std::to_string(i) + " does not hold " + std::to_string(channels) + " values");
      }
    }
    for (uint64_t f = 0; f < out.values.size(); ++f) {
      const uint64_t ch = (f / inner) % channels;
      out.values[f] = c.in[1]->values[ch] * (c.in[0]->values[f] - c.in[3]->values[ch]) /
                          std::sqrt(c.in[4]->values[ch] + eps) + c.in[2]->values[ch];
    }
    return std::vector<Tensor>{out};
  };
}

// Reshape's target: 0 copies the input's dimension, -1 is inferred.
Shape ReshapeTarget(const Call& c, Shape shape) {
  int64_t infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && i < c.in[0]->rank()) shape[i] = c.in[0]->shape[i];
    if (shape[i] != -1) continue;
    if (infer >= 0) throw ConvertError(c.who + ": reshapes to " + ShapeText(shape) + ", two dimensions of -1");
    infer = static_cast<int64_t>(i);
  }
  Shape known_dimensions = shape;  // checked, without overflow: a dimension below -1 or beyond the cap throws
  if (infer >= 0) known_dimensions[infer] = 1;
  const uint64_t known = Elements(known_dimensions, c.who);
  if (infer >= 0 && known > 0) shape[infer] = static_cast<int64_t>(c.in[0]->values.size() / known);
  if (Elements(shape, c.who) != c.in[0]->values.size()) {
    throw ConvertError(c.who + ": reshapes " + ShapeText(c.in[0]->shape) + " to " + ShapeText(shape));
  }
  return shape;
}

std::vector<Tensor> UnsqueezeOrSqueeze(const Call& c, bool unsqueeze) {
  c.Need(1);
  std::vector<int64_t> axes = c.Axes(13, 1);
  Tensor out = *c.in[0];
  Shape& s = out.shape;
  if (unsqueeze) {
    const size_t rank = s.size() + axes.size();
    for (int64_t& a : axes) a = Axis(a, rank, c.who);
    std::sort(axes.begin(), axes.end());
    for (int64_t a : axes) s.insert(s.begin() + a, 1);
  } else if (axes.empty()) {
    s.erase(std::remove(s.begin(), s.end(), 1), s.end());
  } else {
    for (int64_t& a : axes) a = Axis(a, s.size(), c.who);
    std::sort(axes.rbegin(), axes.rend());
    for (int64_t a : axes) {
      if (s[a] != 1) throw ConvertError(c.who + ": squeezes axis " + std::to_string(a) + " of extent " + std::to_string(s[a]));
      s.erase(s.begin() + a);
    }
  }
  return {out};
}

void AddShapeOps(OpTable& t) {
  t["Identity"] = [](const Call& c) { c.Need(1); return std::vector<Tensor>{*c.in[0]}; };
  t["Dropout"] = [](const Call& c) {  // inference: the input, and an all-true mask when asked for
    c.Need(1);
    std::vector<Tensor> out{*c.in[0]};
    if (c.node.outputs.size() > 1) out.push_back(Make(c.in[0]->shape, true, c.who));
    if (out.size() > 1) std::fill(out[1].values.begin(), out[1].values.end(), 1.0);
    return out;
  };
  t["Unsqueeze"] = [](const Call& c) { return UnsqueezeOrSqueeze(c, true); };
  t["Squeeze"] = [](const Call& c) { return UnsqueezeOrSqueeze(c, false); };
  t["Reshape"] = [](const Call& c) {
    c.Need(2);
    Tensor out = *c.in[0];
    out.shape = ReshapeTarget(c, IntValues(*c.in[1]));
    return std::vector<Tensor>{out};
  };
  t["Flatten"] = [](const Call& c) {
    c.Need(1);
    const int64_t rank = static_cast<int64_t>(c.in[0]->rank()), axis = c.node.Int("axis", 1);
    const int64_t split = axis < 0 ? axis + rank : axis;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < rank; ++i) (i < split ? outer : inner) *= c.in[0]->shape[i];
    Tensor out = *c.in[0];
    out.shape = {outer, inner};
    return std::vector<Tensor>{out};
  };
  t["Expand"] = [](const Call& c) {
    c.Need(2);
    const Tensor target = Make(IntValues(*c.in[1]), true, c.who);
    return std::vector<Tensor>{Elementwise({c.in[0], &target}, c.in[0]->integer, c.who,
                                           [](const std::vector<double>& a) { return a[0]; })};
  };
  t["Transpose"] = [](const Call& c) { c.Need(1); return std::vector<Tensor>{Transpose(c.node, *c.in[0])}; };
  t["Concat"] = [](const Call& c) { c.Need(1); return std::vector<Tensor>{Concat(c.node, c.in)}; };
  t["Gather"] = [](const Call& c) { c.Need(2); return std::vector<Tensor>{Gather(c.node, *c.in[0], *c.in[1])}; };
  t["Slice"] = [](const Call& c) { c.Need(3); return std::vector<Tensor>{Slice(c.node, *c.in[0], c.in)}; };
  t["Shape"] = [](const Call& c) {
    c.Need(1);
    const int64_t rank = static_cast<int64_t>(c.in[0]->rank());
    int64_t start = c.node.Int("start", 0), end = c.node.Int("end", rank);
    start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
    end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
    Tensor out = Make({std::max<int64_t>(end - start, 0)}, true, c.who);
    for (int64_t i = start; i < end; ++i) out.values[i - start] = static_cast<double>(c.in[0]->shape[i]);
    return std::vector<Tensor>{out};
  };
  t["Split"] = [](const Call& c) {
    c.Need(1);
    const int64_t axis = Axis(c.node.Int("axis", 0), c.in[0]->rank(), c.who);
    std::vector<int64_t> sizes = c.Axes(13, 1, "split");
    const int64_t extent = c.in[0]->shape[axis], parts = static_cast<int64_t>(c.node.outputs.size());
    if (sizes.empty()) {
      sizes.assign(parts, (extent + parts - 1) / parts);
      sizes.back() = extent - (parts - 1) * sizes[0];
    }
    std::vector<Tensor> out;
    int64_t begin = 0;
    for (int64_t size : sizes) {
      const Tensor starts{{1}, {static_cast<double>(begin)}, true}, ends{{1}, {static_cast<double>(begin + size)}, true};
      const Tensor axes{{1}, {static_cast<double>(axis)}, true};
      out.push_back(Slice(c.node, *c.in[0], {c.in[0], &starts, &ends, &axes}));
      begin += size;
    }
    return out;
  };
}

Tensor ConstantValue(const Call& c) {
  const Node& n = c.node;
  const auto value = n.attributes.find("value");
  if (value != n.attributes.end()) {
    if (value->second.kind != Attribute::Kind::kTensor) throw ConvertError(c.who + ": its value is not a tensor");
    return value->second.t;
  }
  if (n.Has("value_float")) return Tensor{{}, {n.Float("value_float", 0.0)}, false};
  if (n.Has("value_int")) return Tensor{{}, {static_cast<double>(n.Int("value_int", 0))}, true};
  if (n.Has("value_ints")) {
    const auto values = n.Ints("value_ints");
    return Tensor{{static_cast<int64_t>(values.size())}, {values.begin(), values.end()}, true};
  }
  if (n.Has("value_floats")) {
    const auto& values = n.attributes.at("value_floats").floats;
    return Tensor{{static_cast<int64_t>(values.size())}, values, false};
  }
  throw ConvertError(c.who + ": a Constant without a value this reader knows");
}

void AddConstantOps(OpTable& t) {
  t["Constant"] = [](const Call& c) { return std::vector<Tensor>{ConstantValue(c)}; };
  t["ConstantOfShape"] = [](const Call& c) {
    c.Need(1);
    const auto value = c.node.attributes.find("value");
    const bool given = value != c.node.attributes.end() && !value->second.t.values.empty();
    Tensor out = Make(IntValues(*c.in[0]), given && value->second.t.integer, c.who);
    std::fill(out.values.begin(), out.values.end(), given ? value->second.t.values[0] : 0.0);
    return std::vector<Tensor>{out};
  };
  t["Range"] = [](const Call& c) {
    c.Need(3);
    const double start = c.in[0]->values.at(0), limit = c.in[1]->values.at(0), delta = c.in[2]->values.at(0);
    if (delta == 0.0) throw ConvertError(c.who + ": delta 0");
    const int64_t count = std::max<int64_t>(static_cast<int64_t>(std::ceil((limit - start) / delta)), 0);
    Tensor out = Make({count}, c.in[0]->integer, c.who);
    for (int64_t i = 0; i < count; ++i) out.values[i] = start + static_cast<double>(i) * delta;
    return std::vector<Tensor>{out};
  };
}

const OpTable& Ops() {
  static const OpTable table = [] {
    OpTable t;
    AddElementwiseOps(t);
    AddLinearAlgebraOps(t);
    AddShapeOps(t);
    AddConstantOps(t);
    return t;
  }();
  return table;
}

std::string OpList() {
  std::string list;
  for (const auto& op : EvaluatedOps()) list += (list.empty() ? "" : ", ") + op;
  return list;
}

}  // namespace

const std::vector<std::string>& EvaluatedOps() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& entry : Ops()) v.push_back(entry.first);
    return v;
  }();
  return names;
}

std::map<std::string, Tensor> Evaluate(const Graph& graph, const std::map<std::string, Tensor>& inputs) {
  std::map<std::string, Tensor> values = graph.initializers;
  for (const ValueInfo& input : graph.inputs) {
    const auto it = inputs.find(input.name);
    if (it == inputs.end()) throw ConvertError("graph input '" + input.name + "' was not given");
    values[input.name] = it->second;
  }
  for (const Node& node : graph.nodes) {
    const std::string who = node.Describe();
    std::vector<const Tensor*> in;
    for (const std::string& name : node.inputs) {
      const auto it = name.empty() ? values.end() : values.find(name);
      if (!name.empty() && it == values.end()) throw ConvertError(who + ": input '" + name + "' is computed by no earlier node");
      in.push_back(name.empty() ? nullptr : &it->second);
    }
    const auto op = Ops().find(node.op);
    if (op == Ops().end()) throw ConvertError(who + ": op " + node.op + " is not evaluated (the self-check runs: " + OpList() + ")");
    std::vector<Tensor> out = op->second(Call{node, in, graph.opset, who});
    if (out.size() < node.outputs.size()) {
      throw ConvertError(who + ": gives " + std::to_string(out.size()) + " outputs, the graph names " +
                         std::to_string(node.outputs.size()));
    }
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (out[i].values.size() != Elements(out[i].shape, who)) {  // a malformed value attribute, or a bug here
        throw ConvertError(who + ": gives " + std::to_string(out[i].values.size()) + " values for shape " +
                           ShapeText(out[i].shape));
      }
      if (!node.outputs[i].empty()) values[node.outputs[i]] = std::move(out[i]);
    }
  }
  std::map<std::string, Tensor> result;
  for (const ValueInfo& output : graph.outputs) {
    const auto it = values.find(output.name);
    if (it == values.end()) throw ConvertError("graph output '" + output.name + "' is computed by no node");
    result[output.name] = it->second;
  }
  return result;
}

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple
