#include "onnx_import/onnx_recognize.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "convert_error.h"
#include "onnx_import/onnx_eval.h"
#include "onnx_import/onnx_levels.h"

namespace ple {
namespace convert {
namespace onnx_import {
namespace {

// What the recognizer knows of one ONNX value.
struct Abstract {
  enum class Kind {
    kConstant,      // folded: `constant`
    kRow,           // `row`, [B, D]
    kGate,          // softmax weights of gate `gate`, [B, E]
    kGateColumn,    // the same unsqueezed to [B, E, 1]
    kGateRow,       // ... to [B, 1, E]
    kRowColumn,     // `row` unsqueezed to [B, 1, D]
    kStack,         // `members` stacked to [B, E, D]
    kWeighted,      // kGateColumn * kStack, [B, E, D]
    kMixedKeep,     // a gate's output before its axis 1 is squeezed, [B, 1, D]
    kTaskSigmoid,   // sigmoid of a one-output `row`: a binary task's output
    kTaskOutputs,   // task outputs concatenated: `members` with `binary`
  };
  Kind kind = Kind::kConstant;
  Tensor constant;
  Row row;
  size_t gate = 0;
  std::vector<Row> members;
  std::vector<bool> binary;  // kTaskOutputs
};

class Recognizer {
 public:
  Recognizer(const Graph& graph, const RecognizeOptions& options)
      : graph_(graph),
        options_(options),
        features_(
            graph, options.features,
            [this](const std::string& name) {
              const Abstract* a = Find(name);
              return a != nullptr && a->kind == Abstract::Kind::kConstant ? &a->constant : nullptr;
            },
            [this](const std::string& name, Tensor t) { values_[name] = Constant(std::move(t)); }) {}

  RecognizedModel Run() {
    gates_.push_back(GateInfo{});  // anchor 0: the feature row, at level -1
    gates_[0].level = -1;
    for (const auto& [name, tensor] : graph_.initializers) values_[name] = Constant(tensor);
    for (const Node& node : graph_.nodes) {
      if (AllConstant(node)) {
        Fold(node);
      } else if (!features_.Visit(node)) {
        Visit(node);
      }
    }
    return Build();
  }

 private:
  [[noreturn]] void Refuse(const Node& node, const std::string& what) const { throw ConvertError(node.Describe() + ": " + what); }

  static Abstract Constant(Tensor t) {
    Abstract a;
    a.constant = std::move(t);
    return a;
  }

  const Abstract* Find(const std::string& name) const {
    const auto it = values_.find(name);
    return it == values_.end() ? nullptr : &it->second;
  }

  // A node's input; the feature row (onnx_features.h) becomes anchor 0 when a node reads it.
  const Abstract& In(const Node& node, size_t i) {
    if (i >= node.inputs.size() || node.inputs[i].empty()) Refuse(node, "input " + std::to_string(i) + " is missing");
    const Abstract* a = Find(node.inputs[i]);
    if (a == nullptr && features_.Knows(node.inputs[i])) {
      input_width_ = features_.AdoptRow(node.inputs[i], node);
      Abstract row;
      row.kind = Abstract::Kind::kRow;
      row.row.origin = node.inputs[i];
      values_[node.inputs[i]] = row;
      a = Find(node.inputs[i]);
    }
    if (a == nullptr) Refuse(node, "input '" + node.inputs[i] + "' is computed by no earlier node");
    return *a;
  }

  bool AllConstant(const Node& node) const {
    for (const std::string& name : node.inputs) {
      const Abstract* a = name.empty() ? nullptr : Find(name);
      if (!name.empty() && (a == nullptr || a->kind != Abstract::Kind::kConstant)) return false;
    }
    return true;
  }

  void Fold(const Node& node) {
    Graph one;
    one.opset = graph_.opset;
    one.nodes = {node};
    for (const std::string& name : node.inputs) {
      if (!name.empty()) one.initializers[name] = Find(name)->constant;
    }
    for (const std::string& name : node.outputs) one.outputs.push_back(ValueInfo{name, 0, {}, {}});
    for (auto& [name, tensor] : Evaluate(one, {})) values_[name] = Constant(tensor);
  }

  void Set(const Node& node, Abstract a) {
    if (a.kind == Abstract::Kind::kRow) a.row.origin = node.outputs.at(0);
    values_[node.outputs.at(0)] = std::move(a);
  }

  static Abstract RowValue(Row row) {
    Abstract a;
    a.kind = Abstract::Kind::kRow;
    a.row = std::move(row);
    return a;
  }

  uint32_t Width(const Row& row) const { return row.layers.empty() ? AnchorWidth(row.anchor) : row.layers.back().out; }
  uint32_t AnchorWidth(size_t anchor) const {
    return anchor == 0 ? input_width_ : gates_[anchor].members.front().layers.back().out;
  }

  // Linear: y = x W^T + b with W [out, in] (`transposed`: W given as [in, out]).
  Row Linear(const Node& node, const Row& x, const Tensor& w, bool transposed, double scale) const {
    if (w.rank() != 2) Refuse(node, "the weight is not a 2-d constant");
    const uint32_t in = static_cast<uint32_t>(transposed ? w.shape[0] : w.shape[1]);
    const uint32_t out = static_cast<uint32_t>(transposed ? w.shape[1] : w.shape[0]);
    if (in != Width(x)) Refuse(node, "a Linear of " + std::to_string(in) + " inputs on a value of width " + std::to_string(Width(x)));
    IrDense dense;
    dense.in = in;
    dense.out = out;
    dense.weight.resize(size_t{out} * in);
    for (uint32_t o = 0; o < out; ++o) {
      for (uint32_t i = 0; i < in; ++i) {
        const double v = transposed ? w.values[size_t{i} * out + o] : w.values[size_t{o} * in + i];
        dense.weight[size_t{o} * in + i] = static_cast<float>(scale * v);
      }
    }
    if (x.anchor == 0 && x.layers.empty() && !features_.RowScale().empty()) {  // a BatchNorm on the inputs
      const std::vector<double>& scale = features_.RowScale();
      const std::vector<double>& shift = features_.RowShift();
      dense.bias.assign(out, 0.0f);
      for (uint32_t o = 0; o < out; ++o) {
        double bias = 0.0;
        for (uint32_t i = 0; i < in; ++i) {
          float& w = dense.weight[size_t{o} * in + i];
          bias += static_cast<double>(w) * shift[i];
          w = static_cast<float>(static_cast<double>(w) * scale[i]);
        }
        dense.bias[o] = static_cast<float>(bias);
      }
    }
    Row y = x;
    y.layers.push_back(std::move(dense));
    y.bias_pending = false;
    return y;
  }

  // A Linear's bias, added to what it holds (a BatchNorm on the inputs may have put some there).
  static void AddBias(IrDense* layer, const std::vector<float>& bias) {
    if (layer->bias.empty()) layer->bias.assign(bias.size(), 0.0f);
    for (size_t o = 0; o < bias.size(); ++o) layer->bias[o] += bias[o];
  }

  std::vector<float> Bias(const Node& node, const Tensor& b, uint32_t out, double scale) const {
    if (b.values.size() != out && b.values.size() != 1) {
      Refuse(node, "a bias of " + std::to_string(b.values.size()) + " values for " + std::to_string(out) + " outputs");
    }
    std::vector<float> bias(out);
    for (uint32_t o = 0; o < out; ++o) bias[o] = static_cast<float>(scale * b.values[b.values.size() == 1 ? 0 : o]);
    return bias;
  }

  void VisitGemm(const Node& node) {
    const Abstract& a = In(node, 0);
    const Abstract& w = In(node, 1);
    if (a.kind != Abstract::Kind::kRow || w.kind != Abstract::Kind::kConstant || node.Int("transA", 0) != 0) {
      Refuse(node, "expected a Linear: Gemm of a model value by a constant weight (transA 0)");
    }
    bool trans_b = node.Int("transB", 0) != 0;
    if (options_.fault == InterpretationFault::kIgnoreTransB) trans_b = false;
    Row y = Linear(node, a.row, w.constant, !trans_b, node.Float("alpha", 1.0));
    if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
      const Abstract& c = In(node, 2);
      if (c.kind != Abstract::Kind::kConstant) Refuse(node, "the bias C is not a constant");
      AddBias(&y.layers.back(), Bias(node, c.constant, y.layers.back().out, node.Float("beta", 1.0)));
    }
    Set(node, RowValue(std::move(y)));
  }

  void VisitMatMul(const Node& node) {
    const Abstract& a = In(node, 0);
    const Abstract& b = In(node, 1);
    if (a.kind == Abstract::Kind::kRow && b.kind == Abstract::Kind::kConstant) {
      Row y = Linear(node, a.row, b.constant, true, 1.0);
      y.bias_pending = true;
      Set(node, RowValue(std::move(y)));
    } else if (a.kind == Abstract::Kind::kGateRow && b.kind == Abstract::Kind::kStack) {
      Set(node, Mixed(node, a.gate, b.members, Abstract::Kind::kMixedKeep));
    } else {
      Refuse(node, "expected a Linear (a model value times a constant [in, out] weight) or a gate's weighted sum "
                   "(softmax weights [B, 1, E] times stacked experts [B, E, D])");
    }
  }

  void VisitAdd(const Node& node) {
    const Abstract& a = In(node, 0);
    const Abstract& b = In(node, 1);
    const Abstract& row = a.kind == Abstract::Kind::kRow ? a : b;
    const Abstract& bias = a.kind == Abstract::Kind::kRow ? b : a;
    if (row.kind != Abstract::Kind::kRow || bias.kind != Abstract::Kind::kConstant || !row.row.bias_pending) {
      Refuse(node, "expected the bias of a MatMul Linear (MatMul, then Add of a constant)");
    }
    Row y = row.row;
    AddBias(&y.layers.back(), Bias(node, bias.constant, y.layers.back().out, 1.0));
    y.bias_pending = false;
    Set(node, RowValue(std::move(y)));
  }

  // An activation ends the row's last Linear.
  void VisitActivation(const Node& node, fb::Activation activation) {
    const Abstract& a = In(node, 0);
    if (a.kind != Abstract::Kind::kRow || a.row.layers.empty() ||
        a.row.layers.back().activation != fb::Activation::Identity) {
      Refuse(node, "expected an activation after a Linear");
    }
    Row y = a.row;
    IrDense& last = y.layers.back();
    if (activation == fb::Activation::Sigmoid && last.out == 1) {  // a binary task's output
      Abstract task;
      task.kind = Abstract::Kind::kTaskSigmoid;
      task.row = y;
      values_[node.outputs.at(0)] = task;
      return;
    }
    last.activation = activation;
    if (activation == fb::Activation::LeakyRelu) last.negative_slope = static_cast<float>(node.Float("alpha", 0.01));
    if (activation == fb::Activation::PRelu) {
      const Abstract& slope = In(node, 1);
      if (slope.kind != Abstract::Kind::kConstant) Refuse(node, "the PRelu slope is not a constant");
      if (slope.constant.values.size() != 1 && slope.constant.values.size() != last.out) Refuse(node, "a PRelu slope per output, or one");
      last.prelu_slope.assign(slope.constant.values.begin(), slope.constant.values.end());
    }
    y.bias_pending = false;
    y.activated = node.inputs[0];
    Set(node, RowValue(std::move(y)));
  }

  void VisitBatchNorm(const Node& node) {
    const Abstract& x = In(node, 0);
    if (x.kind != Abstract::Kind::kRow || x.row.layers.empty() || x.row.layers.back().activation != fb::Activation::Identity) {
      Refuse(node, "expected a BatchNormalization right after a Linear");
    }
    std::vector<const Tensor*> p;
    for (size_t i = 1; i < 5; ++i) {
      const Abstract& a = In(node, i);
      if (a.kind != Abstract::Kind::kConstant) Refuse(node, "its scale, bias, mean and variance must be constants");
      if (a.constant.values.size() != x.row.layers.back().out) {
        Refuse(node, "its scale, bias, mean and variance must hold one value per channel of the Linear before it");
      }
      p.push_back(&a.constant);
    }
    const double eps = options_.fault == InterpretationFault::kDropBatchNormEpsilon ? 0.0 : node.Float("epsilon", 1e-5);
    Row y = x.row;
    IrDense& d = y.layers.back();
    if (d.bias.empty()) d.bias.assign(d.out, 0.0f);
    for (uint32_t o = 0; o < d.out; ++o) {
      const double factor = p[0]->values[o] / std::sqrt(p[3]->values[o] + eps);
      for (uint32_t i = 0; i < d.in; ++i) d.weight[size_t{o} * d.in + i] = static_cast<float>(d.weight[size_t{o} * d.in + i] * factor);
      d.bias[o] = static_cast<float>((d.bias[o] - p[2]->values[o]) * factor + p[1]->values[o]);
    }
    y.bias_pending = false;
    Set(node, RowValue(std::move(y)));
  }

  void VisitSoftmax(const Node& node) {
    const Abstract& a = In(node, 0);
    const int64_t axis = node.Int("axis", graph_.opset < 13 ? 1 : -1);
    const bool over_experts = axis == 1 || axis == -1;
    if (a.kind != Abstract::Kind::kRow || a.row.layers.empty() || a.row.layers.back().activation != fb::Activation::Identity) {
      Refuse(node, "expected a gate: Softmax of a Linear's logits");
    }
    if (!over_experts && options_.fault != InterpretationFault::kWrongSoftmaxAxis) {
      Refuse(node, "a gate's Softmax must run over the experts (axis 1 or -1 of [batch, experts]), found axis " +
                       std::to_string(axis));
    }
    GateInfo gate;
    gate.logits = a.row;
    gates_.push_back(gate);
    Abstract g;
    g.kind = Abstract::Kind::kGate;
    g.gate = gates_.size() - 1;
    Set(node, g);
  }

  std::vector<int64_t> AxesOf(const Node& node, size_t input) {
    if (graph_.opset < 13 || node.op == "ReduceMean") return node.Ints("axes");
    if (input >= node.inputs.size() || node.inputs[input].empty()) return {};
    const Abstract& a = In(node, input);
    if (a.kind != Abstract::Kind::kConstant) Refuse(node, "its axes are not a constant");
    std::vector<int64_t> axes;
    for (double v : a.constant.values) axes.push_back(static_cast<int64_t>(v));
    return axes;
  }

  void VisitUnsqueeze(const Node& node) {
    const Abstract& a = In(node, 0);
    const std::vector<int64_t> axes = AxesOf(node, 1);
    if (axes.size() != 1) Refuse(node, "expected one axis");
    Abstract u;
    if (a.kind == Abstract::Kind::kRow && axes[0] == 1) {
      u.kind = Abstract::Kind::kRowColumn;
      u.row = a.row;
    } else if (a.kind == Abstract::Kind::kGate && (axes[0] == 2 || axes[0] == -1)) {
      u.kind = Abstract::Kind::kGateColumn;
      u.gate = a.gate;
    } else if (a.kind == Abstract::Kind::kGate && (axes[0] == 1 || axes[0] == -2)) {
      u.kind = Abstract::Kind::kGateRow;
      u.gate = a.gate;
    } else if (a.kind == Abstract::Kind::kRow && (axes[0] == 2 || axes[0] == -1)) {
      Refuse(node, "expected a gate's weights here, which must be a Softmax over the experts: a gate without "
                   "softmax is outside the PLE family");
    } else {
      Refuse(node, "expected experts' outputs unsqueezed at axis 1 to be stacked, or a gate's weights unsqueezed");
    }
    Set(node, u);
  }

  // Task outputs [B, 1] concatenated into one graph output [B, tasks] (torch-rechub's).
  bool VisitTaskConcat(const Node& node) {
    Abstract outputs;
    outputs.kind = Abstract::Kind::kTaskOutputs;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const Abstract& a = In(node, i);
      const bool task = a.kind == Abstract::Kind::kTaskSigmoid ||
                        (a.kind == Abstract::Kind::kRow && a.row.anchor != 0 && !a.row.layers.empty() && a.row.layers.back().out == 1);
      if (!task) return false;
      outputs.members.push_back(a.row);
      outputs.binary.push_back(a.kind == Abstract::Kind::kTaskSigmoid);
    }
    const int64_t axis = node.Int("axis", 0);
    if (axis != 1 && axis != -1) Refuse(node, "expected task outputs [B, 1] concatenated along axis 1");
    Set(node, outputs);
    return true;
  }

  void VisitConcat(const Node& node) {
    if (VisitTaskConcat(node)) return;
    const int64_t axis = node.Int("axis", 0);
    Abstract stack;
    stack.kind = Abstract::Kind::kStack;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const Abstract& a = In(node, i);
      if (a.kind != Abstract::Kind::kRowColumn || axis != 1) {
        Refuse(node, "expected experts' outputs stacked along axis 1 (Unsqueeze at 1, then Concat on axis 1)");
      }
      stack.members.push_back(a.row);
    }
    if (options_.fault == InterpretationFault::kSwapExperts && stack.members.size() >= 2) {
      std::swap(stack.members[0], stack.members[1]);
    }
    Set(node, stack);
  }

  // SiLU as exporters write it: x * Sigmoid(x), x a Linear's output.
  bool VisitSilu(const Node& node, const Abstract& a, const Abstract& b) {
    if (a.kind != Abstract::Kind::kRow || b.kind != Abstract::Kind::kRow) return false;
    const bool b_is_sigmoid = !b.row.layers.empty() && b.row.layers.back().activation == fb::Activation::Sigmoid &&
                              b.row.activated == node.inputs[0];
    const bool a_is_sigmoid = !a.row.layers.empty() && a.row.layers.back().activation == fb::Activation::Sigmoid &&
                              a.row.activated == node.inputs[1];
    if (!a_is_sigmoid && !b_is_sigmoid) return false;
    Row y = a_is_sigmoid ? b.row : a.row;  // the pre-activation row
    if (y.layers.empty() || y.layers.back().activation != fb::Activation::Identity) return false;
    y.layers.back().activation = fb::Activation::Silu;
    y.bias_pending = false;
    y.activated = a_is_sigmoid ? node.inputs[1] : node.inputs[0];
    Set(node, RowValue(std::move(y)));
    return true;
  }

  void VisitMul(const Node& node) {
    const Abstract& a = In(node, 0);
    const Abstract& b = In(node, 1);
    if (VisitSilu(node, a, b)) return;
    const Abstract& gate = a.kind == Abstract::Kind::kGateColumn ? a : b;
    const Abstract& stack = a.kind == Abstract::Kind::kGateColumn ? b : a;
    if (gate.kind != Abstract::Kind::kGateColumn || stack.kind != Abstract::Kind::kStack) {
      Refuse(node, "expected a gate's weights [B, E, 1] times stacked experts [B, E, D], or SiLU (x * Sigmoid(x))");
    }
    Abstract w;
    w.kind = Abstract::Kind::kWeighted;
    w.gate = gate.gate;
    w.members = stack.members;
    Set(node, w);
  }

  void VisitReduceSum(const Node& node) {
    const Abstract& a = In(node, 0);
    const std::vector<int64_t> axes = AxesOf(node, 1);
    if (a.kind != Abstract::Kind::kWeighted || axes.size() != 1 || (axes[0] != 1 && axes[0] != -2)) {
      Refuse(node, "expected the sum over the experts (axis 1) of a gate's weighted experts");
    }
    Set(node, Mixed(node, a.gate, a.members, node.Int("keepdims", 1) ? Abstract::Kind::kMixedKeep : Abstract::Kind::kRow));
  }

  // A gate's output [B, 1, D] squeezed at axis 1, or at every axis of size 1 (no axes: D > 1).
  void VisitSqueeze(const Node& node) {
    const Abstract& a = In(node, 0);
    const std::vector<int64_t> axes = AxesOf(node, 1);
    const bool axis_ok = axes.size() == 1 ? axes[0] == 1 || axes[0] == -2
                                          : axes.empty() && a.kind == Abstract::Kind::kMixedKeep && AnchorWidth(a.row.anchor) > 1;
    if (a.kind != Abstract::Kind::kMixedKeep || !axis_ok) {
      Refuse(node, "expected a gate's output [B, 1, D] squeezed at axis 1");
    }
    Abstract r = a;
    r.kind = Abstract::Kind::kRow;
    Set(node, r);
  }

  void VisitEinsum(const Node& node) {
    if (graph_.opset < 12) Refuse(node, "Einsum exists from opset 12; this graph declares opset " + std::to_string(graph_.opset));
    const auto it = node.attributes.find("equation");
    std::string eq = it == node.attributes.end() ? "" : it->second.s;
    eq.erase(std::remove(eq.begin(), eq.end(), ' '), eq.end());
    const Abstract& a = In(node, 0);
    const Abstract& b = node.inputs.size() == 2 ? In(node, 1) : a;
    // "be,bed->bd" with any letters: batch and expert shared, the expert letter summed away.
    const bool shape_ok = eq.size() == 10 && eq[2] == ',' && eq.substr(6, 2) == "->" && eq[0] == eq[3] && eq[1] == eq[4] &&
                          eq[8] == eq[0] && eq[9] == eq[5] && eq[0] != eq[1] && eq[5] != eq[0] && eq[5] != eq[1];
    if (node.inputs.size() != 2 || !shape_ok || a.kind != Abstract::Kind::kGate || b.kind != Abstract::Kind::kStack) {
      Refuse(node, "expected a gate's weighted sum, Einsum 'be,bed->bd' of softmax weights and stacked experts; found '" + eq + "'");
    }
    Set(node, Mixed(node, a.gate, b.members, Abstract::Kind::kRow));
  }

  // A gate's output: a new anchor one level above its inputs.
  Abstract Mixed(const Node& node, size_t gate, const std::vector<Row>& members, Abstract::Kind kind) {
    GateInfo& g = gates_[gate];
    if (!g.members.empty()) Refuse(node, "a gate's weights are used for a second weighted sum");
    const int below = gates_[g.logits.anchor].level;
    if (g.logits.layers.back().out != members.size()) {
      Refuse(node, "a gate of " + std::to_string(g.logits.layers.back().out) + " logits weighs " +
                       std::to_string(members.size()) + " experts");
    }
    for (const Row& m : members) {
      if (m.layers.empty() || gates_[m.anchor].level != below) {
        Refuse(node, "an expert of this gate does not read the gate's level input (expert '" + m.origin + "')");
      }
      if (m.layers.back().out != members.front().layers.back().out) Refuse(node, "experts of different widths");
    }
    g.members = members;
    g.level = below + 1;
    Abstract r;
    r.kind = kind;
    r.row.anchor = gate;
    return r;
  }

  void Visit(const Node& node) {
    if (AllConstant(node)) return Fold(node);
    const std::string& op = node.op;
    if (op == "Gemm") return VisitGemm(node);
    if (op == "MatMul") return VisitMatMul(node);
    if (op == "Add") return VisitAdd(node);
    if (op == "Relu") return VisitActivation(node, fb::Activation::Relu);
    if (op == "LeakyRelu") return VisitActivation(node, fb::Activation::LeakyRelu);
    if (op == "PRelu") return VisitActivation(node, fb::Activation::PRelu);
    if (op == "Sigmoid") return VisitActivation(node, fb::Activation::Sigmoid);
    if (op == "Tanh") return VisitActivation(node, fb::Activation::Tanh);
    if (op == "BatchNormalization") return VisitBatchNorm(node);
    if (op == "Softmax") return VisitSoftmax(node);
    if (op == "Unsqueeze") return VisitUnsqueeze(node);
    if (op == "Concat") return VisitConcat(node);
    if (op == "Mul") return VisitMul(node);
    if (op == "ReduceSum") return VisitReduceSum(node);
    if (op == "Squeeze") return VisitSqueeze(node);
    if (op == "Einsum") return VisitEinsum(node);
    if (op == "Identity" || op == "Dropout") {
      values_[node.outputs.at(0)] = In(node, 0);
      return;
    }
    Refuse(node, "op " + op + " on the model's values is outside the PLE family this importer recognizes");
  }

  RecognizedModel Build();
  void AddTask(const Row& row, bool binary, const std::string& name, IrModel* ir, std::vector<size_t>* tower_anchor) const;
  void AssignStreams(int levels, const std::vector<size_t>& tower_anchor);

  const Graph& graph_;
  const RecognizeOptions& options_;
  FeatureReader features_;
  std::map<std::string, Abstract> values_;
  std::vector<GateInfo> gates_;                 // index 0: the feature row's anchor
  uint32_t input_width_ = 0;
};

void Recognizer::AddTask(const Row& row, bool binary, const std::string& name, IrModel* ir,
                         std::vector<size_t>* tower_anchor) const {
  TaskConfig task;
  task.name = ir->tasks.size() < options_.task_names.size() ? options_.task_names[ir->tasks.size()] : name;
  task.type = binary ? fb::TaskType::Binary : fb::TaskType::Regression;
  ir->tasks.push_back(task);
  IrTower tower;
  tower.mlp.layers = row.layers;
  ir->towers.push_back(tower);
  tower_anchor->push_back(row.anchor);
}

RecognizedModel Recognizer::Build() {
  RecognizedModel result;
  IrModel& ir = result.ir;
  ir.name = "onnx";
  ir.source_framework = "onnx (" + graph_.producer + ")";
  features_.Build(&ir, &result.bindings);
  std::vector<size_t> tower_anchor;
  for (const ValueInfo& output : graph_.outputs) {
    const Abstract* a = Find(output.name);
    if (a != nullptr && a->kind == Abstract::Kind::kTaskOutputs) {
      for (size_t c = 0; c < a->members.size(); ++c) {
        AddTask(a->members[c], a->binary[c], output.name + "[" + std::to_string(c) + "]", &ir, &tower_anchor);
        result.outputs.push_back(TaskOutput{output.name, c, a->members.size()});
      }
      continue;
    }
    const bool binary = a != nullptr && a->kind == Abstract::Kind::kTaskSigmoid;
    if (a == nullptr || (!binary && a->kind != Abstract::Kind::kRow) || a->row.layers.empty() ||
        a->row.layers.back().out != 1 || a->row.anchor == 0) {
      throw ConvertError("graph output '" + output.name + "' is not a task output: a tower on a gate's output "
                         "ending in a one-output Linear (with a Sigmoid for a binary task), or such outputs "
                         "concatenated");
    }
    AddTask(a->row, binary, output.name, &ir, &tower_anchor);
    result.outputs.push_back(TaskOutput{output.name, 0, 1});
  }
  if (!options_.task_names.empty() && options_.task_names.size() != ir.tasks.size()) {
    throw ConvertError("the sidecar names " + std::to_string(options_.task_names.size()) + " tasks, the graph has " +
                       std::to_string(ir.tasks.size()));
  }
  AssembleLevels(gates_, tower_anchor, &ir);
  return result;
}

}  // namespace

RecognizedModel RecognizeOnnx(const Graph& graph, const RecognizeOptions& options) {
  return Recognizer(graph, options).Run();
}

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple
