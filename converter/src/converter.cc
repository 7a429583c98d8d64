#include "converter.h"

#include "model_config.h"
#include "model_writer.h"
#include "safetensors.h"

namespace ple {
namespace convert {

std::string ConverterProducer() { return std::string("ple-convert ") + PLE_VERSION; }

ConvertedModel ConvertNative(const std::string& config_path, const std::string& weights_path,
                             const ImportOptions& options) {
  const ModelConfig config = ReadModelConfig(config_path);
  const SafeTensorsFile weights = SafeTensorsFile::Read(weights_path);
  ConvertedModel result;
  result.ir = ImportNative(config, weights, options);
  result.bytes = SerializeModel(result.ir, ConverterProducer());
  return result;
}

}  // namespace convert
}  // namespace ple
