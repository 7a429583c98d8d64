// A float64 interpreter of a raw ONNX graph, node by node (docs/architecture.md, "Importing
// ONNX"): the converter's self-check after import. It is never a test's oracle (the tests
// compare with ONNX Runtime's committed outputs). Integer tensors (shapes, indices, masks) are
// computed exactly; float tensors in float64.
#ifndef PLE_CONVERTER_ONNX_IMPORT_ONNX_EVAL_H_
#define PLE_CONVERTER_ONNX_IMPORT_ONNX_EVAL_H_

#include <map>
#include <string>
#include <vector>

#include "onnx_import/onnx_graph.h"

namespace ple {
namespace convert {
namespace onnx_import {

// The ops the evaluator runs, sorted (docs/importing.md lists them).
const std::vector<std::string>& EvaluatedOps();

// Runs the graph on `inputs` (one tensor per graph input, by name) and returns every graph
// output by name. Throws ConvertError naming the node: an op it does not run, a missing input,
// shapes that do not fit, a cap exceeded (no intermediate tensor above kMaxEvaluatedElements, onnx_eval_ops.h).
std::map<std::string, Tensor> Evaluate(const Graph& graph, const std::map<std::string, Tensor>& inputs);

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_ONNX_IMPORT_ONNX_EVAL_H_
