// An ONNX file (the converter's ONNX import, docs/architecture.md "Importing ONNX"): any bytes.
// ParseOnnxGraph either reads a graph within its caps or throws ConvertError; external data is
// looked up in a directory that does not exist. A graph read is then recognized (the model, its
// feature layer, the probes of its masks: onnx_recognize.h), which either builds a model or
// throws ConvertError. Seeds: the ONNX corpus, so mutations stay close to real exports.
#include <cstdint>

#include "convert_error.h"
#include "onnx_import/onnx_graph.h"
#include "onnx_import/onnx_recognize.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace ple::convert::onnx_import;
  try {
    const Graph graph = ParseOnnxGraph(bytes, size, "/nonexistent-ple-fuzz-directory");
    for (const auto& node : graph.nodes) (void)node.Describe();
    RecognizeOptions options;
    for (const ValueInfo& input : graph.inputs) options.features.max_length[input.name] = 8;  // symbolic lengths
    (void)RecognizeOnnx(graph, options);
  } catch (const ple::convert::ConvertError&) {
  }
  return 0;
}
