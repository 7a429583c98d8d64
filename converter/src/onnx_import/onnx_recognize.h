// Recognizes the PLE family (MMoE, CGC and shared-bottom as special cases) in an ONNX graph,
// from its data flow, not its names, and builds the converter's IrModel (docs/architecture.md,
// "Importing ONNX"). Today: dense graph inputs, Linear as Gemm or MatMul + Add, ReLU, LeakyReLU,
// PReLU, Sigmoid, Tanh, SiLU (x * Sigmoid(x)), BatchNormalization folded, Dropout and Identity, softmax gates whose
// weighted sum is written as stack + Mul + ReduceSum, bmm (MatMul + Squeeze) or Einsum, towers
// ending in a one-output Linear, with a Sigmoid for binary tasks. Anything else that touches the
// model's values is refused with the node named.
#ifndef PLE_CONVERTER_ONNX_IMPORT_ONNX_RECOGNIZE_H_
#define PLE_CONVERTER_ONNX_IMPORT_ONNX_RECOGNIZE_H_

#include <string>
#include <vector>

#include "model_ir.h"
#include "onnx_import/onnx_graph.h"

namespace ple {
namespace convert {
namespace onnx_import {

// Interpretation bugs the self-check must catch, injected by tests only (never set otherwise).
enum class InterpretationFault { kNone, kIgnoreTransB, kDropBatchNormEpsilon, kSwapExperts, kWrongSoftmaxAxis };

struct RecognizeOptions {
  // Task names in graph output order; empty: the outputs' names.
  std::vector<std::string> task_names;
  InterpretationFault fault = InterpretationFault::kNone;
};

// The model the graph computes. Throws ConvertError naming the node that is outside the family
// (its op, and what was expected there).
IrModel RecognizeOnnx(const Graph& graph, const RecognizeOptions& options = {});

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_ONNX_IMPORT_ONNX_RECOGNIZE_H_
