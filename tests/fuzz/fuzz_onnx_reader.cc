// An ONNX file (the converter's ONNX import, docs/architecture.md "Importing ONNX"): any bytes.
// ParseOnnxGraph either reads a graph within its caps or throws ConvertError; external data is
// looked up in a directory that does not exist.
#include <cstdint>

#include "convert_error.h"
#include "onnx_import/onnx_graph.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  try {
    const auto graph = ple::convert::onnx_import::ParseOnnxGraph(bytes, size, "/nonexistent-ple-fuzz-directory");
    for (const auto& node : graph.nodes) (void)node.Describe();
  } catch (const ple::convert::ConvertError&) {
  }
  return 0;
}
