// The converter's entry point: config + weights in, model file image out.
#ifndef PLE_CONVERTER_CONVERTER_H_
#define PLE_CONVERTER_CONVERTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "model_ir.h"
#include "native_importer.h"

namespace ple {
namespace convert {

struct ConvertedModel {
  IrModel ir;                  // what was converted (for summaries)
  std::vector<uint8_t> bytes;  // the model file image
};

// Reads, validates and converts; throws ConvertError with a message naming the problem.
ConvertedModel ConvertNative(const std::string& config_path, const std::string& weights_path,
                             const ImportOptions& options = {});

// "ple-convert 0.1.0": stored as the file's producer.
std::string ConverterProducer();

}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_CONVERTER_H_
