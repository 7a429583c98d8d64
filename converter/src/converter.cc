#include "converter.h"

#include <nlohmann/json.hpp>

#if defined(PLE_HAVE_ONNX)
#include "onnx_import/onnx_importer.h"
#endif

#include "convert_error.h"
#include "framework_importers.h"
#include "json_reader.h"
#include "model_config.h"
#include "model_writer.h"
#include "safetensors.h"

namespace ple {
namespace convert {

std::string ConverterProducer() { return std::string("ple-convert ") + PLE_VERSION; }

Source ParseSource(const std::string& name) {
  if (name == "native") return Source::kNative;
  if (name == "torch-rechub") return Source::kTorchRechub;
  if (name == "deepctr-torch") return Source::kDeepCtrTorch;
  if (name == "onnx") return Source::kOnnx;
  throw ConvertError("unknown model source '" + name + "' (native, torch-rechub, deepctr-torch or onnx)");
}

ConvertedModel Convert(Source source, const std::string& config_path, const std::string& weights_path,
                       ImportOptions options, const PrecisionPlan& precision, const std::string& onnx_check_data,
                       const WriteOptions& write) {
  if (source == Source::kOnnx) {
#if defined(PLE_HAVE_ONNX)
    ConvertedModel result;
    onnx_import::OnnxImportOptions onnx_options;
    onnx_options.check_data_path = onnx_check_data;
    onnx_import::RecognizedModel recognized = onnx_import::ImportOnnx(weights_path, config_path, onnx_options);
    result.ir = std::move(recognized.ir);
    result.notes = std::move(recognized.notes);
    AssignPrecisions(precision, &result.ir);
    result.bytes = SerializeModel(result.ir, ConverterProducer(), write);
    return result;
#else
    (void)onnx_check_data;
    throw ConvertError("this ple-convert was built without the ONNX import (configure with -DPLE_ONNX=ON and "
                       "Debian's libonnx-dev and libprotobuf-dev)");
#endif
  }
  ModelConfig config;
  if (source == Source::kNative) {
    config = ReadModelConfig(config_path);
  } else {
    const nlohmann::json description = ReadJsonFile(config_path, "config");
    FrameworkModel framework =
        source == Source::kTorchRechub ? ImportTorchRechub(description) : ImportDeepCtrTorch(description);
    config = std::move(framework.config);
    const bool transpose = options.naming.transpose_linear;
    options.naming = std::move(framework.naming);
    options.naming.transpose_linear = transpose;
  }
  const SafeTensorsFile weights = SafeTensorsFile::Read(weights_path);
  ConvertedModel result;
  result.ir = ImportNative(config, weights, options);
  AssignPrecisions(precision, &result.ir);
  result.bytes = SerializeModel(result.ir, ConverterProducer(), write);
  return result;
}

}  // namespace convert
}  // namespace ple
