// Graph inputs, as ONNX Runtime takes them, fed to the converted model (docs/architecture.md,
// "Importing ONNX"): each feature's elements cut from its graph input (FeatureBinding), ids as
// int64, rows with equal request-scope features one after another form one request. The import's
// self-check and the tests run the converted model this way; RandomGraphInputs makes the
// self-check's inputs.
#ifndef PLE_CONVERTER_ONNX_IMPORT_ONNX_FEED_H_
#define PLE_CONVERTER_ONNX_IMPORT_ONNX_FEED_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "onnx_import/onnx_graph.h"
#include "onnx_import/onnx_recognize.h"
#include "ple/ple.hpp"

namespace ple {
namespace convert {
namespace onnx_import {

// The model's outputs [rows, tasks] for `inputs` (one tensor per graph input, the batch first).
// `recognized.ir.features` give names, kinds and scopes. Throws ConvertError for an input
// missing or too small, ple::Error for values the runtime refuses (an id out of vocabulary).
std::vector<float> RunOnGraphInputs(ple::Model& model, const RecognizedModel& recognized,
                                    const std::map<std::string, Tensor>& inputs, ple_kernel_path path);

// Random graph inputs for `rows` candidates in `requests` requests: dense values standard
// normal (float32 values), ids uniform in their table, sequences of random length padded with
// their padding id (at least one id when a mean would divide by zero), request-scope features
// equal within a request, columns no feature reads zero.
std::map<std::string, Tensor> RandomGraphInputs(const Graph& graph, const RecognizedModel& recognized,
                                                const FeatureHints& hints, size_t rows, size_t requests, uint32_t seed);

// The task outputs [rows, tasks] in graph outputs (as Evaluate or ONNX Runtime return them).
std::vector<double> TaskValues(const RecognizedModel& recognized, const std::map<std::string, Tensor>& outputs,
                               size_t rows);

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_ONNX_IMPORT_ONNX_FEED_H_
