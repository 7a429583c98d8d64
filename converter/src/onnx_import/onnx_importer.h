// `ple-convert --from onnx`: an ONNX file and its sidecar to the converter's IrModel, then the
// self-check (docs/architecture.md, "Importing ONNX"): the raw graph evaluated node by node in
// float64 against the converted float32 model on the runtime's reference path, on random inputs
// and on the user's inputs when given (and against the outputs they give); beyond tolerance the
// import is refused.
#ifndef PLE_CONVERTER_ONNX_IMPORT_ONNX_IMPORTER_H_
#define PLE_CONVERTER_ONNX_IMPORT_ONNX_IMPORTER_H_

#include <cstdint>
#include <map>
#include <string>

#include "model_ir.h"
#include "onnx_import/onnx_graph.h"
#include "onnx_import/onnx_recognize.h"

namespace ple {
namespace convert {
namespace onnx_import {

struct OnnxImportOptions {
  RecognizeOptions recognize;
  size_t check_rows = 32;      // random candidates of the self-check
  size_t check_requests = 4;   // ... in this many requests
  uint32_t seed = 1;
  double rtol = 1e-4, atol = 1e-5;  // float32 against float64, per output
  // The user's check data (docs/importing.md): {"inputs": {...}, "outputs": {...}} as ONNX Runtime
  // takes and gives them (outputs optional), checked too; empty: none.
  std::string check_data_path;
};

// Reads `onnx_path` and the optional sidecar JSON (`sidecar_path` empty: none; its keys in
// docs/importing.md, "ONNX"), recognizes the model and self-checks it. The features come
// request-scope first (ReorderRequestFirst). Throws ConvertError.
RecognizedModel ImportOnnx(const std::string& onnx_path, const std::string& sidecar_path, OnnxImportOptions options = {});

// The self-check alone, on `inputs` (graph inputs by name, the batch first): throws ConvertError
// starting "self-check:" naming the task, the row and both values when the converted model and
// the graph disagree beyond tolerance. `what` says whose inputs they are. Returns the largest
// absolute difference seen.
double SelfCheck(const Graph& graph, const RecognizedModel& model, const std::map<std::string, Tensor>& inputs,
               const OnnxImportOptions& options, const std::string& what);

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_ONNX_IMPORT_ONNX_IMPORTER_H_
