// ple-convert's model config (docs/config-format.md): any text. Parsing either gives a config
// or throws ConvertError (nlohmann's parse errors included); nothing else may escape.
#include <cstdint>
#include <string>

#include "model_config.h"
#include "convert_error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  try {
    ple::convert::ParseModelConfig(std::string(reinterpret_cast<const char*>(bytes), size));
  } catch (const ple::convert::ConvertError&) {
  }
  return 0;
}
