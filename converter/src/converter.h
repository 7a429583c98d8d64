// The converter's entry point: config + weights in, model file image out.
#ifndef PLE_CONVERTER_CONVERTER_H_
#define PLE_CONVERTER_CONVERTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "model_ir.h"
#include "model_writer.h"
#include "native_importer.h"
#include "quantize.h"

namespace ple {
namespace convert {

struct ConvertedModel {
  IrModel ir;                  // what was converted (for summaries)
  std::vector<uint8_t> bytes;  // the model file image
  std::vector<std::string> notes;  // what the import checked, one line each (the ONNX self-check)
};

// Where the config and weights come from: the native format, or a framework's own
// (docs/importing.md).
enum class Source { kNative, kTorchRechub, kDeepCtrTorch, kOnnx };

// "native", "torch-rechub", "deepctr-torch", "onnx"; throws ConvertError for anything else.
Source ParseSource(const std::string& name);

// Reads, validates and converts; throws ConvertError with a message naming the problem. With
// kOnnx, `weights_path` is the ONNX file and `config_path` its optional sidecar (empty: none).
// `options.naming` is filled by the framework importers (its transpose_linear is kept);
// `onnx_check_data` (kOnnx only): the user's graph inputs (and outputs), checked too. `write`:
// which readers must load the file (model_writer.h).
// `precision` says how each layer class is stored (float32 everywhere by default).
ConvertedModel Convert(Source source, const std::string& config_path, const std::string& weights_path,
                       ImportOptions options = {}, const PrecisionPlan& precision = {},
                       const std::string& onnx_check_data = "", const WriteOptions& write = {});

inline ConvertedModel ConvertNative(const std::string& config_path, const std::string& weights_path,
                                    const ImportOptions& options = {}, const PrecisionPlan& precision = {}) {
  return Convert(Source::kNative, config_path, weights_path, options, precision);
}

// "ple-convert 0.1.0": stored as the file's producer.
std::string ConverterProducer();

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_CONVERTER_H_
