// Recognizes the PLE family (MMoE, CGC and shared-bottom as special cases) in an ONNX graph,
// from its data flow, not its names, and builds the converter's IrModel (docs/architecture.md,
// "Importing ONNX"). Today: dense graph inputs, Linear as Gemm or MatMul + Add, ReLU, LeakyReLU,
// PReLU, Sigmoid, Tanh, SiLU (x * Sigmoid(x)), BatchNormalization folded, Dropout and Identity, softmax gates whose
// weighted sum is written as stack + Mul + ReduceSum, bmm (MatMul + Squeeze) or Einsum, towers
// ending in a one-output Linear, with a Sigmoid for binary tasks. Anything else that touches the
// model's values is refused with the node named. The feature layer before the first Linear
// layers is read by onnx_features.h.
#ifndef PLE_CONVERTER_ONNX_IMPORT_ONNX_RECOGNIZE_H_
#define PLE_CONVERTER_ONNX_IMPORT_ONNX_RECOGNIZE_H_

#include <string>
#include <vector>

#include "model_ir.h"
#include "onnx_import/onnx_features.h"
#include "onnx_import/onnx_graph.h"

namespace ple {
namespace convert {
namespace onnx_import {

// Interpretation bugs the self-check must catch, injected by tests only (never set otherwise).
enum class InterpretationFault { kNone, kIgnoreTransB, kDropBatchNormEpsilon, kSwapExperts, kWrongSoftmaxAxis };

struct RecognizeOptions {
  // Task names in graph output order (a concatenated output: one per column); empty: the
  // outputs' names.
  std::vector<std::string> task_names;
  FeatureHints features;
  InterpretationFault fault = InterpretationFault::kNone;
};

// Where a task's output is: column `column` of graph output `output` ([B, columns], or [B]
// when columns is 0).
struct TaskOutput {
  std::string output;
  size_t column = 0, columns = 1;
};

// The model the graph computes, and how the graph's inputs and outputs map onto it.
struct RecognizedModel {
  IrModel ir;                             // features in the graph's row order (candidate scope)
  std::vector<FeatureBinding> bindings;   // one per feature
  std::vector<TaskOutput> outputs;        // one per task
  std::vector<std::string> notes;         // what the import checked (the self-check's summary)
};

// Throws ConvertError naming the node that is outside the family (its op, and what was
// expected there).
RecognizedModel RecognizeOnnx(const Graph& graph, const RecognizeOptions& options = {});

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_ONNX_IMPORT_ONNX_RECOGNIZE_H_
