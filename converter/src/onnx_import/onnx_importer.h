// `ple-convert --from onnx`: an ONNX file to the converter's IrModel, then the self-check
// (docs/architecture.md, "Importing ONNX"): the raw graph evaluated node by node in float64
// against the converted float32 model on the runtime's reference path; beyond tolerance the
// import is refused.
#ifndef PLE_CONVERTER_ONNX_IMPORT_ONNX_IMPORTER_H_
#define PLE_CONVERTER_ONNX_IMPORT_ONNX_IMPORTER_H_

#include <cstdint>
#include <string>

#include "model_ir.h"
#include "onnx_import/onnx_graph.h"
#include "onnx_import/onnx_recognize.h"

namespace ple {
namespace convert {
namespace onnx_import {

struct OnnxImportOptions {
  RecognizeOptions recognize;
  size_t check_rows = 32;   // random candidates of the self-check (standard normal inputs)
  uint32_t seed = 1;
  double rtol = 1e-4, atol = 1e-5;  // float32 against float64, per output
};

// Reads `onnx_path` and the optional sidecar JSON (`sidecar_path` empty: none), recognizes the
// model and self-checks it. The sidecar holds what the graph cannot say: {"name": "...",
// "tasks": ["click", ...]} (task names in graph output order). Throws ConvertError.
IrModel ImportOnnx(const std::string& onnx_path, const std::string& sidecar_path, OnnxImportOptions options = {});

// The self-check alone: throws ConvertError starting "self-check:" naming the task, the row
// and both values when the converted model and the graph disagree beyond tolerance.
void SelfCheck(const Graph& graph, const IrModel& ir, const OnnxImportOptions& options);

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_ONNX_IMPORT_ONNX_IMPORTER_H_
